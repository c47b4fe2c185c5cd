package kubectljanus

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubectl/pkg/util/term"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type execOptions struct {
	*Options
	name, pod, container string
	command              []string
	stdin, tty           bool
}

func newExecCommand(o *Options) *cobra.Command {
	e := &execOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "exec NAME POD [-n NAMESPACE] [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a pod through an active access request",
		Long: `Run a command in a pod of the request's target cluster, through Janus.
The request must be yours and Active, and the pod in one of its namespaces
(-n may be left out when the request has only one). The exit code is the
remote command's.`,
		Example: `  kubectl janus exec alice-x7k2p payments-7d4f9 -it -- sh
  kubectl janus exec alice-x7k2p -n payments payments-7d4f9 -c app -- cat /etc/hostname`,
		ValidArgsFunction: completeRequestNames(o, v1alpha1.AccessRequestActive),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.complete(args, cmd.ArgsLenAtDash()); err != nil {
				return err
			}
			return e.run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&e.container, "container", "c", "", "The container; by default the pod's only or default container.")
	cmd.Flags().BoolVarP(&e.stdin, "stdin", "i", false, "Pass standard input to the command.")
	cmd.Flags().BoolVarP(&e.tty, "tty", "t", false, "Give the command a terminal (with -i, when standard input is one).")
	return cmd
}

func (e *execOptions) complete(args []string, dash int) error {
	switch {
	case dash == -1 && len(args) > 2:
		return errors.New("put the command after --: kubectl janus exec NAME POD -- COMMAND [ARG...]")
	case dash != -1 && dash != 2, len(args) < 2:
		return errors.New("exec takes a request's NAME and a POD, then -- and the command: kubectl janus exec NAME POD -- COMMAND [ARG...]")
	case len(args) == 2:
		return errors.New("no command given: kubectl janus exec NAME POD -- COMMAND [ARG...]")
	}
	e.name, e.pod, e.command = args[0], args[1], args[2:]
	return nil
}

func (e *execOptions) run(ctx context.Context) error {
	c, err := e.clients()
	if err != nil {
		return err
	}
	namespace, err := e.podNamespace(ctx, c, e.name)
	if err != nil {
		return err
	}

	// A remote terminal needs keystrokes (-i) from a local terminal; as
	// kubectl exec does, it runs raw and follows the local window's size.
	tty := term.TTY{In: e.In, Out: e.Out}
	if e.tty && e.stdin {
		if tty.Raw = tty.IsTerminalIn(); !tty.Raw {
			fmt.Fprintln(e.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
	}
	opts := &v1alpha1.AccessRequestExecOptions{
		Namespace: namespace,
		Pod:       e.pod,
		Container: e.container,
		Command:   e.command,
		Stdin:     e.stdin,
		Stdout:    true,
		// A terminal carries both outputs on one stream.
		Stderr: !tty.Raw,
		TTY:    tty.Raw,
	}
	executor, err := remotecommand.NewWebSocketExecutor(c.config, "GET", c.subresourceURL(e.name, "exec", opts).String())
	if err != nil {
		return fmt.Errorf("preparing the exec stream: %w", err)
	}
	stream := remotecommand.StreamOptions{Stdout: e.Out, Tty: tty.Raw}
	if e.stdin {
		stream.Stdin = e.In
	}
	if tty.Raw {
		stream.TerminalSizeQueue = terminalSizes{tty.MonitorSize(tty.GetSize())}
	} else {
		stream.Stderr = e.ErrOut
	}
	// Safe gives the terminal back as it was, also after Ctrl-C or a kill.
	return tty.Safe(func() error { return executor.StreamWithContext(ctx, stream) })
}

// terminalSizes hands kubectl's terminal sizes to client-go, whose type is
// a twin of kubectl's; kubectl exec adapts them the same way.
type terminalSizes struct{ term.TerminalSizeQueue }

func (q terminalSizes) Next() *remotecommand.TerminalSize {
	if q.TerminalSizeQueue == nil {
		return nil
	}
	size := q.TerminalSizeQueue.Next()
	if size == nil {
		return nil
	}
	return &remotecommand.TerminalSize{Width: size.Width, Height: size.Height}
}
