//go:build unix

package kubectljanus

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize sends to c when the terminal window changes size, until
// the returned function is called.
func notifyResize(c chan<- os.Signal) (stop func()) {
	signal.Notify(c, syscall.SIGWINCH)
	return func() { signal.Stop(c) }
}
