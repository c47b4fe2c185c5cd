package kubectljanus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/targetreads"
)

type podsOptions struct {
	*Options
	name   string
	output *outputFlags
}

func newPodsCommand(o *Options) *cobra.Command {
	p := &podsOptions{Options: o, output: newOutputFlags("")}
	cmd := &cobra.Command{
		Use:   "pods NAME [-n NAMESPACE]",
		Short: "List the pods an active access request reaches",
		Long: `List the pods of the request's namespaces in its target cluster, as the
request's own grant sees them, through Janus. Without -n every namespace of
the request is listed. The request must be yours and Active.`,
		Example: `  kubectl janus pods alice-x7k2p
  kubectl janus pods alice-x7k2p -n payments -o yaml`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRequestNames(o, v1alpha1.AccessRequestActive),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.output.validate(); err != nil {
				return err
			}
			p.name = args[0]
			return p.run(cmd.Context())
		},
	}
	p.output.addFlags(cmd)
	return cmd
}

func (p *podsOptions) run(ctx context.Context) error {
	c, err := p.clients()
	if err != nil {
		return err
	}
	namespaces, err := p.namespaces(ctx, c)
	if err != nil {
		return err
	}
	all := &v1alpha1.AccessRequestPodList{}
	for _, ns := range namespaces {
		list, err := targetreads.Pods(ctx, c.janus.JanusV1alpha1(), p.name, &v1alpha1.AccessRequestPodsOptions{Namespace: ns})
		if err != nil {
			return err
		}
		all.Items = append(all.Items, list.Items...)
		if list.Truncated {
			all.Truncated = true
			fmt.Fprintf(p.ErrOut, "Namespace %s has more pods than Janus reads at once; only the first %d are shown.\n", ns, len(list.Items))
		}
	}
	if p.output.requested() {
		return p.output.print(all, p.Out)
	}
	if len(all.Items) == 0 {
		fmt.Fprintf(p.ErrOut, "No pods found in %s.\n", joinNamespaces(namespaces))
		return nil
	}
	return printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(podTable(all, len(namespaces) > 1, time.Now()), p.Out)
}

// namespaces are -n's, or every namespace of the request.
func (p *podsOptions) namespaces(ctx context.Context, c *clients) ([]string, error) {
	if ns := p.ConfigFlags.Namespace; ns != nil && *ns != "" {
		return []string{*ns}, nil
	}
	ar, err := c.requests().Get(ctx, p.name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return ar.Spec.Namespaces, nil
}

// podTable is kubectl get pods' table (NAME READY STATUS RESTARTS AGE),
// with a NAMESPACE column first when there are several. Every cell from
// the target cluster goes through oneLine.
func podTable(list *v1alpha1.AccessRequestPodList, withNamespace bool, now time.Time) *metav1.Table {
	table := &metav1.Table{}
	if withNamespace {
		table.ColumnDefinitions = append(table.ColumnDefinitions, metav1.TableColumnDefinition{Name: "Namespace", Type: "string"})
	}
	table.ColumnDefinitions = append(table.ColumnDefinitions,
		metav1.TableColumnDefinition{Name: "Name", Type: "string"},
		metav1.TableColumnDefinition{Name: "Ready", Type: "string"},
		metav1.TableColumnDefinition{Name: "Status", Type: "string"},
		metav1.TableColumnDefinition{Name: "Restarts", Type: "string"},
		metav1.TableColumnDefinition{Name: "Age", Type: "string"},
	)
	for _, pod := range list.Items {
		var cells []any
		if withNamespace {
			cells = append(cells, oneLine(pod.Namespace))
		}
		cells = append(cells, oneLine(pod.Name), oneLine(pod.Ready), oneLine(orNone(pod.Status)), strconv.Itoa(int(pod.Restarts)), age(pod.CreatedAt, now))
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells})
	}
	return table
}

// age is kubectl's AGE: how long ago t was, or <unknown>.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func joinNamespaces(namespaces []string) string {
	if len(namespaces) == 1 {
		return "namespace " + namespaces[0]
	}
	return fmt.Sprintf("namespaces %v", namespaces)
}
