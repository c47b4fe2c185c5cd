package kubectljanus

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

type describeOptions struct {
	*Options
	now func() time.Time
}

func newDescribeCommand(o *Options) *cobra.Command {
	d := &describeOptions{Options: o, now: time.Now}
	return &cobra.Command{
		Use:               "describe NAME",
		Short:             "Show an access request in full: spec, decisions, grants, sessions, its timeline and Events",
		Example:           `  kubectl janus describe alice-x7k2p`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRequestNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			return d.run(cmd.Context(), args[0])
		},
	}
}

func (d *describeOptions) run(ctx context.Context, name string) error {
	c, err := d.clients()
	if err != nil {
		return err
	}
	ar, err := c.requests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	// Events are filed in namespace default because the request is
	// cluster-scoped; requesters often may not read them there.
	events, err := c.kube.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": name, "involvedObject.kind": "AccessRequest"}.String(),
	})
	w := &description{out: d.Out}
	describeRequest(w, ar, d.now())
	switch {
	case apierrors.IsForbidden(err):
		w.field("Events", fmt.Sprintf("<not shown: you may not list events in namespace %s>", metav1.NamespaceDefault))
	case err != nil:
		w.field("Events", fmt.Sprintf("<not shown: %s>", oneLine(err.Error())))
	default:
		describeEvents(w, events.Items, d.now())
	}
	return w.err
}

// description writes "Key:  value" lines with the values in one column,
// and indented tables, each aligned on its own.
type description struct {
	out io.Writer
	err error
}

func (w *description) field(key, value string) {
	w.printf("%-18s%s\n", key+":", value)
}

// table writes key: and the rows under it, or key: <none>.
func (w *description) table(key string, header []string, rows [][]string) {
	if len(rows) == 0 {
		w.field(key, "<none>")
		return
	}
	w.printf("%s:\n", key)
	tw := tabwriter.NewWriter(w.out, 0, 8, 2, ' ', 0)
	for _, row := range append([][]string{header}, rows...) {
		if _, err := fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t")); err != nil && w.err == nil {
			w.err = err
		}
	}
	if err := tw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *description) printf(format string, args ...any) {
	if _, err := fmt.Fprintf(w.out, format, args...); err != nil && w.err == nil {
		w.err = err
	}
}

func describeRequest(w *description, ar *v1alpha1.AccessRequest, now time.Time) {
	s, st := ar.Spec, ar.Status
	w.field("Name", ar.Name)
	w.field("Requester", requester(s.Requester))
	w.field("Cluster", s.Cluster)
	w.field("Namespaces", strings.Join(s.Namespaces, ", "))
	w.field("Duration", s.Duration.Duration.String())
	w.field("Reason", oneLine(s.Reason))
	w.field("Created", when(ar.CreationTimestamp, now))
	w.field("Phase", orNone(string(st.Phase)))
	w.field("Message", orNone(oneLine(st.Message)))

	var rows [][]string
	for _, a := range st.Approvals {
		rows = append(rows, []string{a.User, when(a.Time, now), durationOrNone(a.Duration), orNone(oneLine(a.Reason))})
	}
	if st.RequiredApprovals > 0 {
		w.field("Needs Approvals", fmt.Sprintf("%d, %d given", st.RequiredApprovals, len(st.Approvals)))
	}
	w.table("Approvals", []string{"USER", "TIME", "DURATION", "REASON"}, rows)
	if st.Decision == nil {
		w.field("Decision", "<none>")
	} else {
		w.field("Decision", fmt.Sprintf("%s by %s, %s: %s", st.Phase, st.Decision.User, when(st.Decision.Time, now), orNone(oneLine(st.Decision.Reason))))
	}
	if len(st.Extensions) > 0 {
		rows = nil
		for _, e := range st.Extensions {
			rows = append(rows, []string{e.User, when(e.Time, now), durationOrNone(e.Duration), orNone(oneLine(e.Reason))})
		}
		w.table("Extensions", []string{"USER", "TIME", "ADDED", "REASON"}, rows)
	}
	w.field("Granted Duration", durationOrNone(st.GrantedDuration))
	w.field("Activated", whenOrNone(st.ActivatedAt, now))
	w.field("Expires", whenOrNone(st.ExpiresAt, now))

	rows = nil
	for _, g := range st.Grants {
		rows = append(rows, []string{g.Namespace, orNone(g.ServiceAccount), orNone(g.Role), orNone(g.RoleBinding)})
	}
	w.table("Grants", []string{"NAMESPACE", "SERVICE ACCOUNT", "ROLE", "ROLE BINDING"}, rows)

	rows = nil
	for _, se := range st.Sessions {
		pod := se.Namespace + "/" + se.Pod
		if se.Container != "" {
			pod += " (" + se.Container + ")"
		}
		ended := "<open>"
		if se.EndedAt != nil {
			ended = when(*se.EndedAt, now)
			if se.EndReason != "" {
				ended += ": " + oneLine(se.EndReason)
			}
		}
		rows = append(rows, []string{se.ID, se.User, pod, orNone(oneLine(strings.Join(se.Command, " "))),
			when(se.StartedAt, now), ended, fmt.Sprintf("%d/%d", se.BytesIn, se.BytesOut)})
	}
	w.table("Sessions", []string{"ID", "USER", "POD", "COMMAND", "STARTED", "ENDED", "IN/OUT"}, rows)

	rows = nil
	for _, step := range timeline(ar) {
		rows = append(rows, []string{when(step.time, now), step.what, step.status, step.reason, oneLine(step.message)})
	}
	w.table("Timeline", []string{"TIME", "CONDITION", "STATUS", "REASON", "MESSAGE"}, rows)
}

// timelineStep is one line of a request's timeline: its creation, or one of
// its conditions at its last transition.
type timelineStep struct {
	time                          metav1.Time
	what, status, reason, message string
}

func timeline(ar *v1alpha1.AccessRequest) []timelineStep {
	steps := []timelineStep{{
		time: ar.CreationTimestamp, what: "Requested", status: "-", reason: "-",
		message: fmt.Sprintf("%s asked for %s in %s", orNone(ar.Spec.Requester.Username), ar.Spec.Cluster, strings.Join(ar.Spec.Namespaces, ", ")),
	}}
	for _, c := range ar.Status.Conditions {
		steps = append(steps, timelineStep{time: c.LastTransitionTime, what: c.Type, status: string(c.Status), reason: orNone(c.Reason), message: c.Message})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].time.Before(&steps[j].time) })
	return steps
}

func describeEvents(w *description, events []corev1.Event, now time.Time) {
	sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Before(eventTime(&events[j])) })
	var rows [][]string
	for i := range events {
		e := &events[i]
		age := duration.HumanDuration(now.Sub(eventTime(e)))
		if e.Count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, duration.HumanDuration(now.Sub(e.FirstTimestamp.Time)))
		}
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		rows = append(rows, []string{e.Type, e.Reason, age, orNone(from), oneLine(e.Message)})
	}
	w.table("Events", []string{"TYPE", "REASON", "AGE", "FROM", "MESSAGE"}, rows)
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func requester(u v1alpha1.UserInfo) string {
	if u.Username == "" {
		return "<none>"
	}
	if len(u.Groups) == 0 {
		return u.Username
	}
	return fmt.Sprintf("%s (groups: %s)", u.Username, strings.Join(u.Groups, ", "))
}

// when is an absolute time with how long ago (or how far ahead) it is.
func when(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	abs := t.UTC().Format(time.RFC3339)
	if d := t.Sub(now); d > 0 {
		return fmt.Sprintf("%s (in %s)", abs, duration.HumanDuration(d))
	}
	return fmt.Sprintf("%s (%s ago)", abs, duration.HumanDuration(now.Sub(t.Time)))
}

func whenOrNone(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "<none>"
	}
	return when(*t, now)
}

func durationOrNone(d *metav1.Duration) string {
	if d == nil {
		return "<none>"
	}
	return d.Duration.String()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// oneLine keeps text that people wrote (reasons, messages quoting them)
// from breaking the layout or sending escape sequences to the terminal.
func oneLine(s string) string {
	return printers.EscapeTerminal(strings.Join(strings.Fields(s), " "))
}
