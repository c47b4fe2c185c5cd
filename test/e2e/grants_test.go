package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// TestApprovalGrantsNarrowAccessAndRevokeTakesItBack: approval makes the
// agent create exactly the per-request objects, the target's own RBAC lets
// the request's ServiceAccount exec in the granted namespace and nowhere
// else, and a revocation removes everything.
func TestApprovalGrantsNarrowAccessAndRevokeTakesItBack(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, time.Hour, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)

	if active.Status.ExpiresAt == nil || active.Status.ActivatedAt == nil ||
		active.Status.ExpiresAt.Sub(active.Status.ActivatedAt.Time) != time.Hour {
		t.Errorf("activatedAt %v, expiresAt %v: want an hour apart", active.Status.ActivatedAt, active.Status.ExpiresAt)
	}
	if len(active.Status.Grants) != 1 || active.Status.Grants[0].Namespace != "payments" {
		t.Errorf("status.grants = %+v, want one in payments", active.Status.Grants)
	}
	objs := grantObjects(t, ar.Name)
	for _, want := range []string{"serviceaccount/janus/janus-" + ar.Name, "rolebinding/payments/janus-" + ar.Name + " ClusterRole/janus-grant"} {
		if !hasObject(objs, want) {
			t.Errorf("target lacks %s; has %v", want, objs)
		}
	}
	if len(objs) != 2 {
		t.Errorf("target holds %v, want only the ServiceAccount and the RoleBinding in payments", objs)
	}
	checks := []struct {
		verb, ns, resource, sub string
		want                    bool
	}{
		{"create", "payments", "pods", "exec", true},
		{"get", "payments", "pods", "log", true},
		{"list", "payments", "pods", "", true},
		{"create", "default", "pods", "exec", false},
		{"delete", "payments", "pods", "", false},
		{"get", "payments", "secrets", "", false},
		{"create", "payments", "pods", "portforward", false},
	}
	for _, c := range checks {
		if got := canI(t, ar.Name, c.verb, c.ns, c.resource, c.sub); got != c.want {
			t.Errorf("may %s %s/%s in %s: %v, want %v", c.verb, c.resource, c.sub, c.ns, got, c.want)
		}
	}

	if _, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: "e2e over"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("carol revoking: %v", err)
	}
	waitForNoGrant(t, ar.Name, 10*time.Second)
	if canI(t, ar.Name, "create", "payments", "pods", "exec") {
		t.Errorf("the ServiceAccount may still exec after the revocation")
	}
	eventually(t, "the request records the removal", func() error {
		got, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionProvisioned); c == nil || c.Reason != "GrantRemoved" {
			return fmt.Errorf("Provisioned condition %+v, want reason GrantRemoved", c)
		}
		return nil
	})
}

func TestWithdrawRemovesGrant(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, time.Hour, "payments", "default")
	approveAs(t, "bob", ar.Name)
	waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	if objs := grantObjects(t, ar.Name); len(objs) != 3 {
		t.Errorf("target holds %v, want a ServiceAccount and a RoleBinding in each of 2 namespaces", objs)
	}
	if _, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(bg(t), ar.Name, &v1alpha1.Withdrawal{Reason: "done"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("alice withdrawing: %v", err)
	}
	waitForNoGrant(t, ar.Name, 10*time.Second)
}

// TestExpiryRemovesGrant: the grant disappears at expiresAt.
func TestExpiryRemovesGrant(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, 6*time.Second, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	if len(grantObjects(t, ar.Name)) == 0 {
		t.Fatalf("no grant while Active")
	}
	waitForNoGrant(t, ar.Name, 30*time.Second)
	removedAt := time.Now()
	late := removedAt.Sub(active.Status.ExpiresAt.Time)
	t.Logf("grant removed %s after expiresAt (poll resolution 20ms)", late.Round(time.Millisecond))
	if late < 0 {
		t.Errorf("the grant went %s before expiresAt", -late)
	}
	if late > expiryBound {
		t.Errorf("the grant went %s after expiresAt, want at most %s", late.Round(time.Millisecond), expiryBound)
	}
	expired := waitForPhase(t, ar.Name, v1alpha1.AccessRequestExpired, 10*time.Second)
	if !meta.IsStatusConditionTrue(expired.Status.Conditions, v1alpha1.ConditionExpired) {
		t.Errorf("conditions %+v, want Expired", expired.Status.Conditions)
	}
}

// TestAgentRefusesExcludedNamespace: Janus allows "restricted", the agent of
// dev does not: the request fails with a message a user can act on, and
// nothing is left in the target.
func TestAgentRefusesExcludedNamespace(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, time.Hour, "payments", "restricted")
	approveAs(t, "bob", ar.Name)
	failed := waitForPhase(t, ar.Name, v1alpha1.AccessRequestFailed, 30*time.Second)
	if !strings.Contains(failed.Status.Message, "restricted") {
		t.Errorf("message %q does not name the refused namespace", failed.Status.Message)
	}
	if objs := grantObjects(t, ar.Name); len(objs) != 0 {
		t.Errorf("a refused grant left %v in the target", objs)
	}
}

// TestExtendMovesExpiry: an extended request stays Active, and keeps its
// grant, through its old expiresAt, and expires at the new one.
func TestExtendMovesExpiry(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, 6*time.Second, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	grantGone := watchGrantRemoval(t, ar.Name)
	const more = 8 * time.Second
	extended, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Extend(bg(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: more}, Reason: "more"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("carol extending: %v", err)
	}
	oldExpiry, newExpiry := active.Status.ExpiresAt.Time, extended.Status.ExpiresAt.Time
	if want := oldExpiry.Add(more); !newExpiry.Equal(want) {
		t.Fatalf("expiresAt = %s, want %s", newExpiry, want)
	}
	if !time.Now().Before(oldExpiry) {
		t.Fatalf("the extension was applied only after the old expiresAt %s; the test cannot tell whether it moved the expiry", oldExpiry)
	}

	// Every change of the request from the extension on, until it leaves Active.
	w, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Watch(bg(t), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", ar.Name).String(), ResourceVersion: extended.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var left time.Time
	var final *v1alpha1.AccessRequest
	timeout := time.After(time.Until(newExpiry) + 30*time.Second)
	for final == nil {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch of the request closed before it left Active")
			}
			if got, isAR := ev.Object.(*v1alpha1.AccessRequest); isAR && got.Status.Phase != v1alpha1.AccessRequestActive {
				left, final = time.Now(), got
			}
		case <-timeout:
			t.Fatalf("the request was still Active 30s after its new expiresAt %s", newExpiry)
		}
	}
	if final.Status.Phase != v1alpha1.AccessRequestExpired {
		t.Fatalf("the extended request left Active for %s (%q), want Expired", final.Status.Phase, final.Status.Message)
	}
	if left.Before(newExpiry) {
		t.Errorf("the request expired %s before its new expiresAt (the old one was %s)", newExpiry.Sub(left), oldExpiry)
	}
	late := left.Sub(newExpiry)
	t.Logf("expired %s after the new expiresAt", late.Round(time.Millisecond))
	if late > expiryBound {
		t.Errorf("the request expired %s after its new expiresAt, want at most %s", late.Round(time.Millisecond), expiryBound)
	}
	select {
	case removed := <-grantGone:
		if removed.Before(newExpiry) {
			t.Errorf("the grant was removed %s before the new expiresAt (the old one was %s)", newExpiry.Sub(removed), oldExpiry)
		}
	case <-time.After(expiryBound):
		t.Errorf("the grant was still in the target %s after the request expired", expiryBound)
	}
}

// watchGrantRemoval watches the target for the request's ServiceAccount,
// which must exist now, and sends when it is deleted.
func watchGrantRemoval(t *testing.T, name string) <-chan time.Time {
	t.Helper()
	sas := devCluster(t).CoreV1().ServiceAccounts("janus")
	sel := metav1.ListOptions{LabelSelector: requestLabel + "=" + name}
	list, err := sas.List(bg(t), sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("the target holds %d ServiceAccounts of %s, want 1", len(list.Items), name)
	}
	sel.ResourceVersion = list.ResourceVersion
	w, err := sas.Watch(bg(t), sel)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	removed := make(chan time.Time, 1)
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				removed <- time.Now()
				return
			}
		}
	}()
	return removed
}

// TestAgentTokensAreVerified: tokens from the real target cluster for the
// wrong audience or the wrong ServiceAccount are refused at the handshake.
func TestAgentTokensAreVerified(t *testing.T) {
	t.Parallel()
	c := devCluster(t)
	mint := func(namespace, sa string, audiences ...string) string {
		tr, err := c.CoreV1().ServiceAccounts(namespace).CreateToken(bg(t), sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("minting a token for %s/%s: %v", namespace, sa, err)
		}
		return tr.Status.Token
	}
	caPEM, err := os.ReadFile(bed.JanusCAFile())
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(cluster, token string) (int, string) {
		status, body, err := testenv.ConnectAnswer(bed.JanusAddress(), caPEM, cluster, token)
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	// Another cluster with trust of its own: its own issuer, and (so that
	// only the issuer tells them apart) dev's keys.
	admin := janusAs(t, "admin")
	dev, err := admin.JanusV1alpha1().Clusters().Get(bg(t), "dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const foreignIssuer = "https://foreign.example.com"
	foreign, err := admin.JanusV1alpha1().Clusters().Create(bg(t), &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "foreign-"},
		Spec: v1alpha1.ClusterSpec{
			DisplayName: "A cluster dev's agent does not belong to",
			Agent:       v1alpha1.ClusterAgent{Issuer: foreignIssuer, JWKS: dev.Spec.Agent.JWKS, ServiceAccount: dev.Spec.Agent.ServiceAccount},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("registering a cluster with trust of its own: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.JanusV1alpha1().Clusters().Delete(context.Background(), foreign.Name, metav1.DeleteOptions{})
	})
	if dev.Spec.Agent.Issuer == "" || dev.Spec.Agent.Issuer == foreignIssuer {
		t.Fatalf("dev trusts issuer %q; the test needs it to differ from %s", dev.Spec.Agent.Issuer, foreignIssuer)
	}

	cases := []struct {
		name, cluster, token, reason string
	}{
		{"the target's default audience", "dev", mint("janus", "janus-agent"), "invalid_token"},
		{"another audience", "dev", mint("janus", "janus-agent", "vault"), "invalid_token"},
		{"another ServiceAccount", "dev", mint("default", "default", tunnel.Audience), "wrong_service_account"},
		{"a cluster it does not belong to", foreign.Name, mint("janus", "janus-agent", tunnel.Audience), "invalid_token"},
	}
	for _, tc := range cases {
		got, body := handshake(tc.cluster, tc.token)
		if want := "agent identity refused: " + tc.reason; got != http.StatusUnauthorized || body != want {
			t.Errorf("%s: handshake answered %d %q, want 401 %q", tc.name, got, body, want)
		}
	}
	// The log says which issuer the token named and which one was trusted.
	eventually(t, "janus-apiserver logs why the foreign cluster's handshake was refused", func() error {
		for _, line := range strings.Split(janusLog(t), "\n") {
			if strings.Contains(line, `"Refused agent" cluster="`+foreign.Name+`"`) &&
				strings.Contains(line, "issued by a different provider") && strings.Contains(line, foreignIssuer) && strings.Contains(line, dev.Spec.Agent.Issuer) {
				return nil
			}
		}
		return fmt.Errorf("no refusal of %s naming issuers %s and %s", foreign.Name, foreignIssuer, dev.Spec.Agent.Issuer)
	})
}

// janusLog is what every janus-apiserver process of the testbed logged.
func janusLog(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, p := range bed.Processes() {
		if p.Name == "janus-apiserver" {
			data, err := readFile(p.LogFile)
			if err != nil {
				t.Fatal(err)
			}
			all.WriteString(data)
		}
	}
	return all.String()
}
