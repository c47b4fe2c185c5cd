package kubectljanus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	janusv1alpha1 "github.com/infroware/janus/pkg/generated/clientset/versioned/typed/janus/v1alpha1"
)

// defaultWaitTimeout bounds waiting when --timeout is not given; approvals
// are made by people, so it is minutes, not kubectl wait's 30s.
const defaultWaitTimeout = 5 * time.Minute

// followRequest watches one request until it reaches want or a final
// phase, writing a line to progress each time its phase or message
// changes. It returns the request as last seen. A timeout of 0 waits for
// as long as ctx lasts.
func followRequest(ctx context.Context, requests janusv1alpha1.AccessRequestInterface, name string,
	want v1alpha1.AccessRequestPhase, timeout time.Duration, progress io.Writer) (*v1alpha1.AccessRequest, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// A request that cannot be read fails now, with the server's answer,
	// rather than in the informer's retries until the timeout.
	if _, err := requests.Get(ctx, name, metav1.GetOptions{}); err != nil {
		return nil, err
	}
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return requests.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return requests.Watch(ctx, opts)
		},
	}
	var last *v1alpha1.AccessRequest
	var lastLine string
	exists := func(store cache.Store) (bool, error) {
		if len(store.ListKeys()) == 0 {
			return false, apierrors.NewNotFound(v1alpha1.Resource("accessrequests"), name)
		}
		return false, nil
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &v1alpha1.AccessRequest{}, exists, func(e watch.Event) (bool, error) {
		if e.Type == watch.Deleted {
			return false, fmt.Errorf("access request %s was deleted", name)
		}
		ar, ok := e.Object.(*v1alpha1.AccessRequest)
		if !ok {
			return false, nil
		}
		last = ar
		if line := phaseLine(ar); line != lastLine {
			lastLine = line
			fmt.Fprintln(progress, line)
		}
		return ar.Status.Phase == want || isFinal(ar.Status.Phase), nil
	})
	if err == nil {
		return last, nil
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		now := "it does not exist"
		if last != nil {
			now = "it is " + string(last.Status.Phase)
		}
		return last, fmt.Errorf("timed out after %s waiting for access request %s to be %s; %s", timeout, name, want, now)
	case ctx.Err() != nil:
		return last, fmt.Errorf("stopped waiting for access request %s: %w", name, ctx.Err())
	}
	return last, err
}

// unreached is the error for a request that ended in a phase other than
// the one waited for.
func unreached(ar *v1alpha1.AccessRequest, want v1alpha1.AccessRequestPhase) error {
	msg := fmt.Sprintf("access request %s is %s and will never be %s", ar.Name, ar.Status.Phase, want)
	if ar.Status.Message != "" {
		msg += ": " + ar.Status.Message
	}
	return errors.New(msg)
}

type waitOptions struct {
	*Options
	name    string
	forArg  string
	want    v1alpha1.AccessRequestPhase
	timeout time.Duration
}

func newWaitCommand(o *Options) *cobra.Command {
	w := &waitOptions{Options: o, forArg: "phase=Active"}
	cmd := &cobra.Command{
		Use:   "wait NAME [--for phase=Active] [--timeout 5m]",
		Short: "Wait until an access request reaches a phase",
		Long: `Wait until an access request reaches a phase, printing each change as it happens.
Fails at once if the request ends in another phase it can never leave.`,
		Example:           "  kubectl janus wait alice-x7k2p --for phase=Active --timeout 10m",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRequestNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.complete(args); err != nil {
				return err
			}
			return w.run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&w.forArg, "for", w.forArg, "The condition to wait for: phase=<Pending|Approved|Active|Expired|Denied|Withdrawn|Revoked|Failed>.")
	cmd.Flags().DurationVar(&w.timeout, "timeout", defaultWaitTimeout, "How long to wait; 0 waits without limit.")
	return cmd
}

func (w *waitOptions) complete(args []string) error {
	w.name = args[0]
	key, value, ok := strings.Cut(w.forArg, "=")
	if !ok || key != "phase" {
		return fmt.Errorf("--for must be phase=<phase>, not %q", w.forArg)
	}
	want, err := parsePhase(value)
	if err != nil {
		return fmt.Errorf("--for: %w", err)
	}
	w.want = want
	return nil
}

func (w *waitOptions) run(ctx context.Context) error {
	c, err := w.clients()
	if err != nil {
		return err
	}
	ar, err := followRequest(ctx, c.requests(), w.name, w.want, w.timeout, w.Out)
	if err != nil {
		return err
	}
	if ar.Status.Phase != w.want {
		return unreached(ar, w.want)
	}
	return nil
}
