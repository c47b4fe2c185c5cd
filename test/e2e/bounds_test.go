package e2e

import "time"

// How late Janus may act on a decision or an expiry, end to end: from the
// decision's response (or from expiresAt) until the client sees the
// session end, or the target's API no longer lists the grant. The README
// says "at once"; these are the bounds that hold that to account.
//
// Measured on the 2-core test machine (2026-12-01, go test -count=3 of the
// five tests that use these bounds and two short ones, in parallel with
// each other, not with the whole suite): session cut after a revocation or withdrawal
// 0-7 ms; session cut after expiresAt 3-12 ms; grant gone from the target
// after expiresAt 22-76 ms (20 ms polls); Expired after an extended
// expiresAt 20-31 ms. The bounds are about thirteen times the worst of
// those, leaving room for the whole suite's load on two cores, while a
// regression to polling or to a late timer (seconds) still fails. Neither
// is the deadline of any helper, so a cut is never mistaken for a test's
// own timeout.
const (
	// cutBound: revoke or withdraw → the client's session has ended.
	cutBound = time.Second
	// expiryBound: expiresAt → Expired, the session ended, the grant gone.
	expiryBound = time.Second
)
