package kubectljanus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type logsOptions struct {
	*Options
	name, pod  string
	opts       v1alpha1.AccessRequestLogOptions
	tail       int64
	since      time.Duration
	limitBytes int64
}

func newLogsCommand(o *Options) *cobra.Command {
	l := &logsOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "logs NAME POD [-n NAMESPACE] [-c CONTAINER] [-f] [--tail N] [--timestamps]",
		Short: "Print the logs of a pod through an active access request",
		Long: `Print the logs of a container of a pod in the request's target cluster,
through Janus. The request must be yours and Active, and the pod in one of
its namespaces (-n may be left out when the request has only one).`,
		Example:           `  kubectl janus logs alice-x7k2p payments-7d4f9 -f --tail 100`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeRequestNames(o, v1alpha1.AccessRequestActive),
		RunE: func(cmd *cobra.Command, args []string) error {
			l.name, l.pod = args[0], args[1]
			return l.run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&l.opts.Container, "container", "c", "", "The container; by default the pod's only or default container.")
	cmd.Flags().BoolVarP(&l.opts.Follow, "follow", "f", false, "Keep streaming new lines.")
	cmd.Flags().BoolVarP(&l.opts.Previous, "previous", "p", false, "The logs of the previous instance of the container.")
	cmd.Flags().BoolVar(&l.opts.Timestamps, "timestamps", false, "Prefix each line with its RFC3339 timestamp.")
	cmd.Flags().Int64Var(&l.tail, "tail", -1, "Only the last N lines; -1 for all.")
	cmd.Flags().DurationVar(&l.since, "since", 0, "Only lines newer than this, e.g. 5m.")
	cmd.Flags().Int64Var(&l.limitBytes, "limit-bytes", 0, "Stop after this many bytes; 0 for no limit.")
	return cmd
}

func (l *logsOptions) run(ctx context.Context) error {
	c, err := l.clients()
	if err != nil {
		return err
	}
	namespace, err := l.podNamespace(ctx, c, l.name)
	if err != nil {
		return err
	}
	opts := l.opts
	opts.Namespace, opts.Pod = namespace, l.pod
	if l.tail >= 0 {
		opts.TailLines = &l.tail
	}
	if l.since > 0 {
		seconds := int64(l.since.Round(time.Second).Seconds())
		opts.SinceSeconds = &seconds
	}
	if l.limitBytes > 0 {
		opts.LimitBytes = &l.limitBytes
	}
	logs, err := c.subresource(l.name, "log", &opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer logs.Close()
	if _, err := io.Copy(l.Out, logs); err != nil && !errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("reading the logs of %s/%s: %w", namespace, l.pod, err)
	}
	return nil
}
