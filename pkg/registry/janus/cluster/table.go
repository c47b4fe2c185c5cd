package cluster

import (
	"context"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/registry/janus/printing"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the cluster"},
	{Name: "Display Name", Type: "string", Description: "Human-friendly name"},
	{Name: "Connected", Type: "string", Description: "Whether the cluster's agent is connected"},
	{Name: "Approvals", Type: "integer", Description: "Distinct approvals a request needs"},
	{Name: "Max Duration", Type: "string", Description: "Longest access a request may get"},
	{Name: "Age", Type: "string", Description: "Time since the cluster was registered"},
}

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := printing.NewTable(obj, columns)
	var items []janus.Cluster
	switch o := obj.(type) {
	case *janus.Cluster:
		items = []janus.Cluster{*o}
	case *janus.ClusterList:
		items = o.Items
	default:
		return nil, fmt.Errorf("converting %T to a table: not a Cluster", obj)
	}
	for i := range items {
		c := &items[i]
		maxDuration := "<server default>"
		if c.Spec.MaxDuration != nil {
			maxDuration = c.Spec.MaxDuration.Duration.String()
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: c},
			Cells: []interface{}{
				c.Name,
				c.Spec.DisplayName,
				strconv.FormatBool(c.Status.Agent.Connected),
				int64(validation.RequiredApprovals(c)),
				maxDuration,
				duration.HumanDuration(metav1.Now().Sub(c.CreationTimestamp.Time)),
			},
		})
	}
	return table, nil
}
