package kubectljanus

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type listOptions struct {
	*Options
	all     bool
	phase   string
	cluster string
	output  *outputFlags
}

func newListCommand(o *Options) *cobra.Command {
	l := &listOptions{Options: o, output: newOutputFlags("")}
	cmd := &cobra.Command{
		Use:     "list [--all] [--cluster CLUSTER] [--phase PHASE]",
		Aliases: []string{"ls"},
		Short:   "List your access requests, or everyone's with --all",
		Example: `  kubectl janus list
  kubectl janus list --all --phase Pending`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := l.output.validate(); err != nil {
				return err
			}
			return l.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&l.all, "all", "A", false, "List the requests of every user, not only yours.")
	cmd.Flags().StringVar(&l.cluster, "cluster", "", "Only requests for this target cluster.")
	_ = cmd.RegisterFlagCompletionFunc("cluster", completeClusterNames(o))
	cmd.Flags().StringVar(&l.phase, "phase", "", "Only requests in this phase (Pending, Approved, Active, Expired, Denied, Withdrawn, Revoked, Failed).")
	_ = cmd.RegisterFlagCompletionFunc("phase", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names := make([]cobra.Completion, len(phases))
		for i, p := range phases {
			names[i] = string(p)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	l.output.addFlags(cmd)
	return cmd
}

func (l *listOptions) run(ctx context.Context) error {
	c, err := l.clients()
	if err != nil {
		return err
	}
	selector := fields.Set{}
	var me string
	if !l.all {
		if me, err = c.currentUser(ctx); err != nil {
			return fmt.Errorf("finding out who you are (use --all to list everyone's requests): %w", err)
		}
		selector[v1alpha1.FieldRequesterUsername] = me
	}
	if l.cluster != "" {
		selector[v1alpha1.FieldCluster] = l.cluster
	}
	if l.phase != "" {
		phase, err := parsePhase(l.phase)
		if err != nil {
			return fmt.Errorf("--phase: %w", err)
		}
		selector[v1alpha1.FieldPhase] = string(phase)
	}
	opts := metav1.ListOptions{FieldSelector: selector.AsSelector().String()}

	if l.output.requested() {
		list, err := c.requests().List(ctx, opts)
		if err != nil {
			return err
		}
		return l.output.print(list, l.Out)
	}
	table, err := c.requestTable(ctx, "", opts)
	if err != nil {
		return err
	}
	if len(table.Rows) == 0 {
		switch {
		case me != "":
			fmt.Fprintf(l.ErrOut, "No access requests by %s found (--all lists everyone's).\n", me)
		default:
			fmt.Fprintln(l.ErrOut, "No access requests found.")
		}
		return nil
	}
	return printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(table, l.Out)
}

type getOptions struct {
	*Options
	output *outputFlags
}

func newGetCommand(o *Options) *cobra.Command {
	g := &getOptions{Options: o, output: newOutputFlags("")}
	cmd := &cobra.Command{
		Use:               "get NAME [NAME...]",
		Short:             "Show access requests as a table, or in full with -o yaml",
		Example:           "  kubectl janus get alice-x7k2p -o yaml",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeRequestNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.output.validate(); err != nil {
				return err
			}
			return g.run(cmd.Context(), args)
		},
	}
	g.output.addFlags(cmd)
	return cmd
}

func (g *getOptions) run(ctx context.Context, names []string) error {
	c, err := g.clients()
	if err != nil {
		return err
	}
	// One printer for all names: the header is printed once.
	table := printers.NewTablePrinter(printers.PrintOptions{})
	for _, name := range names {
		if g.output.requested() {
			ar, err := c.requests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := g.output.print(ar, g.Out); err != nil {
				return err
			}
			continue
		}
		t, err := c.requestTable(ctx, name, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if err := table.PrintObj(t, g.Out); err != nil {
			return err
		}
	}
	return nil
}
