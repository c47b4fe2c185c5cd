package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
	if late := removedAt.Sub(active.Status.ExpiresAt.Time); late < -time.Second {
		t.Errorf("the grant went %s before expiresAt", -late)
	} else {
		t.Logf("grant removed %s after expiresAt (poll resolution 20ms)", late.Round(time.Millisecond))
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

func TestExtendMovesExpiry(t *testing.T) {
	t.Parallel()
	ar := newRequest(t, 6*time.Second, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	extended, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Extend(bg(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "more"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("carol extending: %v", err)
	}
	if want := active.Status.ExpiresAt.Add(time.Hour); !extended.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", extended.Status.ExpiresAt, want)
	}
	// Past the original expiry the request is still Active and granted.
	time.Sleep(time.Until(active.Status.ExpiresAt.Add(2 * time.Second))) // waiting for wall-clock time itself, not for a condition
	got, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.AccessRequestActive || len(grantObjects(t, ar.Name)) == 0 {
		t.Errorf("after the original expiry: phase %s, grant %v; want Active with its grant", got.Status.Phase, grantObjects(t, ar.Name))
	}
	if _, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(bg(t), ar.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForNoGrant(t, ar.Name, 10*time.Second)
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
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	handshake := func(cluster, token string) int {
		h := http.Header{}
		h.Set(tunnel.HeaderCluster, cluster)
		h.Set(tunnel.HeaderAgentToken, token)
		d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
		conn, resp, err := d.Dial("wss://"+bed.JanusAddress()+tunnel.ConnectPath, h)
		if conn != nil {
			conn.Close()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dialing /connect: %v", err)
		}
		return resp.StatusCode
	}
	cases := []struct {
		name, cluster, token string
	}{
		{"the target's default audience", "dev", mint("janus", "janus-agent")},
		{"another audience", "dev", mint("janus", "janus-agent", "vault")},
		{"another ServiceAccount", "dev", mint("default", "default", tunnel.Audience)},
		{"a cluster it does not belong to", "prod", mint("janus", "janus-agent", tunnel.Audience)},
	}
	for _, tc := range cases {
		if got := handshake(tc.cluster, tc.token); got != http.StatusUnauthorized {
			t.Errorf("%s: handshake answered %d, want 401", tc.name, got)
		}
	}
}
