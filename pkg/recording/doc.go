// Package recording writes, reads and verifies Janus's session recordings:
// asciicast v2 documents ("o" output, "r" resizes, "m" Janus's own notices,
// "i" input only when asked) written while the session runs, as a header
// and a run of chunks, each a separate object in a Store (a directory or an
// S3-compatible bucket), so that a crash loses at most the last chunk
// interval. The writer returns the SHA-256 of the whole document (the
// header and the chunks joined, what Read returns), so anyone can check a
// recording with standard tools without knowing where its chunks were cut,
// and Verify detects any altered, dropped or reordered byte. Finish seals a
// recording whose writer died. Output that is not UTF-8 is kept losslessly
// (see encodeData). The package knows nothing of sessions, websockets or
// who may read a recording: the session engine feeds it and the registry
// guards it.
package recording
