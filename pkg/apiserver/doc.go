// Package apiserver assembles the Janus aggregated API server from a
// completed configuration: the scheme, the janus.infroware.io API group and
// its storage, the hooks that start the lifecycle controller, and the
// replica's metrics read from its caches (requests by phase, the build).
// Flags and process wiring live in pkg/cmd/server.
package apiserver
