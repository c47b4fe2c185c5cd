package kubectljanus

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type terminateOptions struct {
	*Options
	name, reason string
	output       *outputFlags
}

func newTerminateCommand(o *Options) *cobra.Command {
	t := &terminateOptions{Options: o, output: newOutputFlags("terminated")}
	cmd := &cobra.Command{
		Use:   "terminate SESSION --reason REASON",
		Short: "Cut an open session; its user is told the reason",
		Long: `Cut one open session at once. Its user reads the reason on their terminal,
and it is kept in the Session and its recording. The access request stays
as it is: revoke it to cut all its sessions and take the grant back.`,
		Example:           `  kubectl janus terminate alice-x7k2p-4f2a9 --reason "do not restart the database"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSessionNames(o, v1alpha1.SessionOpen),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := t.output.validate(); err != nil {
				return err
			}
			t.name = args[0]
			return t.run(cmd.Context())
		},
	}
	// The server decides what a valid reason is (422 otherwise); the flag
	// is required so that nobody cuts a session by forgetting it.
	cmd.Flags().StringVar(&t.reason, "reason", "", "Why the session is cut; shown to its user.")
	_ = cmd.MarkFlagRequired("reason")
	t.output.addFlags(cmd)
	return cmd
}

func (t *terminateOptions) run(ctx context.Context) error {
	c, err := t.clients()
	if err != nil {
		return err
	}
	se, err := c.sessions().Terminate(ctx, t.name, &v1alpha1.SessionTermination{Reason: t.reason}, createOptions)
	if err != nil {
		return err
	}
	if t.output.requested() {
		se.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("Session"))
		return t.output.print(se, t.Out)
	}
	fmt.Fprintf(t.Out, "session %s terminated\n", t.name)
	return nil
}
