//go:build !race

package consumer

// raceEnabled is true when the tests run with -race, which makes
// allocation counts meaningless.
const raceEnabled = false
