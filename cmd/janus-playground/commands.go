package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/infroware/janus/internal/testenv"
)

// options are the flags every subcommand shares.
type options struct {
	repo string
}

func newRootCommand() *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:   "janus-playground",
		Short: "Run Janus locally: a kube-apiserver with Janus aggregated into it, and demo users",
		Long: `janus-playground starts etcd, kube-apiserver, kube-controller-manager and
janus-apiserver on loopback, registers Janus through the manifests in
artifacts/central, starts a target cluster dev with kwok pods and its agent,
and writes a kubeconfig for each demo user (admin, alice, bob, carol, dave)
under _output/playground. It also serves the web console on
http://localhost:8400 and a demo OpenID provider on 127.0.0.1:8401 (free
ports instead if those are taken), where alice, bob, carol and dave sign in
with the demo passwords <name>-password. Everything runs in the background
until "janus-playground down".`,
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVar(&o.repo, "repo", "", "The Janus repository (default: found from the working directory).")

	root.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Build what is missing and start the playground in the background",
			Args:  cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				l, err := o.layout()
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return up(ctx, l)
			},
		},
		&cobra.Command{
			Use:   "down",
			Short: "Stop every process of the playground",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				l, err := o.layout()
				if err != nil {
					return err
				}
				return down(l)
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "Show what runs, and what to type next",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				l, err := o.layout()
				if err != nil {
					return err
				}
				return status(l)
			},
		},
		newServeCommand(o),
	)
	root.SetContext(context.Background())
	return root
}

// newServeCommand is the background daemon "up" starts. It owns the
// processes and stops them on SIGTERM.
func newServeCommand(o *options) *cobra.Command {
	var binDir, janusAPIServer, janusAgent string
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Run the playground in the foreground (up starts this in the background)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			l, err := o.layout()
			if err != nil {
				return err
			}
			bins := testenv.UpstreamBinaries(binDir)
			bins.JanusAPIServer = janusAPIServer
			bins.JanusAgent = janusAgent
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, l, bins)
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "Directory of etcd, kube-apiserver, kube-controller-manager and kubectl.")
	cmd.Flags().StringVar(&janusAPIServer, "janus-apiserver", "", "The janus-apiserver binary.")
	cmd.Flags().StringVar(&janusAgent, "janus-agent", "", "The janus-agent binary.")
	_ = cmd.MarkFlagRequired("bin-dir")
	_ = cmd.MarkFlagRequired("janus-agent")
	_ = cmd.MarkFlagRequired("janus-apiserver")
	return cmd
}

func (o *options) layout() (layout, error) {
	repo := o.repo
	if repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return layout{}, err
		}
		if repo, err = testenv.FindRepoRoot(wd); err != nil {
			return layout{}, fmt.Errorf("finding the Janus repository (run from inside it, or pass --repo): %w", err)
		}
	}
	return layout{repo: repo}, nil
}
