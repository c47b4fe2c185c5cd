// Package server is the janus-apiserver command: its flags, how they are
// completed and validated, and how they become a running server. Logic about
// requests and clusters does not belong here.
package server
