package e2e

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// execAs runs command in pod through accessrequests/NAME/exec as user,
// with the websocket (v5.channel.k8s.io) executor kubectl itself uses.
func execAs(ctx context.Context, t testing.TB, user, name, namespace, pod string, command ...string) (string, string, error) {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"namespace": {namespace}, "pod": {pod}, "command": command, "stdout": {"true"}, "stderr": {"true"}}
	u, err := url.Parse(cfg.Host + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + name + "/exec?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// activeRequest is the one way tests get an Active request of alice's:
// created, approved by bob, and granted. It is withdrawn when the test
// ends, so its sessions do not count against alice's limit afterwards.
func activeRequest(t testing.TB, duration time.Duration, namespaces ...string) *v1alpha1.AccessRequest {
	t.Helper()
	ar := newRequest(t, duration, namespaces...)
	approveAs(t, "bob", ar.Name)
	t.Cleanup(func() {
		_, _ = janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(context.Background(), ar.Name, &v1alpha1.Withdrawal{Reason: "test done"}, metav1.CreateOptions{})
	})
	return waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
}
