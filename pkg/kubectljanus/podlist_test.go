package kubectljanus

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

func printed(t *testing.T, table *metav1.Table) string {
	t.Helper()
	var out bytes.Buffer
	if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(table, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestPodTableLooksLikeKubectlGetPods: the columns of kubectl get pods,
// NAMESPACE first only across namespaces, and nothing from the target
// cluster acts on the terminal.
func TestPodTableLooksLikeKubectlGetPods(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	list := &v1alpha1.AccessRequestPodList{Items: []v1alpha1.AccessRequestPod{
		{Name: "payments-api-0", Namespace: "payments", Ready: "1/1", Status: "Running", Restarts: 2, CreatedAt: metav1.NewTime(now.Add(-90 * time.Minute))},
		{Name: "web-0", Namespace: "default", Ready: "0/1", Status: "CrashLoopBackOff\x1b]0;pwned\x07", CreatedAt: metav1.NewTime(now.Add(-3 * 24 * time.Hour))},
	}}
	one := printed(t, podTable(list, false, now))
	if first := strings.Fields(strings.Split(one, "\n")[0]); strings.Join(first, " ") != "NAME READY STATUS RESTARTS AGE" {
		t.Errorf("header %q, want kubectl get pods' columns", first)
	}
	if !strings.Contains(one, "payments-api-0") || !strings.Contains(one, "90m") || !strings.Contains(one, "3d") {
		t.Errorf("rows lack the pod, its age in kubectl's form:\n%s", one)
	}
	if strings.ContainsAny(one, "\x1b\x07") {
		t.Errorf("a control character from the cluster reaches the terminal: %q", one)
	}
	if !strings.Contains(one, "CrashLoopBackOff^[]0;pwned^G") {
		t.Errorf("the status is not shown in caret notation:\n%s", one)
	}
	several := printed(t, podTable(list, true, now))
	if first := strings.Fields(strings.Split(several, "\n")[0]); first[0] != "NAMESPACE" {
		t.Errorf("across namespaces the header is %q, want NAMESPACE first", first)
	}
}

// TestEventTableLooksLikeKubectlEvents: oldest first, repeats counted as
// kubectl counts them, the object as kind/name.
func TestEventTableLooksLikeKubectlEvents(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	list := &v1alpha1.AccessRequestEventList{Items: []v1alpha1.AccessRequestEvent{
		{Type: "Warning", Reason: "BackOff", Message: "Back-off restarting\nfailed container", InvolvedObject: v1alpha1.AccessRequestEventObject{Kind: "Pod", Name: "web-0"},
			Count: 3, FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-time.Minute))},
		{Type: "Normal", Reason: "Scheduled", Message: "assigned", InvolvedObject: v1alpha1.AccessRequestEventObject{Kind: "Pod", Name: "web-0"},
			Count: 1, FirstTimestamp: metav1.NewTime(now.Add(-time.Hour)), LastTimestamp: metav1.NewTime(now.Add(-time.Hour))},
	}}
	out := printed(t, eventTable(list, now))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and two rows:\n%s", out)
	}
	if h := strings.Join(strings.Fields(lines[0]), " "); h != "LAST SEEN TYPE REASON OBJECT MESSAGE" {
		t.Errorf("header %q, want kubectl events' columns", h)
	}
	if !strings.Contains(lines[1], "Scheduled") || !strings.Contains(lines[2], "BackOff") {
		t.Errorf("not oldest first:\n%s", out)
	}
	for _, want := range []string{"60m", "pod/web-0", "60s (x3 over 10m)", "Back-off restarting failed container"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
}
