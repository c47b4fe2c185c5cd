package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-base/metrics/testutil"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The metrics tests read counters of the whole replica, so they are not
// parallel: Go runs them before any parallel test starts, and nothing else
// moves those counters meanwhile.

// scraped is one scrape of a /metrics endpoint.
type scraped struct{ testutil.Metrics }

// value is the sum of the samples of name whose labels include labels.
func (s scraped) value(name string, labels ...string) float64 {
	var sum float64
	for _, sample := range s.Metrics[name] {
		have := map[string]string{}
		for k, v := range sample.Metric {
			have[string(k)] = string(v)
		}
		matches := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				matches = false
			}
		}
		if matches {
			sum += float64(sample.Value)
		}
	}
	return sum
}

func (s scraped) has(name string) bool { return len(s.Metrics[name]) > 0 }

func scrape(t testing.TB, client *http.Client, url string) scraped {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %s: %s", url, resp.Status, body)
	}
	m := testutil.NewMetrics()
	if err := testutil.ParseMetrics(string(body), &m); err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return scraped{m}
}

// janusMetricsClient reaches janus-apiserver directly (not through the
// aggregator, which proxies only the API group) with a client certificate
// of system:masters, which its delegated authorization lets read /metrics.
func janusMetricsClient(t testing.TB) (*http.Client, string) {
	t.Helper()
	admin := bed.Target("dev").AdminConfig()
	client, err := rest.HTTPClientFor(&rest.Config{
		Host:            "https://" + bed.JanusAddress(),
		TLSClientConfig: rest.TLSClientConfig{CAFile: bed.JanusCAFile(), CertFile: admin.CertFile, KeyFile: admin.KeyFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, "https://" + bed.JanusAddress() + "/metrics"
}

// TestMetricsFollowOneRequest: one request created, approved, exec'd into
// and revoked moves janus-apiserver's lifecycle, grant, session and agent
// metrics by exactly what it did, and the agent's own metrics show it.
func TestMetricsFollowOneRequest(t *testing.T) {
	client, url := janusMetricsClient(t)
	agentURL := "http://" + bed.Target("dev").HealthAddress() + "/metrics"
	before := scrape(t, client, url)
	agentBefore := scrape(t, http.DefaultClient, agentURL)

	ar := newRequest(t, time.Hour, "payments")
	approveAs(t, "bob", ar.Name)
	waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	if out, errOut, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "echo", "metrics-ok"); err != nil || strings.TrimSpace(out) != "metrics-ok" {
		t.Fatalf("exec through Janus: %q, %v (stderr %q)", out, err, errOut)
	}
	if _, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: "metrics e2e"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("carol revoking: %v", err)
	}
	waitForPhase(t, ar.Name, v1alpha1.AccessRequestRevoked, 30*time.Second)
	waitForNoGrant(t, ar.Name, 30*time.Second)

	type delta struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}
	checks := []delta{
		{"janus_accessrequest_phase_transitions_total", []string{"from", "Pending", "to", "Approved"}, 1, false},
		{"janus_accessrequest_phase_transitions_total", []string{"from", "Approved", "to", "Active"}, 1, false},
		{"janus_accessrequest_phase_transitions_total", []string{"from", "Active", "to", "Revoked"}, 1, false},
		{"janus_accessrequests", []string{"phase", "Revoked"}, 1, false},
		{"janus_accessrequest_activation_duration_seconds_count", nil, 1, false},
		// At least one: an ensure is idempotent, and the controller may
		// ensure a grant again (a status write that conflicted, a
		// reconcile after an agent reconnected) with the same outcome.
		{"janus_grant_provisioning_duration_seconds_count", nil, 1, true},
		{"janus_session_ends_total", []string{"reason", "command_ended"}, 1, false},
		{"janus_session_bytes_total", []string{"direction", "out"}, 1, true},
		{"janus_agent_calls_total", []string{"call", "ensure_grant", "result", "ok"}, 1, true},
		{"janus_agent_calls_total", []string{"call", "remove_grant", "result", "ok"}, 1, true},
		{"janus_agent_calls_total", []string{"call", "open_stream", "result", "ok"}, 1, true},
	}
	var after scraped
	eventually(t, "janus-apiserver's metrics show the request", func() error {
		after = scrape(t, client, url)
		var wrong []string
		for _, c := range checks {
			got := after.value(c.name, c.labels...) - before.value(c.name, c.labels...)
			if (c.atLeast && got < c.want) || (!c.atLeast && got != c.want) {
				wrong = append(wrong, fmt.Sprintf("%s%v moved by %v, want %v%v", c.name, c.labels, got, map[bool]string{true: "≥ ", false: ""}[c.atLeast], c.want))
			}
		}
		// The session leaves the open gauge once its Session is written
		// closed, a moment after its end is counted.
		if got := after.value("janus_session_open"); got != before.value("janus_session_open") {
			wrong = append(wrong, fmt.Sprintf("janus_session_open is %v after the session ended, was %v before", got, before.value("janus_session_open")))
		}
		if len(wrong) > 0 {
			return fmt.Errorf("%s", strings.Join(wrong, "; "))
		}
		return nil
	})
	if got := after.value("janus_tunnel_connected_agents", "cluster", "dev"); got != 1 {
		t.Errorf("janus_tunnel_connected_agents{cluster=dev} = %v, want 1", got)
	}
	t.Logf("approve → Active: %.1f ms (histogram sum delta); grant provisioning %.1f ms",
		1000*(after.value("janus_accessrequest_activation_duration_seconds_sum")-before.value("janus_accessrequest_activation_duration_seconds_sum")),
		1000*(after.value("janus_grant_provisioning_duration_seconds_sum")-before.value("janus_grant_provisioning_duration_seconds_sum")))
	for _, name := range []string{"janus_build_info", "workqueue_adds_total", "leader_election_master_status"} {
		if !after.has(name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if after.value("workqueue_adds_total", "name", "janus_lifecycle") <= before.value("workqueue_adds_total", "name", "janus_lifecycle") {
		t.Errorf("the lifecycle controller's work queue adds did not move")
	}
	if got := after.value("leader_election_master_status", "name", "janus-lifecycle-controller"); got != 1 {
		t.Errorf("leader_election_master_status{name=janus-lifecycle-controller} = %v, want 1 (the only replica leads)", got)
	}

	agentAfter := scrape(t, http.DefaultClient, agentURL)
	if got := agentAfter.value("janus_agent_tunnel_connected"); got != 1 {
		t.Errorf("the agent's janus_agent_tunnel_connected = %v, want 1", got)
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"janus_agent_calls_served_total", []string{"call", "ensure_grant", "result", "ok"}},
		{"janus_agent_calls_served_total", []string{"call", "remove_grant", "result", "ok"}},
		{"janus_agent_calls_served_total", []string{"call", "exec", "result", "ok"}},
		{"janus_agent_grants_ensured_total", nil},
		{"janus_agent_grants_removed_total", nil},
	} {
		if got := agentAfter.value(c.name, c.labels...) - agentBefore.value(c.name, c.labels...); got < 1 {
			t.Errorf("the agent's %s%v moved by %v, want ≥ 1", c.name, c.labels, got)
		}
	}
}

// TestAgentHealthFollowsTheTunnel: the agent's /healthz and /readyz are
// 200 while its tunnel is up and 503 with the reason once Janus stops
// trusting it, and 200 again when trust is back.
func TestAgentHealthFollowsTheTunnel(t *testing.T) {
	target := bed.Target("dev")
	base := "http://" + target.HealthAddress()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	waitHealth := func(want int, fragment string) {
		t.Helper()
		var code int
		var body string
		err := wait.PollUntilContextTimeout(bg(t), 50*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
			code, body = get("/healthz")
			return code == want && strings.Contains(body, fragment), nil
		})
		if err != nil {
			t.Fatalf("/healthz answered %d %q, want %d with %q", code, body, want, fragment)
		}
		if code, body := get("/readyz"); code != want {
			t.Errorf("/readyz answered %d %q while /healthz answered %d", code, body, want)
		}
	}
	waitHealth(http.StatusOK, "up since")

	admin := janusAs(t, "admin")
	dev, err := admin.JanusV1alpha1().Clusters().Get(bg(t), "dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trusted := dev.Spec.Agent
	distrusted := trusted
	distrusted.Issuer = "https://not-dev.clusters.janus.test"
	// The Cluster's status changes as the agent comes and goes: retry
	// the trust's write on a conflict.
	setTrust := func(agent v1alpha1.ClusterAgent) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			c, err := admin.JanusV1alpha1().Clusters().Get(context.Background(), "dev", metav1.GetOptions{})
			if err != nil {
				return err
			}
			c.Spec.Agent = agent
			_, err = admin.JanusV1alpha1().Clusters().UpdateAgent(context.Background(), "dev", c, metav1.UpdateOptions{})
			return err
		})
	}
	restore := func() error { return setTrust(trusted) }
	t.Cleanup(func() {
		if err := restore(); err != nil {
			t.Errorf("restoring dev's agent trust: %v", err)
		}
		if err := target.WaitConnected(context.Background(), true); err != nil {
			t.Errorf("the agent did not reconnect: %v", err)
		}
	})
	if err := setTrust(distrusted); err != nil {
		t.Fatalf("taking dev's agent trust away: %v", err)
	}
	waitHealth(http.StatusServiceUnavailable, "the tunnel to janus-apiserver is down")
	if _, body := get("/metrics"); !strings.Contains(body, "janus_agent_tunnel_connected 0") {
		t.Errorf("the agent's /metrics does not say the tunnel is down")
	}

	if err := restore(); err != nil {
		t.Fatalf("restoring dev's agent trust: %v", err)
	}
	if err := target.WaitConnected(bg(t), true); err != nil {
		t.Fatal(err)
	}
	waitHealth(http.StatusOK, "up since")
}

// TestJanusLogsJSONLines: with --logging-format=json every line
// janus-apiserver writes is a JSON object, kine's logrus lines included.
func TestJanusLogsJSONLines(t *testing.T) {
	restartJanusWith(t, "--logging-format=json")
	// Something to log after the start: a decision and a grant.
	ar := newRequest(t, time.Hour, "payments")
	approveAs(t, "bob", ar.Name)
	waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	t.Cleanup(func() {
		_, _ = janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(context.Background(), ar.Name, &v1alpha1.Withdrawal{Reason: "test done"}, metav1.CreateOptions{})
	})

	var lines []string
	eventually(t, "janus-apiserver logged the grant", func() error {
		var err error
		lines, err = linesOfLatestRun(bed.LogDir()+"/janus-apiserver.log", "--logging-format=json")
		if err != nil {
			return err
		}
		for _, l := range lines {
			if strings.Contains(l, `"msg":"Granted"`) && strings.Contains(l, ar.Name) {
				return nil
			}
		}
		return fmt.Errorf("no Granted line for %s among %d lines", ar.Name, len(lines))
	})
	fromLogrus := 0
	for _, l := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Errorf("a line is not JSON: %q", l)
			continue
		}
		if _, ok := entry["msg"]; !ok {
			t.Errorf("a JSON line has no msg: %q", l)
		}
		if entry["logger"] == "logrus" {
			fromLogrus++
		}
	}
	if fromLogrus == 0 {
		t.Errorf("none of the %d lines came from logrus (kine, remotedialer) through klog", len(lines))
	}
	t.Logf("%d JSON lines, %d of them from logrus", len(lines), fromLogrus)
}

// linesOfLatestRun returns the lines the last run of the process whose
// command line holds flag wrote to the log at path (the testbed heads each
// run with "# binary args" and its start time).
func linesOfLatestRun(path, flag string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	inRun := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			if strings.Contains(line, "janus-apiserver") && strings.Contains(line, " --") {
				inRun = strings.Contains(line, flag)
				lines = nil
			}
			continue
		}
		if inRun && strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	if !inRun {
		return nil, fmt.Errorf("the last run in %s is not one with %s", path, flag)
	}
	return lines, sc.Err()
}
