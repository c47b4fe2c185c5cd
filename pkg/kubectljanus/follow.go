package kubectljanus

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// followClosedWait bounds how long follow waits, once the stream ended,
// for the Session to be closed: Janus closes it just after the stream.
const followClosedWait = 10 * time.Second

type followOptions struct {
	*Options
	name string
	// terminal tells whether out is a terminal; a test sets it.
	terminal   func(any) bool
	closedWait time.Duration
	// retryWait is the first pause before attaching again after a 503.
	retryWait time.Duration
}

func newFollowCommand(o *Options) *cobra.Command {
	f := &followOptions{Options: o, terminal: printers.IsTerminal, closedWait: followClosedWait, retryWait: 500 * time.Millisecond}
	return &cobra.Command{
		Use:   "follow SESSION",
		Short: "Watch an open session live, read-only",
		Long: `Show what an open session's terminal shows, as it happens: first its recent
output, then everything it prints, until the session ends; then why it
ended. Janus's notices are shown dimmed as [janus: ...]. Following is
read-only: nothing you type reaches the session. Ctrl+C stops following
and leaves the session running.`,
		Example:           `  kubectl janus follow alice-x7k2p-4f2a9`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSessionNames(o, v1alpha1.SessionOpen),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.name = args[0]
			return f.run(cmd.Context())
		},
	}
}

func (f *followOptions) run(ctx context.Context) error {
	c, err := f.clients()
	if err != nil {
		return err
	}
	se, err := c.sessions().Get(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if se.Status.Phase == v1alpha1.SessionClosed {
		return &hintedError{
			err:  fmt.Errorf("session %s is closed: %s", f.name, endedText(se)),
			hint: fmt.Sprintf("Replay it with 'kubectl janus play %s'.", f.name),
		}
	}
	stream, err := f.attach(ctx, c)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	defer stream.Close()
	s := &screen{out: f.Out, terminal: f.terminal(f.Out)}
	p := player{resized: resizeNotice(f.Out, f.ErrOut)}
	err = p.play(ctx, stream, s)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("following session %s: %w", f.name, err)
	}

	// The stream ends with the session; the Session says why.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, f.closedWait, true, func(ctx context.Context) (bool, error) {
		se, err = c.sessions().Get(ctx, f.name, metav1.GetOptions{})
		return err == nil && se.Status.Phase == v1alpha1.SessionClosed, err
	})
	switch {
	case ctx.Err() != nil:
		return nil
	case wait.Interrupted(err):
		return fmt.Errorf("the server ended following session %s, which is still open (a follower that falls behind is let go); follow it again to see it from now", f.name)
	case err != nil:
		return fmt.Errorf("reading why session %s ended: %w", f.name, err)
	}
	fmt.Fprintf(f.ErrOut, "session %s ended: %s\n", f.name, endedText(se))
	return nil
}

// attach opens the live stream, sessions/NAME/attach (kube-apiserver
// spares attach, unlike other subresources, its request timeout). Any
// replica serves it, through the replica relaying the session; a 503 says
// that one could not be reached (a peer link not up yet, the replica
// restarting), which a few tries may outlast.
func (f *followOptions) attach(ctx context.Context, c *clients) (io.ReadCloser, error) {
	var (
		stream io.ReadCloser
		last   error
	)
	backoff := wait.Backoff{Duration: f.retryWait, Factor: 2, Steps: 5}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		stream, last = c.sessionSubresource(f.name, "attach").Stream(ctx)
		if apierrors.IsServiceUnavailable(last) {
			return false, nil
		}
		return true, last
	})
	if wait.Interrupted(err) && last != nil {
		// The last 503 says which replica relays the session.
		err = last
	}
	return stream, err
}

// endedText is how a closed session ended, as people read it.
func endedText(se *v1alpha1.Session) string {
	reason := orNone(oneLine(se.Status.EndReason))
	if se.Status.EndedAt == nil {
		return reason
	}
	return fmt.Sprintf("%s (at %s)", reason, se.Status.EndedAt.UTC().Format(time.RFC3339))
}
