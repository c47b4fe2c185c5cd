// Package apiserver assembles the Janus aggregated API server from a
// completed configuration: the scheme, the janus.infroware.io API group and
// its storage. Flags and process wiring live in pkg/cmd/server.
package apiserver
