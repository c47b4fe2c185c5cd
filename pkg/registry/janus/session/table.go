package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/registry/janus/printing"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the session"},
	{Name: "Request", Type: "string", Description: "The AccessRequest the session ran under"},
	{Name: "User", Type: "string", Description: "Who ran the session"},
	{Name: "Pod", Type: "string", Description: "namespace/pod the session ran in"},
	{Name: "Phase", Type: "string", Description: "Open or Closed"},
	{Name: "Duration", Type: "string", Description: "How long the session ran, or has run"},
	{Name: "Age", Type: "string", Description: "Time since the session started"},
	{Name: "Cluster", Type: "string", Priority: 1, Description: "The target cluster"},
	{Name: "Command", Type: "string", Priority: 1, Description: "The command that was run"},
	{Name: "Recorded", Type: "string", Priority: 1, Description: "The recording's size"},
	{Name: "End Reason", Type: "string", Priority: 1, Description: "Why the session ended"},
}

// maxCommandCell bounds the command shown in a table cell.
const maxCommandCell = 64

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := printing.NewTable(obj, columns)
	var items []janus.Session
	switch o := obj.(type) {
	case *janus.Session:
		items = []janus.Session{*o}
	case *janus.SessionList:
		items = o.Items
	default:
		return nil, fmt.Errorf("converting %T to a table: not a Session", obj)
	}
	now := time.Now()
	for i := range items {
		s := &items[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: s},
			Cells: []interface{}{
				s.Name,
				s.Spec.Request,
				s.Spec.User.Username,
				s.Spec.Namespace + "/" + s.Spec.Pod,
				string(s.Status.Phase),
				ran(s, now),
				duration.HumanDuration(now.Sub(s.CreationTimestamp.Time)),
				s.Spec.Cluster,
				command(s.Spec.Command),
				recorded(s.Status.Recording),
				s.Status.EndReason,
			},
		})
	}
	return table, nil
}

// ran is how long the session ran, or has run while open.
func ran(s *janus.Session, now time.Time) string {
	if s.Status.StartedAt == nil {
		return "<unknown>"
	}
	end := now
	if s.Status.EndedAt != nil {
		end = s.Status.EndedAt.Time
	}
	return duration.HumanDuration(end.Sub(s.Status.StartedAt.Time))
}

// command writes argv for a terminal: an argument holding spaces, control
// characters, bidi controls or invalid UTF-8 is shown quoted and escaped,
// so nothing a user typed acts on the terminal of whoever lists sessions.
func command(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		q := strconv.QuoteToGraphic(a)
		if a == "" || q != `"`+a+`"` || strings.ContainsAny(a, " \t") {
			a = q
		}
		quoted[i] = a
	}
	c := strings.Join(quoted, " ")
	if len(c) > maxCommandCell {
		c = strings.ToValidUTF8(c[:maxCommandCell], "") + "…"
	}
	return c
}

func recorded(r *janus.SessionRecording) string {
	if r == nil {
		return "<none>"
	}
	return formatBytes(r.Size)
}

// formatBytes writes n in SI units: "512 B", "3.2 kB", "48.0 MB".
func formatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1000, "kB"
	for _, next := range []string{"MB", "GB", "TB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, next
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
