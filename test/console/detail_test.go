package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// requestAs creates an access request as user through the API, and
// withdraws it (if it still may be) when the test ends.
func requestAs(t *testing.T, user, cluster string, d time.Duration, reason string) string {
	t.Helper()
	c := liveClient(t, user)
	ar, err := c.JanusV1alpha1().AccessRequests().Create(context.Background(), &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-"},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: cluster, Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: d}, Reason: reason,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a request for %s as %s: %v", cluster, user, err)
	}
	t.Cleanup(func() {
		_, _ = c.JanusV1alpha1().AccessRequests().Withdraw(context.Background(), ar.Name, &v1alpha1.Withdrawal{Reason: "test over"}, metav1.CreateOptions{})
	})
	return ar.Name
}

// waitForPhase polls the request as user until it reaches phase.
func waitForPhase(t *testing.T, user, name string, phase v1alpha1.AccessRequestPhase) *v1alpha1.AccessRequest {
	t.Helper()
	c := liveClient(t, user)
	var ar *v1alpha1.AccessRequest
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		ar, err = c.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return ar.Status.Phase == phase, nil
	})
	if err != nil {
		got := "unknown"
		if ar != nil {
			got = fmt.Sprintf("%s (%s)", ar.Status.Phase, ar.Status.Message)
		}
		t.Fatalf("request %s did not become %s: %v; it is %s", name, phase, err, got)
	}
	return ar
}

// attr reads an attribute of the first element sel matches.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	return get(b, "reading "+name+" of "+sel, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ''}).getAttribute(%q) || ''`, sel, name)))
}

// submit clicks a form's button and waits for the page its POST leads
// to: a new document, not the one clicked on, showing waitFor.
func (b *browser) submit(what, button, waitFor string) {
	b.t.Helper()
	get(b, "marking the page before "+what, chromedp.Evaluate[bool](`document.body.dataset.submitted = 'yes'; true`))
	b.run(what, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(`body:not([data-submitted]) `+waitFor)))
}

// TestBobCannotApproveAProdRequest: bob approves for dev only. A prod
// request is in his queue without buttons, his detail page offers none, and
// his forged approval is refused by the API with a 403 naming the
// permission; carol, an approver everywhere, is offered the button and
// approves it from its page.
func TestBobCannotApproveAProdRequest(t *testing.T) {
	shots := pageShots()
	// prod has no agent in this testbed; a request may still be made.
	name := requestAs(t, "alice", "prod", time.Hour, "prod payments queue is stuck")
	card := fmt.Sprintf(`[data-testid="pending-%s"]`, name)

	bob := newBrowser(t, "bob")
	bob.signIn("bob")
	bob.open("/approvals", card+` [data-testid="cannot-decide"]`)
	if bob.exists(fmt.Sprintf(`[data-testid="approve-%s"]`, name)) || bob.exists(fmt.Sprintf(`[data-testid="deny-%s"]`, name)) {
		t.Fatal("bob is offered to decide a prod request")
	}
	if hint := bob.text(card + ` [data-testid="cannot-decide"]`); !strings.Contains(hint, "prod") {
		t.Errorf("bob's hint reads %q, want it to name prod", hint)
	}
	bob.screenshot(shots, "approvals-bob-prod")

	bob.run("following the request's link to its page",
		chromedp.Click(chromedp.CSS(card+` a[href="/requests/`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail [data-testid="cannot-decide"]`)))
	if n := bob.count(`#detail form[action^="/requests/"]`); n != 0 {
		t.Errorf("bob's page of the prod request has %d decision forms", n)
	}

	bob.forgePost("/requests/" + name + "/approve")
	msg := bob.text(`[data-testid="api-error"]`)
	for _, want := range []string{"403", `"bob"`, `"approve"`, `"clusters"`, `"prod"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("bob's forged approval shows %q, want the API's 403 naming %s", msg, want)
		}
	}
	bob.screenshot(shots, "forged-prod-approval-403")
	if ar := waitForPhase(t, "alice", name, v1alpha1.AccessRequestPending); len(ar.Status.Approvals) != 0 {
		t.Errorf("bob's refused approval was recorded: %+v", ar.Status.Approvals)
	}

	carol := newBrowser(t, "carol")
	carol.signIn("carol")
	carol.open("/approvals", fmt.Sprintf(`[data-testid="approve-%s"]`, name))

	// carol approves it for 30m from its own page, and lands back there.
	carol.open("/requests/"+name, fmt.Sprintf(`#detail [data-testid="approve-%s"]`, name))
	carol.run("choosing 30m", chromedp.SetValue(chromedp.CSS(`#approve-duration-`+name), "30m"))
	carol.submit("approving from the request's page", fmt.Sprintf(`[data-testid="approve-%s"]`, name), `#detail [data-testid="approval-carol"]`)
	if phase := carol.text(`#detail [data-testid="phase"]`); phase != "Approved" {
		// No agent serves prod here, so the grant never comes.
		t.Errorf("after carol's approval the page shows %q, want Approved", phase)
	}
	if got := carol.text(`#detail [data-testid="granted"]`); got != "30m" {
		t.Errorf("granted shown as %q, want carol's 30m", got)
	}
	// Approved and waiting for prod's agent: carol may revoke it.
	carol.open("/approvals", fmt.Sprintf(`[data-testid="active-%s"] [data-testid="revoke-%s"]`, name, name))
	if carol.exists(fmt.Sprintf(`[data-testid="extend-%s"]`, name)) {
		t.Error("an approved request not yet active is offered an extension")
	}
}

// TestDetailOfAnActiveRequest: an Active request's page shows bob's
// approval in its timeline and the grant; carol extends it from her
// Approvals page and the page shows the later end; she revokes it from the
// page with a reason and the page shows Revoked with her reason. alice,
// the requester, is offered only to withdraw.
func TestDetailOfAnActiveRequest(t *testing.T) {
	shots := pageShots()
	name := requestAs(t, "alice", "dev", time.Hour, "payments-api latency")
	if _, err := liveClient(t, "bob").JanusV1alpha1().AccessRequests().Approve(context.Background(), name, &v1alpha1.Approval{Reason: "INC-7 is open"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bob approving %s: %v", name, err)
	}
	waitForPhase(t, "alice", name, v1alpha1.AccessRequestActive)
	page := "/requests/" + name

	carol := newBrowser(t, "carol")
	carol.signIn("carol")
	carol.open(page, `#detail [data-testid="timeline"]`)
	if phase := carol.text(`#detail [data-testid="phase"]`); phase != "Active" {
		t.Fatalf("the page shows %q, want Active", phase)
	}
	if step := carol.text(`#detail [data-kind="approved"]`); !strings.Contains(step, "Approved by bob") || !strings.Contains(step, "INC-7 is open") {
		t.Errorf("the timeline's approval reads %q, want bob and his reason", step)
	}
	if !get(carol, "checking the timeline is in time order", chromedp.Evaluate[bool](`(() => {
		const ts = [...document.querySelectorAll('[data-testid="timeline"] li time')].map(t => Date.parse(t.getAttribute('datetime')));
		return ts.length >= 3 && ts.every((t, i) => i === 0 || ts[i-1] <= t);
	})()`)) {
		t.Error("the timeline has fewer than 3 steps or is not in time order")
	}
	if sa := carol.text(`#detail [data-testid="grant-payments"]`); !strings.Contains(sa, name) {
		t.Errorf("the grant in payments reads %q, want the request's ServiceAccount", sa)
	}
	// Janus files its Events in namespace default, which the shipped
	// approver role may not read: the page says so in the API's words.
	if note := carol.text(`#detail [data-testid="events-note"]`); !strings.Contains(note, "403") || !strings.Contains(note, "events") {
		t.Errorf("the Events note reads %q, want the API's 403 for events", note)
	}
	before := carol.attr(`#detail [data-testid="expires"] time`, "datetime")
	carol.screenshot(shots, "detail-active")

	card := fmt.Sprintf(`[data-testid="active-%s"]`, name)
	carol.open("/approvals", card+fmt.Sprintf(` [data-testid="extend-%s"]`, name))
	carol.screenshot(shots, "approvals-active")
	carol.run("choosing 30m more",
		chromedp.SetValue(chromedp.CSS(`#extend-duration-`+name), "30m"),
		chromedp.SendKeys(chromedp.CSS(`#extend-reason-`+name), "still bisecting"))
	carol.submit("extending by 30m", fmt.Sprintf(`[data-testid="extend-%s"]`, name), `#active-heading`)
	carol.open(page, `#detail [data-testid="extension-carol"]`)
	after := carol.attr(`#detail [data-testid="expires"] time`, "datetime")
	b, errB := time.Parse(time.RFC3339, before)
	a, errA := time.Parse(time.RFC3339, after)
	if errB != nil || errA != nil || a.Sub(b) != 30*time.Minute {
		t.Errorf("the end moved from %q to %q, want 30m later", before, after)
	}

	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	alice.open("/", fmt.Sprintf(`[data-testid="link-%s"]`, name))
	alice.run("following the request's link", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="link-%s"]`, name))),
		chromedp.WaitVisible(chromedp.CSS(`#detail`)))
	if !alice.exists(fmt.Sprintf(`[data-testid="withdraw-%s"]`, name)) {
		t.Error("alice is not offered to withdraw her active request")
	}
	if alice.exists(`#detail form[action$="/revoke"]`) || alice.exists(`#detail form[action$="/extend"]`) {
		t.Error("alice is offered to revoke or extend her own request")
	}
	alice.open("/requests/no-such-request", `[data-testid="api-error"]`)
	if msg := alice.text(`[data-testid="api-error"]`); !strings.Contains(msg, "404") || !strings.Contains(msg, `"no-such-request" not found`) {
		t.Errorf("the page of a missing request shows %q, want the API's 404", msg)
	}

	// The form requires a reason; without the form, the API does.
	carol.forgePost(page + "/revoke")
	if msg := carol.text(`[data-testid="api-error"]`); !strings.Contains(msg, "422") || !strings.Contains(msg, "reason") {
		t.Errorf("a revocation without a reason shows %q, want the API's 422 about the reason", msg)
	}
	carol.open(page, fmt.Sprintf(`[data-testid="revoke-%s"]`, name))
	carol.run("giving a reason to revoke", chromedp.SendKeys(chromedp.CSS(`#revoke-reason-`+name), "incident closed"))
	carol.submit("revoking", fmt.Sprintf(`[data-testid="revoke-%s"]`, name), `#detail [data-testid="decision"]`)
	if phase := carol.text(`#detail [data-testid="phase"]`); phase != "Revoked" {
		t.Errorf("after revoking the page shows %q, want Revoked", phase)
	}
	if d := carol.text(`#detail [data-testid="decision"]`); !strings.Contains(d, "carol") || !strings.Contains(d, "incident closed") {
		t.Errorf("the decision reads %q, want carol and her reason", d)
	}
	if carol.exists(`#detail form[action$="/revoke"]`) {
		t.Error("a revoked request still offers to revoke")
	}
	if carol.exists(`#detail [data-testid="expires"]`) {
		t.Errorf("a revoked request still shows when it ends: %q", carol.text(`#detail [data-testid="expires"]`))
	}
	// The agent removes the grant; the page then says the grant is gone.
	carol.eventually(page, `#detail`, 30*time.Second, "the grant shown as removed", func() bool {
		return carol.exists(`#detail [data-testid="grants-removed"]`)
	})
	carol.screenshot(shots, "detail-revoked")

	// Given list on events in default, which the shipped roles lack, the
	// same page merges the Events Janus filed into the timeline.
	allowEvents(t, "carol")
	// Each Event tells a step the request records, so it is folded into it.
	carol.eventually(page, `#detail`, 30*time.Second, "Janus's Events in the timeline", func() bool {
		return !carol.exists(`#detail [data-testid="events-note"]`) && strings.Contains(carol.text(`#detail [data-kind="decided"] .source`), "Event")
	})
	for _, kind := range []string{"requested", "approved", "extended", "decided"} {
		if src := carol.text(`#detail [data-kind="` + kind + `"] .source`); !strings.Contains(src, "Event") {
			t.Errorf("the %s step's source is %q, want its Event folded in", kind, src)
		}
	}
	carol.screenshot(shots, "detail-with-events")
}

// allowEvents lets user read Events in namespace default, where Janus
// files those about AccessRequests, until the test ends.
func allowEvents(t *testing.T, user string) {
	t.Helper()
	kube := kubeAs(t, "admin")
	ctx := context.Background()
	name := "janus-test-events-reader-" + user
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := kube.RbacV1().Roles(metav1.NamespaceDefault).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Role %s: %v", name, err)
	}
	t.Cleanup(func() { _ = kube.RbacV1().Roles(metav1.NamespaceDefault).Delete(ctx, name, metav1.DeleteOptions{}) })
	if _, err := kube.RbacV1().RoleBindings(metav1.NamespaceDefault).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating RoleBinding %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().RoleBindings(metav1.NamespaceDefault).Delete(ctx, name, metav1.DeleteOptions{})
	})
}

// TestDetailShowsTheAPIsRefusal: dave, who may not read requests, gets the
// API's 403 on a request's page; alice, whose request it is, withdraws it
// there.
func TestDetailShowsTheAPIsRefusal(t *testing.T) {
	name := requestAs(t, "alice", "prod", time.Hour, "dave must not see this")
	dave := newBrowser(t, "dave")
	dave.signIn("dave")
	dave.open("/requests/"+name, `[data-testid="api-error"]`)
	if msg := dave.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") || !strings.Contains(msg, `"dave"`) || !strings.Contains(msg, `cannot get resource "accessrequests"`) {
		t.Errorf("dave's page shows %q, want the API's 403 naming dave and the permission", msg)
	}
	if dave.exists(`#detail`) {
		t.Error("dave sees the request's details")
	}
	dave.screenshot(pageShots(), "detail-403")

	// alice withdraws it from its page and stays there.
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	alice.open("/requests/"+name, fmt.Sprintf(`[data-testid="withdraw-%s"]`, name))
	alice.submit("withdrawing from the request's page", fmt.Sprintf(`[data-testid="withdraw-%s"]`, name), `#detail [data-testid="decision"]`)
	if phase := alice.text(`#detail [data-testid="phase"]`); phase != "Withdrawn" {
		t.Errorf("after withdrawing the page shows %q, want Withdrawn", phase)
	}
	if d := alice.text(`#detail [data-testid="decision"]`); !strings.Contains(d, "alice") {
		t.Errorf("the decision reads %q, want alice's withdrawal", d)
	}
}
