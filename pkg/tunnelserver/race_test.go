//go:build race

package tunnelserver

// raceDetector is true under -race: remotedialer's own connection races
// with its deadline timer (what tunnelConn exists for), so the tests that
// show that bug on a bare connection leave it out there.
const raceDetector = true
