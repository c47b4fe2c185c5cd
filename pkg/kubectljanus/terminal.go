package kubectljanus

import (
	"context"
	"io"
	"os"

	"github.com/moby/term"
	"k8s.io/client-go/tools/remotecommand"
)

// terminal is the local terminal an exec session with -t runs in.
type terminal struct {
	fd uintptr
}

// terminalOf returns the terminal behind in, or nil when in is not one.
func terminalOf(in io.Reader) *terminal {
	fd, ok := term.GetFdInfo(in)
	if !ok {
		return nil
	}
	return &terminal{fd: fd}
}

// makeRaw passes every keystroke (Ctrl-C included) to the remote command,
// and returns the function that gives the terminal back as it was.
func (t *terminal) makeRaw() (restore func(), err error) {
	state, err := term.MakeRaw(t.fd)
	if err != nil {
		return nil, err
	}
	return func() { _ = term.RestoreTerminal(t.fd, state) }, nil
}

// sizes reports the terminal's size now and after each resize, until ctx
// ends.
func (t *terminal) sizes(ctx context.Context) remotecommand.TerminalSizeQueue {
	q := &sizeQueue{ctx: ctx, sizes: make(chan remotecommand.TerminalSize, 1)}
	q.push(t.size())
	resized := make(chan os.Signal, 1)
	stop := notifyResize(resized)
	go func() {
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-resized:
				q.push(t.size())
			}
		}
	}()
	return q
}

func (t *terminal) size() *remotecommand.TerminalSize {
	ws, err := term.GetWinsize(t.fd)
	if err != nil || ws.Width == 0 || ws.Height == 0 {
		return nil
	}
	return &remotecommand.TerminalSize{Width: ws.Width, Height: ws.Height}
}

// sizeQueue holds the latest size not yet sent; older ones no longer matter.
type sizeQueue struct {
	ctx   context.Context
	sizes chan remotecommand.TerminalSize
}

func (q *sizeQueue) push(size *remotecommand.TerminalSize) {
	if size == nil {
		return
	}
	select {
	case <-q.sizes:
	default:
	}
	select {
	case q.sizes <- *size:
	default:
	}
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case size := <-q.sizes:
		return &size
	case <-q.ctx.Done():
		return nil
	}
}
