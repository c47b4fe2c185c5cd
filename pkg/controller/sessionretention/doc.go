// Package sessionretention deletes Sessions, and their recordings, once
// they have been closed for longer than --session-retention: at start and
// then every few minutes, recording first so that no recording is left
// that no Session points to. It deletes only Closed Sessions, and judges
// them by their own endedAt, never by their AccessRequest: a Session
// outlives its request. It must not touch Open Sessions or anything else.
package sessionretention
