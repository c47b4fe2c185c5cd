// Package server is janus-console's command: its flags (Options), their
// Complete and Validate steps, the assembled Config (sign-in, the
// impersonating client factory, the pages and the security middleware)
// and Run, which serves HTTPS, or plain HTTP behind a TLS-terminating
// proxy.
package server
