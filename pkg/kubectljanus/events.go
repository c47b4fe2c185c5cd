package kubectljanus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/targetreads"
)

type eventsOptions struct {
	*Options
	name, pod string
	output    *outputFlags
}

func newEventsCommand(o *Options) *cobra.Command {
	e := &eventsOptions{Options: o, output: newOutputFlags("")}
	cmd := &cobra.Command{
		Use:   "events NAME [POD] [-n NAMESPACE]",
		Short: "List the Events of a namespace or pod through an active access request",
		Long: `List the Events of one of the request's namespaces in its target cluster,
or of one pod in it, through Janus, oldest first as kubectl events prints
them (Janus returns at most the newest 200). The request must be yours and
Active (-n may be left out when the request has only one namespace).`,
		Example: `  kubectl janus events alice-x7k2p -n payments
  kubectl janus events alice-x7k2p -n payments payments-api-0`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeRequestNames(o, v1alpha1.AccessRequestActive),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.output.validate(); err != nil {
				return err
			}
			e.name = args[0]
			if len(args) == 2 {
				e.pod = args[1]
			}
			return e.run(cmd.Context())
		},
	}
	e.output.addFlags(cmd)
	return cmd
}

func (e *eventsOptions) run(ctx context.Context) error {
	c, err := e.clients()
	if err != nil {
		return err
	}
	namespace, err := e.podNamespace(ctx, c, e.name)
	if err != nil {
		return err
	}
	list, err := targetreads.Events(ctx, c.janus.JanusV1alpha1(), e.name, &v1alpha1.AccessRequestEventsOptions{Namespace: namespace, Pod: e.pod})
	if err != nil {
		return err
	}
	if e.output.requested() {
		return e.output.print(list, e.Out)
	}
	if len(list.Items) == 0 {
		if e.pod != "" {
			fmt.Fprintf(e.ErrOut, "No events found for pod %s in namespace %s.\n", e.pod, namespace)
		} else {
			fmt.Fprintf(e.ErrOut, "No events found in namespace %s.\n", namespace)
		}
		return nil
	}
	if list.Truncated {
		fmt.Fprintf(e.ErrOut, "There are more events than Janus returns at once; these are the newest %d.\n", len(list.Items))
	}
	return printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(eventTable(list, time.Now()), e.Out)
}

// eventTable is kubectl events' table (LAST SEEN TYPE REASON OBJECT
// MESSAGE), oldest first so the newest is next to the prompt. Every cell
// from the target cluster goes through oneLine.
func eventTable(list *v1alpha1.AccessRequestEventList, now time.Time) *metav1.Table {
	table := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string"},
		{Name: "Type", Type: "string"},
		{Name: "Reason", Type: "string"},
		{Name: "Object", Type: "string"},
		{Name: "Message", Type: "string"},
	}}
	items := slices.Clone(list.Items)
	slices.Reverse(items)
	for _, ev := range items {
		object := strings.ToLower(ev.InvolvedObject.Kind) + "/" + ev.InvolvedObject.Name
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []any{
			lastSeen(ev, now), oneLine(ev.Type), oneLine(ev.Reason), oneLine(object), oneLine(ev.Message),
		}})
	}
	return table
}

// lastSeen is kubectl's LAST SEEN: "5m", or "5m (x3 over 10m)" for an
// Event that repeated.
func lastSeen(ev v1alpha1.AccessRequestEvent, now time.Time) string {
	last := age(ev.LastTimestamp, now)
	if ev.Count > 1 && !ev.FirstTimestamp.IsZero() {
		return fmt.Sprintf("%s (x%d over %s)", last, ev.Count, duration.HumanDuration(now.Sub(ev.FirstTimestamp.Time)))
	}
	return last
}
