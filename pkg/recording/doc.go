// Package recording writes, reads and verifies Janus's session recordings:
// asciicast v2 documents ("o" output, "r" resizes, "m" Janus's own notices,
// "i" input only when asked) written while the session runs, as a header
// and a run of chunks, each a separate object in a Store (a directory or an
// S3-compatible bucket), so that a crash loses at most the last chunk
// interval. A sha256 chain over the header and the chunks, whose final
// digest the writer returns, makes any altered, dropped or reordered byte
// detectable by Verify. Output that is not UTF-8 is kept losslessly (see
// encodeData). The package knows nothing of sessions, websockets or who may
// read a recording: the session engine feeds it and the registry guards it.
package recording
