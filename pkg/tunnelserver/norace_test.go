//go:build !race

package tunnelserver

const raceDetector = false
