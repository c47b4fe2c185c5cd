package e2e

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// requestSessions lists, as admin, the Sessions of request name, oldest
// first.
func requestSessions(t testing.TB, name string) ([]v1alpha1.Session, error) {
	t.Helper()
	list, err := janusAs(t, "admin").JanusV1alpha1().Sessions().List(bg(t), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, name).String(),
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.Session) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return list.Items, nil
}
