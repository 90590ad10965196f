//go:build race

package e2e

// raceEnabled builds the streamd binary with -race too when the tests run
// with it.
const raceEnabled = true
