// Package consoleenv starts janus-console over a testenv testbed, the way
// test/console and janus-playground need it: a real in-process OpenID
// provider (pkg/console/testprovider) that knows the demo users with their
// demo passwords, and the console itself (pkg/console/server) in-process,
// acting through a token of artifacts/console's ServiceAccount, whose only
// right is to impersonate the person signed in.
//
// Like testenv it is test and playground infrastructure: cmd/janus-console
// and the other shipping binaries must never import it; it must not listen
// anywhere but loopback, and must not write a password, token or cookie key
// to a log.
package consoleenv
