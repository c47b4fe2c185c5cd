//go:build !unix

package kubectljanus

import "os"

// notifyResize does nothing where there is no SIGWINCH: the remote
// terminal keeps the size it had when the session started.
func notifyResize(chan<- os.Signal) (stop func()) { return func() {} }
