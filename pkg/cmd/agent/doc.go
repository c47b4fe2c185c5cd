// Package agent is the janus-agent command: its flags, how they are
// completed and validated, and how they become a running agent
// (pkg/agent). Logic about grants and streams does not belong here.
package agent
