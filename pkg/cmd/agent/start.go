package agent

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/infroware/janus/pkg/logging"
	"github.com/infroware/janus/pkg/version"
)

// NewCommandStartAgent returns the janus-agent command.
func NewCommandStartAgent(ctx context.Context, o *AgentOptions) *cobra.Command {
	logs := logging.NewOptions()
	cmd := &cobra.Command{
		Use:   "janus-agent",
		Short: "Provision Janus grants in this cluster for janus-apiserver",
		Long: `janus-agent runs in each target cluster. It dials janus-apiserver (nothing
dials in), proves who it is with a projected ServiceAccount token, and on
Janus's behalf creates and removes the per-request ServiceAccounts, and the
RoleBindings of the ClusterRole janus-grant (artifacts/agent/rbac.yaml), that
give time-limited exec access to pods. Namespaces in --excluded-namespaces
are never granted, whatever Janus asks.`,
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
