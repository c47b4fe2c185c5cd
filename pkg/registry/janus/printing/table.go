// Package printing holds what the registries' table output shares: the
// list metadata kubectl pages with. Each resource chooses its own columns.
package printing

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// NewTable returns an empty table with columns and, for a list, its
// resourceVersion and continuation, so kubectl get --watch and paging work.
func NewTable(obj runtime.Object, columns []metav1.TableColumnDefinition) *metav1.Table {
	table := &metav1.Table{ColumnDefinitions: columns}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	return table
}
