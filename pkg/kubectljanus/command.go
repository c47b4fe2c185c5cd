package kubectljanus

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/version"
)

// Options are what every subcommand shares: how to reach the cluster, as
// kubectl's own flags say (--kubeconfig, --context, --as, -n, ...), and
// where to print.
type Options struct {
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewOptions returns Options printing to streams.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	flags := genericclioptions.NewConfigFlags(true)
	// In Janus --cluster names a target cluster (request --cluster dev),
	// not a kubeconfig cluster; --context still picks the kubeconfig's.
	flags.ClusterName = nil
	return &Options{ConfigFlags: flags, IOStreams: streams}
}

// NewCommand builds `kubectl janus` and its subcommands.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := NewOptions(streams)
	cmd := &cobra.Command{
		Use:   "kubectl-janus",
		Short: "Request, approve and use just-in-time exec access to pods",
		Long: `kubectl janus works with Janus AccessRequests: Request → Approve → Exec → Expire.

  kubectl janus request --cluster dev --namespaces payments --reason "INC-1234" --wait
  kubectl janus list
  kubectl janus approve NAME --reason "looks right"
  kubectl janus exec NAME POD -it -- sh
  kubectl janus sessions NAME
  kubectl janus play SESSION --speed 2`,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl janus"},
		// Errors are printed once, the way kubectl prints them, by Run.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s -h' for help and examples", err, c.CommandPath())
	})
	o.ConfigFlags.AddFlags(cmd.PersistentFlags())
	// -v=6 and up show the API calls, as in kubectl.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	cmd.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))

	cmd.AddCommand(
		newRequestCommand(o),
		newListCommand(o),
		newGetCommand(o),
		newDescribeCommand(o),
		newWaitCommand(o),
	)
	for _, d := range decisions {
		cmd.AddCommand(newDecisionCommand(o, d))
	}
	cmd.AddCommand(newExecCommand(o), newLogsCommand(o), newPodsCommand(o), newEventsCommand(o))
	cmd.AddCommand(newSessionsCommand(o), newPlayCommand(o), newFollowCommand(o), newTerminateCommand(o), newVerifyCommand(o))
	cmd.AddCommand(newVersionCommand(o))
	version.AddFlag(cmd)
	return cmd
}

// Run executes cmd and returns the process's exit code. An error is
// printed to errOut as kubectl prints it.
func Run(ctx context.Context, cmd *cobra.Command, errOut io.Writer) int {
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg, code := errorMessage(err)
	if msg != "" {
		fmt.Fprintln(errOut, msg)
	}
	return code
}
