package accessrequest

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
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/registry/janus/printing"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the request"},
	{Name: "Requester", Type: "string", Description: "Who asked for access"},
	{Name: "Cluster", Type: "string", Description: "Target cluster"},
	{Name: "Namespaces", Type: "string", Description: "Namespaces the access covers"},
	{Name: "Phase", Type: "string", Description: "Lifecycle phase"},
	{Name: "Expires", Type: "string", Description: "When an active grant ends"},
	{Name: "Age", Type: "string", Description: "Time since the request was made"},
	{Name: "Approvals", Type: "string", Priority: 1, Description: "Distinct approvals given, of those the request needs"},
}

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := printing.NewTable(obj, columns)
	var items []janus.AccessRequest
	switch o := obj.(type) {
	case *janus.AccessRequest:
		items = []janus.AccessRequest{*o}
	case *janus.AccessRequestList:
		items = o.Items
	default:
		return nil, fmt.Errorf("converting %T to a table: not an AccessRequest", obj)
	}
	now := time.Now()
	for i := range items {
		ar := &items[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: ar},
			Cells: []interface{}{
				ar.Name,
				ar.Spec.Requester.Username,
				ar.Spec.Cluster,
				strings.Join(ar.Spec.Namespaces, ","),
				string(ar.Status.Phase),
				expires(ar, now),
				duration.HumanDuration(now.Sub(ar.CreationTimestamp.Time)),
				approvalCount(ar),
			},
		})
	}
	return table, nil
}

func expires(ar *janus.AccessRequest, now time.Time) string {
	if ar.Status.ExpiresAt == nil || ar.Status.Phase != janus.AccessRequestActive {
		return "<none>"
	}
	if d := ar.Status.ExpiresAt.Sub(now); d > 0 {
		return "in " + duration.HumanDuration(d)
	}
	return duration.HumanDuration(now.Sub(ar.Status.ExpiresAt.Time)) + " ago"
}

// approvalCount is "given/required"; a request from before the quorum was
// recorded shows only what it was given.
func approvalCount(ar *janus.AccessRequest) string {
	given := validation.DistinctApprovers(ar.Status.Approvals)
	if ar.Status.RequiredApprovals < 1 {
		return strconv.Itoa(given)
	}
	return fmt.Sprintf("%d/%d", given, ar.Status.RequiredApprovals)
}
