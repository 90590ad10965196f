package sink

// Reason exposes reason to the external tests.
var Reason = reason
