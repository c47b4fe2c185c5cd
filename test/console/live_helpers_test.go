package console

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// liveClient is the Janus client of a demo user, with the user's own token.
func liveClient(t testing.TB, user string) versioned.Interface {
	t.Helper()
	return janusClient(t, bed, user)
}

// janusClient is the Janus client of a demo user of tb.
func janusClient(t testing.TB, tb *testenv.Testbed, user string) versioned.Interface {
	t.Helper()
	cfg, err := tb.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("building %s's Janus client: %v", user, err)
	}
	return c
}

// liveRequest creates an hour's request for payments in dev as user.
func liveRequest(t testing.TB, ctx context.Context, user, reason string) string {
	t.Helper()
	ar, err := liveClient(t, user).JanusV1alpha1().AccessRequests().Create(ctx, &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-"},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "dev", Namespaces: []string{"payments"},
			Duration: metav1.Duration{Duration: time.Hour}, Reason: reason,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting access as %s: %v", user, err)
	}
	return ar.Name
}

// liveWithdraw withdraws name as user, ending its grant.
func liveWithdraw(t testing.TB, user, name string) {
	t.Helper()
	_, err := liveClient(t, user).JanusV1alpha1().AccessRequests().Withdraw(context.Background(), name, &v1alpha1.Withdrawal{Reason: "test done"}, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("withdrawing %s as %s: %v", name, user, err)
	}
}

// phaseClock watches one request as admin and tells when the API first
// reported each phase.
type phaseClock struct {
	reached map[v1alpha1.AccessRequestPhase]chan time.Time
}

// watchPhases starts watching name; the watch ends with ctx.
func watchPhases(t testing.TB, ctx context.Context, name string, phases ...v1alpha1.AccessRequestPhase) *phaseClock {
	t.Helper()
	w, err := liveClient(t, "admin").JanusV1alpha1().AccessRequests().Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	if err != nil {
		t.Fatalf("watching %s as admin: %v", name, err)
	}
	pc := &phaseClock{reached: map[v1alpha1.AccessRequestPhase]chan time.Time{}}
	for _, p := range phases {
		pc.reached[p] = make(chan time.Time, 1)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			at := time.Now()
			ar, ok := ev.Object.(*v1alpha1.AccessRequest)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			if ch, want := pc.reached[ar.Status.Phase]; want {
				select {
				case ch <- at:
				default:
				}
			}
		}
	}()
	return pc
}

// at is when the API reported phase, or fails after timeout.
func (pc *phaseClock) at(t testing.TB, phase v1alpha1.AccessRequestPhase, timeout time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-pc.reached[phase]:
		pc.reached[phase] <- at
		return at
	case <-time.After(timeout):
		t.Fatalf("the API did not report %s within %s", phase, timeout)
		return time.Time{}
	}
}

// pageWatcher records, from before any page script runs, every
// Content-Security-Policy violation of each document the browser opens and
// how often its live stream opened.
const pageWatcher = `window.__cspViolations = [];
window.__liveOpens = 0;
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
document.addEventListener('htmx:sseOpen', () => { window.__liveOpens++; });`

// watchPages installs pageWatcher for the documents opened from now on.
func (b *browser) watchPages() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageWatcher}); err != nil {
		b.t.Fatalf("watching %s's pages for CSP violations and live streams: %v", b.name, err)
	}
}

// cspViolations are those of the current document.
func (b *browser) cspViolations() []string {
	b.t.Helper()
	return get(b, "reading CSP violations", chromedp.Evaluate[[]string](`window.__cspViolations || ['the CSP watcher did not run']`))
}

// markDocument tags the current document; sameDocument says whether it is
// still the one shown, i.e. the page was not reloaded or left.
func (b *browser) markDocument() string {
	b.t.Helper()
	mark := fmt.Sprintf("doc-%d", time.Now().UnixNano())
	get(b, "marking the document", chromedp.Evaluate[bool](fmt.Sprintf(`(window.__janusDocument = %q, true)`, mark)))
	return mark
}

func (b *browser) sameDocument(mark string) bool {
	b.t.Helper()
	return get(b, "reading the document's mark", chromedp.Evaluate[string](`window.__janusDocument || ''`)) == mark
}

// liveReady waits until the page's live stream is open, so that what
// follows is measured from a listening page.
func (b *browser) liveReady() {
	b.t.Helper()
	b.waitJS("the live stream open", `window.__liveOpens > 0`, 10*time.Second)
}

// stampWhen records in the page the time (ms since the epoch, the clock
// the test reads too) at which the text of sel first becomes want, seen by
// a MutationObserver, so the measure does not depend on how often the
// test polls.
func (b *browser) stampWhen(key, sel, want string) {
	b.t.Helper()
	get(b, "watching "+sel+" for "+want, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  window.__stamps = window.__stamps || {};
  const key = %q, sel = %q, want = %q;
  const check = () => { const el = document.querySelector(sel); if (!window.__stamps[key] && el && el.textContent.trim() === want) { window.__stamps[key] = performance.timeOrigin + performance.now(); } };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
  check();
  return true;
})()`, key, sel, want)))
}

// stamp waits for the stamp key and returns it as a time.
func (b *browser) stamp(key string, timeout time.Duration) time.Time {
	b.t.Helper()
	expr := fmt.Sprintf(`(window.__stamps && window.__stamps[%q]) || 0`, key)
	var ms float64
	b.waitJS(key, "("+expr+") > 0", timeout)
	ms = get(b, "reading the stamp "+key, chromedp.Evaluate[float64](expr))
	return time.UnixMicro(int64(ms * 1000))
}

// waitJS polls expr in the page until it is true, or fails after timeout.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !get(b, "checking "+what, chromedp.Evaluate[bool](expr)) {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %s", what, timeout)
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("%s: %v", what, b.ctx.Err())
		case <-time.After(10 * time.Millisecond): // polling the page, bounded by the deadline
		}
	}
}

// kubeAs is the Kubernetes client of a demo user.
func kubeAs(t testing.TB, user string) kubernetes.Interface {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("building %s's Kubernetes client: %v", user, err)
	}
	return c
}
