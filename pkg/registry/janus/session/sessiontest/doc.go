// Package sessiontest gives tests a Session storage over a real datastore:
// embedded kine on SQLite in a temporary directory, the backend
// janus-apiserver runs on by default, through the generic registry as the
// server builds it. It is for tests only and must not be imported by the
// server.
package sessiontest
