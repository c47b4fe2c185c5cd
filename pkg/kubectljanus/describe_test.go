package kubectljanus

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/describe"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

func TestDescribeLaysOutARequestAsKubectlDescribeDoes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-10 * time.Minute))
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-x7k2p", CreationTimestamp: created},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour},
			Reason:    "INC-1234\x1b]0;pwned\x07 payments 5xx",
			Requester: v1alpha1.UserInfo{Username: "alice", Groups: []string{"engineers"}},
		},
		Status: v1alpha1.AccessRequestStatus{
			Phase:             v1alpha1.AccessRequestPending,
			RequiredApprovals: 2,
			Approvals:         []v1alpha1.Decision{{User: "bob", Time: metav1.NewTime(now.Add(-time.Minute)), Reason: "ok"}},
		},
	}
	events := &corev1.EventList{Items: []corev1.Event{{
		Type: corev1.EventTypeNormal, Reason: "Approved", Message: "approved by bob \x1b[2J",
		Source: corev1.EventSource{Component: "janus-apiserver"}, FirstTimestamp: metav1.NewTime(now.Add(-time.Minute)),
	}}}
	out, err := describeText(func(w describe.PrefixWriter) {
		describeRequest(w, ar, now)
		describe.DescribeEvents(events, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("an escape sequence reaches the output:\n%q", out)
	}
	lines := strings.Split(out, "\n")
	valueColumn := -1
	for _, want := range []string{"Name:", "Requester:", "Cluster:", "Phase:", "Needs Approvals:"} {
		var line string
		for _, l := range lines {
			if strings.HasPrefix(l, want) {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("no %q line in:\n%s", want, out)
		}
		// Every field's value starts in one column.
		col := len(want) + len(line[len(want):]) - len(strings.TrimLeft(line[len(want):], " "))
		if valueColumn == -1 {
			valueColumn = col
		} else if col != valueColumn {
			t.Errorf("%q's value starts in column %d, the others in %d:\n%s", want, col, valueColumn, out)
		}
	}
	for _, want := range []string{"alice (groups: engineers)", "INC-1234^[]0;pwned^G payments 5xx", "2, 1 given", "Approvals:\n  USER", "  bob ", "Events:\n  Type", "approved by bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("the description lacks %q:\n%s", want, out)
		}
	}
}
