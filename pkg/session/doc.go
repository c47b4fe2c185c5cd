// Package session is Janus's session engine: it carries every exec and log
// stream between the user (through the aggregator) and a cluster's agent,
// over a connection of its own that the agent dials back for the stream.
// For exec it relays the websocket frame by frame without re-framing, so it
// knows each session's bytes, its idle time and whether the command's own
// exit status reached the user; it cuts a session at expiry, when idle, or
// when the far side goes away, and then tells the user why with a failure
// status, never a silent exit 0. It enforces the concurrent-session limits.
// It records every exec session (pkg/recording) from the frames as they
// pass: what the user receives on stdout and stderr, Janus's own notices,
// resizes, and input only when asked; a session it cannot record is
// refused or cut unless --recording-failure=continue.
// It decides nothing about who may open a stream: the registry's gate does,
// and learns of sessions through the Observer.
package session
