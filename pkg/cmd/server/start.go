package server

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/infroware/janus/pkg/logging"
	"github.com/infroware/janus/pkg/version"
)

// NewCommandStartJanusServer returns the janus-apiserver command.
func NewCommandStartJanusServer(ctx context.Context, o *JanusServerOptions) *cobra.Command {
	logs := logging.NewOptions()
	cmd := &cobra.Command{
		Use:   "janus-apiserver",
		Short: "Serve the janus.infroware.io API: just-in-time, time-limited exec access to pods",
		Long: `janus-apiserver is a Kubernetes aggregated API server for the group
janus.infroware.io. Engineers create AccessRequests, approvers decide through
the approve/deny/revoke/extend subresources, and Kubernetes RBAC decides who
may do what.`,
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			// First, so that everything after logs in the chosen format.
			if err := logs.Apply(nil); err != nil {
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	logs.AddFlags(cmd.Flags())
	version.AddFlag(cmd)
	return cmd
}
