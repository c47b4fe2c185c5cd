package server

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/infroware/janus/pkg/logging"
)

// NewCommand returns the janus-console command.
func NewCommand(ctx context.Context, o *Options) *cobra.Command {
	logs := logging.NewOptions()
	cmd := &cobra.Command{
		Use:   "janus-console",
		Short: "The Janus web console: request, approve and watch access, as yourself",
		Long: `janus-console signs people in with OpenID Connect and calls the Janus API
as them (impersonation built from the verified ID token), so Kubernetes RBAC
decides what each page may do, as it does for kubectl. Its own identity
needs only the impersonate rights of artifacts/console/rbac.yaml.`,
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
			cfg, err := o.Config(c.Context(), nil)
			if err != nil {
				return err
			}
			return cfg.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	logs.AddFlags(cmd.Flags())
	return cmd
}
