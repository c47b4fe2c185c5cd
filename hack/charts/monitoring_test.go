package charts

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkMonitoring checks the PrometheusRule's six alerts and the Grafana
// dashboard's ConfigMap as observability-values.yaml renders them.
func checkMonitoring(t *testing.T, r rendered) {
	t.Helper()
	rule := r.mustFind(t, "PrometheusRule", "janus")
	if got := rule.GetLabels()["release"]; got != "prometheus" {
		t.Errorf("the PrometheusRule lacks monitoring.prometheusRule.labels: release=%q", got)
	}
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	alerts := map[string]map[string]any{}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, rr := range rules {
			m := rr.(map[string]any)
			alerts[m["alert"].(string)] = m
		}
	}
	want := map[string][]string{
		"JanusAPIServiceUnavailable": {`aggregator_unavailable_apiservice{name="v1alpha1.janus.infroware.io"}`},
		"JanusAgentDisconnected":     {"max by (cluster) (janus_tunnel_connected_agents) == 0"},
		"JanusGrantFailures":         {"janus_grant_provisioning_failures_total", "> 0"},
		"JanusExpiryLate":            {"histogram_quantile(0.99", "janus_accessrequest_expiry_lateness_seconds_bucket", "> 1"},
		"JanusReplicaHeartbeatStale": {"janus_replica_heartbeat_stale", "== 1"},
		"JanusReplicaLost":           {"janus_lost_replicas_total", "> 0"},
	}
	for name, fragments := range want {
		a, ok := alerts[name]
		if !ok {
			t.Errorf("no alert %s; got %s", name, jsonOf(t, alerts))
			continue
		}
		expr, _ := a["expr"].(string)
		for _, f := range fragments {
			if !strings.Contains(expr, f) {
				t.Errorf("alert %s: expr %q lacks %q", name, expr, f)
			}
		}
		annotations, _ := a["annotations"].(map[string]any)
		if s, _ := annotations["summary"].(string); s == "" || strings.Contains(s, "{{ .") {
			t.Errorf("alert %s: summary %q is empty or holds a Helm action", name, s)
		}
	}
	if got := alerts["JanusAgentDisconnected"]["for"]; got != "10m" {
		t.Errorf("JanusAgentDisconnected waits %v, want the 10m of monitoring.prometheusRule.agentDisconnectedFor", got)
	}
	if d, _ := alerts["JanusAgentDisconnected"]["annotations"].(map[string]any)["description"].(string); !strings.Contains(d, "{{ $labels.cluster }}") || !strings.Contains(d, "10m") {
		t.Errorf("JanusAgentDisconnected's description %q lost Prometheus's $labels.cluster or the wait", d)
	}

	cm := r.mustFind(t, "ConfigMap", "janus-grafana-dashboard")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap is not labelled grafana_dashboard: \"1\"")
	}
	if cm.GetAnnotations()["grafana_folder"] != "Janus" {
		t.Errorf("the dashboard ConfigMap lacks monitoring.grafanaDashboard.annotations")
	}
	raw, _, _ := unstructured.NestedString(cm.Object, "data", "janus.json")
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 10 {
		t.Errorf("the dashboard has uid %q and %d panels", dash.UID, len(dash.Panels))
	}
	var used []string
	metric := regexp.MustCompile(`\bjanus_[a-z_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, q := range p.Targets {
			used = append(used, metric.FindAllString(q.Expr, -1)...)
		}
	}
	for _, m := range []string{"janus_accessrequests", "janus_accessrequest_phase_transitions_total", "janus_accessrequest_activation_duration_seconds_bucket",
		"janus_accessrequest_expiry_lateness_seconds_bucket", "janus_grant_provisioning_failures_total", "janus_session_open", "janus_session_bytes_total",
		"janus_session_ends_total", "janus_tunnel_connected_agents", "janus_agent_calls_total", "janus_tunnel_refused_connections_total"} {
		if !slices.Contains(used, m) {
			t.Errorf("no dashboard panel shows %s", m)
		}
	}
}

// checkAgentProbes checks that the agent's readiness and liveness probes
// ask its health port, which answers 200 only while the tunnel is up.
func checkAgentProbes(t *testing.T, r rendered) {
	t.Helper()
	d := r.mustFind(t, "Deployment", "janus-agent")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	ports, _, _ := unstructured.NestedSlice(c, "ports")
	if len(ports) != 1 || ports[0].(map[string]any)["name"] != "health" || ports[0].(map[string]any)["containerPort"] != int64(8080) {
		t.Errorf("the agent's ports are %s, want health 8080", jsonOf(t, ports))
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path")
		port, _, _ := unstructured.NestedFieldNoCopy(c, probe, "httpGet", "port")
		if got != path || port != "health" {
			t.Errorf("the agent's %s asks %q on port %v, want %s on health", probe, got, port, path)
		}
	}
}
