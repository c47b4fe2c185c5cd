// Package integration tests janus-apiserver in-process over real HTTPS on
// every storage backend: identity stamping, the lifecycle, every rejection,
// and racing decisions.
package integration
