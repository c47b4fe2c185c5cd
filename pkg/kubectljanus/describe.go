package kubectljanus

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/kubectl/pkg/describe"

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
	events, eventsErr := c.kube.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.name": name, "involvedObject.kind": "AccessRequest"}.String(),
	})
	sessions, sessionsErr := c.janus.JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, name).String(),
	})
	out, err := describeText(func(w describe.PrefixWriter) {
		describeRequest(w, ar, d.now())
		switch {
		case apierrors.IsForbidden(sessionsErr):
			w.Write(describe.LEVEL_0, "Sessions:\t<not shown: you may not list sessions>\n")
		case sessionsErr != nil:
			w.Write(describe.LEVEL_0, "Sessions:\t<not shown: %s>\n", oneLine(sessionsErr.Error()))
		default:
			describeSessions(w, sessions.Items, d.now())
		}
		switch {
		case apierrors.IsForbidden(eventsErr):
			w.Write(describe.LEVEL_0, "Events:\t<not shown: you may not list events in namespace %s>\n", metav1.NamespaceDefault)
		case eventsErr != nil:
			w.Write(describe.LEVEL_0, "Events:\t<not shown: %s>\n", oneLine(eventsErr.Error()))
		default:
			describe.DescribeEvents(events, w)
		}
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(d.Out, out)
	return err
}

// describeText lays out what describe writes as kubectl describe does:
// "Key:<tab>value" lines aligned by one tabwriter, with kubectl's own
// writer escaping whatever the text holds.
func describeText(write func(describe.PrefixWriter)) (string, error) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	write(describe.NewPrefixWriter(tw))
	if err := tw.Flush(); err != nil {
		return "", fmt.Errorf("laying out the description: %w", err)
	}
	return buf.String(), nil
}

func describeField(w describe.PrefixWriter, key, value string) {
	w.Write(describe.LEVEL_0, "%s:\t%s\n", key, value)
}

// describeTable writes key: and the rows under it, or key: <none>.
func describeTable(w describe.PrefixWriter, key string, header []string, rows [][]string) {
	if len(rows) == 0 {
		describeField(w, key, "<none>")
		return
	}
	// A table is aligned on its own, not with the fields around it.
	w.Flush()
	w.Write(describe.LEVEL_0, "%s:\n", key)
	dashes := make([]string, len(header))
	for i, h := range header {
		dashes[i] = strings.Repeat("-", len(h))
	}
	for _, row := range append([][]string{header, dashes}, rows...) {
		w.Write(describe.LEVEL_1, "%s\n", strings.Join(row, "\t"))
	}
	w.Flush()
}

func describeRequest(w describe.PrefixWriter, ar *v1alpha1.AccessRequest, now time.Time) {
	s, st := ar.Spec, ar.Status
	describeField(w, "Name", ar.Name)
	describeField(w, "Requester", requester(s.Requester))
	describeField(w, "Cluster", s.Cluster)
	describeField(w, "Namespaces", strings.Join(s.Namespaces, ", "))
	describeField(w, "Duration", s.Duration.Duration.String())
	describeField(w, "Reason", oneLine(s.Reason))
	describeField(w, "Created", when(ar.CreationTimestamp, now))
	describeField(w, "Phase", orNone(string(st.Phase)))
	describeField(w, "Message", orNone(oneLine(st.Message)))

	var rows [][]string
	for _, a := range st.Approvals {
		rows = append(rows, []string{a.User, when(a.Time, now), durationOrNone(a.Duration), orNone(oneLine(a.Reason))})
	}
	if st.RequiredApprovals > 0 {
		describeField(w, "Needs Approvals", fmt.Sprintf("%d, %d given", st.RequiredApprovals, len(st.Approvals)))
	}
	describeTable(w, "Approvals", []string{"USER", "TIME", "DURATION", "REASON"}, rows)
	if st.Decision == nil {
		describeField(w, "Decision", "<none>")
	} else {
		describeField(w, "Decision", fmt.Sprintf("%s by %s, %s: %s", st.Phase, st.Decision.User, when(st.Decision.Time, now), orNone(oneLine(st.Decision.Reason))))
	}
	if len(st.Extensions) > 0 {
		rows = nil
		for _, e := range st.Extensions {
			rows = append(rows, []string{e.User, when(e.Time, now), durationOrNone(e.Duration), orNone(oneLine(e.Reason))})
		}
		describeTable(w, "Extensions", []string{"USER", "TIME", "ADDED", "REASON"}, rows)
	}
	describeField(w, "Granted Duration", durationOrNone(st.GrantedDuration))
	describeField(w, "Activated", whenOrNone(st.ActivatedAt, now))
	describeField(w, "Expires", whenOrNone(st.ExpiresAt, now))
	describeField(w, "Sessions", fmt.Sprintf("%d open, %d in all", st.ActiveSessions, st.TotalSessions))

	rows = nil
	for _, g := range st.Grants {
		rows = append(rows, []string{g.Namespace, orNone(g.ServiceAccount), orNone(g.Role), orNone(g.RoleBinding)})
	}
	describeTable(w, "Grants", []string{"NAMESPACE", "SERVICE ACCOUNT", "ROLE", "ROLE BINDING"}, rows)

	rows = nil
	for _, step := range timeline(ar) {
		rows = append(rows, []string{when(step.time, now), step.what, step.status, step.reason, oneLine(step.message)})
	}
	describeTable(w, "Timeline", []string{"TIME", "CONDITION", "STATUS", "REASON", "MESSAGE"}, rows)
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
// from breaking the layout or acting on the terminal: control characters
// are shown in caret notation (ESC as ^[, BEL as ^G) rather than sent.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte('^')
			b.WriteRune(r ^ 0x40)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// describeSessions lists a request's Sessions, oldest first.
func describeSessions(w describe.PrefixWriter, sessions []v1alpha1.Session, now time.Time) {
	slices.SortFunc(sessions, func(a, b v1alpha1.Session) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	var rows [][]string
	for _, se := range sessions {
		pod := se.Spec.Namespace + "/" + se.Spec.Pod
		if se.Spec.Container != "" {
			pod += " (" + se.Spec.Container + ")"
		}
		ended := "<open>"
		if se.Status.EndedAt != nil {
			ended = when(*se.Status.EndedAt, now)
			if se.Status.EndReason != "" {
				ended += ": " + oneLine(se.Status.EndReason)
			}
		}
		started := "<unknown>"
		if se.Status.StartedAt != nil {
			started = when(*se.Status.StartedAt, now)
		}
		rows = append(rows, []string{se.Name, se.Spec.User.Username, pod, orNone(oneLine(strings.Join(se.Spec.Command, " "))),
			started, ended, fmt.Sprintf("%d/%d", se.Status.BytesIn, se.Status.BytesOut)})
	}
	describeTable(w, "Sessions", []string{"NAME", "USER", "POD", "COMMAND", "STARTED", "ENDED", "IN/OUT"}, rows)
}
