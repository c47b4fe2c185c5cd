package charts

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

const (
	centralChart = "charts/janus"
	agentChart   = "charts/janus-agent"
)

// combination is one set of values a chart is rendered with, and what the
// rendering must hold.
type combination struct {
	name      string
	chart     string
	namespace string
	values    []string // files in the repository
	sets      []string
	check     func(t *testing.T, r rendered)
}

func ci(chart, file string) string { return filepath.Join(chart, "ci", file) }

var combinations = []combination{{
	name: "central defaults: SQLite on a volume, self-managed certificate", chart: centralChart, namespace: centralNamespace,
	check: func(t *testing.T, r rendered) {
		args := r.containerArgs(t, "janus-apiserver")
		wantArgs(t, args, "--tls-self-managed-secret=janus/janus-apiserver-selfcert", "--apiservice-name=v1alpha1.janus.infroware.io",
			"--alternate-dns=janus-apiserver.janus.svc", "--data-dir=/var/lib/janus")
		noArgPrefix(t, args, "--tls-cert-file", "--datastore-endpoint", "--tunnel-port", "--excluded-namespaces")
		r.mustFind(t, "PersistentVolumeClaim", "janus-data")
		r.mustFind(t, "Role", "janus-apiserver:self-managed-tls")
		cr := r.mustFind(t, "ClusterRole", "janus-apiserver:apiservice-cabundle")
		if names, _, _ := unstructured.NestedSlice(cr.Object, "rules"); len(names) != 1 || !strings.Contains(jsonOf(t, names), `"resourceNames":["v1alpha1.janus.infroware.io"]`) {
			t.Errorf("the APIService rule is not for v1alpha1.janus.infroware.io alone: %s", jsonOf(t, names))
		}
		if caBundle, _, _ := unstructured.NestedString(r.mustFind(t, "APIService", "v1alpha1.janus.infroware.io").Object, "spec", "caBundle"); caBundle != "" {
			t.Errorf("self-managed APIService comes with a caBundle")
		}
		for _, absent := range [][2]string{{"Namespace", "janus"}, {"Deployment", "janus-console"}, {"PodDisruptionBudget", "janus-apiserver"},
			{"NetworkPolicy", "janus-apiserver"}, {"ServiceMonitor", "janus-apiserver"}, {"Service", "janus-apiserver-tunnel"}, {"Certificate", "janus-apiserver-tls"},
			{"PrometheusRule", "janus"}, {"ConfigMap", "janus-grafana-dashboard"}} {
			if r.find(absent[0], absent[1]) != nil {
				t.Errorf("%s %s rendered by default", absent[0], absent[1])
			}
		}
		for _, role := range []string{"janus-viewer", "janus-requester", "janus-approver", "janus-admin", "janus-auditor", "janus-agent-trust"} {
			r.mustFind(t, "ClusterRole", role)
		}
	},
}, {
	name: "central as artifacts/: certificate from a Secret, console", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "artifacts-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--tls-cert-file=/var/run/janus/tls/tls.crt")
		r.mustFind(t, "Namespace", "janus")
		r.mustFind(t, "Role", "janus-apiserver:self-managed-tls")
		r.mustFind(t, "ClusterRole", "janus-console-impersonator")
		r.mustFind(t, "ConfigMap", "janus-console-signouts")
		r.mustFind(t, "PodDisruptionBudget", "janus-console")
	},
}, {
	name: "postgres from an existing Secret, two replicas with a PodDisruptionBudget peering on the self-managed CAs, recordings in S3", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "postgres-ha-values.yaml")},
	check: func(t *testing.T, r rendered) {
		args := r.containerArgs(t, "janus-apiserver")
		wantArgs(t, args, "--datastore-endpoint-file=/var/run/janus/datastore/endpoint", "--recording-store=s3://janus-recordings/prod",
			"--recording-s3-endpoint=https://s3.example.com", "--recording-s3-region=eu-west-1",
			"--recording-s3-credentials-file=/var/run/janus/recording-s3/credentials")
		d := r.mustFind(t, "Deployment", "janus-apiserver")
		if n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); n != 2 {
			t.Errorf("replicas %d, want 2", n)
		}
		if s, _, _ := unstructured.NestedString(d.Object, "spec", "strategy", "type"); s == "Recreate" {
			t.Errorf("several replicas on Postgres still use Recreate")
		}
		if !strings.Contains(jsonOf(t, d.Object), `"secretName":"janus-postgres"`) {
			t.Errorf("the Secret janus-postgres is not mounted")
		}
		r.mustFind(t, "PodDisruptionBudget", "janus-apiserver")
		if r.find("PersistentVolumeClaim", "janus-data") != nil {
			t.Errorf("a SQLite volume is made for Postgres")
		}
		// Two replicas peer; under self-managed TLS they trust the
		// Secret's CAs, so no --peer-ca-file.
		wantArgs(t, args, "--replica-name=$(POD_NAME)", "--peer-service=janus/janus-apiserver-peers",
			"--peer-token-file=/var/run/janus/peer-token/token", "--peer-server-name=janus-apiserver.janus.svc")
		noArgPrefix(t, args, "--peer-ca-file")
		checkPeerService(t, r, 8443, "https")
		checkPeerRole(t, r)
		checkPeerTokenMount(t, r, "janus-apiserver-peer-token")
	},
}, {
	name: "two replicas peering on the tunnel port, cert-manager's CA, a generated peer token", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "peering-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--replica-name=$(POD_NAME)", "--peer-service=janus/janus-apiserver-peers",
			"--peer-token-file=/var/run/janus/peer-token/token", "--peer-ca-file=/var/run/janus/tls/ca.crt",
			"--peer-server-name=janus-apiserver.janus.svc")
		checkPeerService(t, r, 8444, "tunnel")
		checkPeerRole(t, r)
		checkPeerTokenMount(t, r, "janus-apiserver-peer-token")
		token := r.mustFind(t, "Secret", "janus-apiserver-peer-token")
		if v, _, _ := unstructured.NestedString(token.Object, "data", "token"); len(v) != 64 { // base64 of 48 bytes
			t.Errorf("generated peer token %q is not 48 bytes", v)
		}
		if token.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("the generated peer token is deleted with the release")
		}
	},
}, {
	name: "two replicas peering on a tunnel port with a certificate of its own", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "postgres-ha-values.yaml")},
	sets:   []string{"tunnel.enabled=true", "tunnel.existingSecret=janus-tunnel-tls", "peering.serverName=janus-tunnel.example.com"},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--tunnel-cert-file=/var/run/janus/tunnel-tls/tls.crt",
			"--peer-ca-file=/var/run/janus/tunnel-tls/ca.crt", "--peer-server-name=janus-tunnel.example.com")
		checkPeerService(t, r, 8444, "tunnel")
	},
}, {
	name: "two replicas peering on the API port, a Secret's CA, the user's peer token, a NetworkPolicy", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "postgres-ha-values.yaml"), ci(centralChart, "existing-secret-values.yaml")},
	sets:   []string{"peering.tokenSecret.name=my-peer-token", "peering.tokenSecret.key=shared", "networkPolicy.enabled=true", "networkPolicy.apiServerCIDRs[0]=10.0.0.0/24"},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--peer-service=janus/janus-apiserver-peers",
			"--peer-token-file=/var/run/janus/peer-token/shared", "--peer-ca-file=/var/run/janus/tls/ca.crt",
			"--peer-server-name=janus-apiserver.janus.svc")
		checkPeerService(t, r, 8443, "https")
		checkPeerRole(t, r)
		checkPeerTokenMount(t, r, "my-peer-token")
		if r.find("Secret", "janus-apiserver-peer-token") != nil {
			t.Errorf("a peer token is generated beside the user's")
		}
		np := jsonOf(t, r.mustFind(t, "NetworkPolicy", "janus-apiserver").Object)
		if !strings.Contains(np, `"podSelector":{"matchLabels":{"app.kubernetes.io/name":"janus-apiserver"}}}]`) {
			t.Errorf("NetworkPolicy does not let the peers reach the API port: %s", np)
		}
	},
}, {
	name: "etcd with client TLS from a Secret", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "etcd-tls-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"),
			"--datastore-endpoint=https://etcd-0.etcd.janus.svc:2379,etcd-1.etcd.janus.svc:2379",
			"--datastore-etcd-ca-file=/var/run/janus/etcd/ca.crt", "--datastore-etcd-cert-file=/var/run/janus/etcd/tls.crt",
			"--datastore-etcd-key-file=/var/run/janus/etcd/tls.key")
		if !strings.Contains(jsonOf(t, r.mustFind(t, "Deployment", "janus-apiserver").Object), `"secretName":"janus-etcd-client"`) {
			t.Errorf("the etcd client Secret is not mounted")
		}
		r.mustFind(t, "PodDisruptionBudget", "janus-apiserver")
	},
}, {
	name: "tls cert-manager", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "cert-manager-values.yaml")},
	check: func(t *testing.T, r rendered) {
		cert := r.mustFind(t, "Certificate", "janus-apiserver-tls")
		dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
		if !slices.Contains(dns, "janus-apiserver.janus.svc") || !slices.Contains(dns, "janus.example.com") {
			t.Errorf("Certificate dnsNames %v lack the Service's or the extra name", dns)
		}
		api := r.mustFind(t, "APIService", "v1alpha1.janus.infroware.io")
		if got := api.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "janus/janus-apiserver-tls" {
			t.Errorf("APIService inject-ca-from %q, want janus/janus-apiserver-tls", got)
		}
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--tls-cert-file=/var/run/janus/tls/tls.crt")
		if r.find("Role", "janus-apiserver:self-managed-tls") != nil {
			t.Errorf("cert-manager mode grants the self-managed Secret")
		}
	},
}, {
	name: "tls existingSecret with its CA in the APIService", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "existing-secret-values.yaml")},
	check: func(t *testing.T, r rendered) {
		api := r.mustFind(t, "APIService", "v1alpha1.janus.infroware.io")
		if ca, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle"); ca == "" {
			t.Errorf("APIService has no caBundle")
		}
		if !strings.Contains(jsonOf(t, r.mustFind(t, "Deployment", "janus-apiserver").Object), `"secretName":"my-janus-tls"`) {
			t.Errorf("the Secret my-janus-tls is not mounted")
		}
	},
}, {
	name: "tunnel on its own port behind a LoadBalancer, an Ingress and a TLSRoute, with a NetworkPolicy", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "tunnel-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--tunnel-port=8444", "--tunnel-on-api-port=false",
			"--alternate-dns=janus-apiserver.janus.svc,janus-tunnel.example.com")
		svc := r.mustFind(t, "Service", "janus-apiserver-tunnel")
		if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "LoadBalancer" {
			t.Errorf("tunnel Service type %q", typ)
		}
		r.mustFind(t, "Ingress", "janus-apiserver-tunnel")
		r.mustFind(t, "TLSRoute", "janus-apiserver-tunnel")
		np := jsonOf(t, r.mustFind(t, "NetworkPolicy", "janus-apiserver").Object)
		for _, want := range []string{`"cidr":"10.0.0.0/24"`, `"port":"tunnel"`, `"port":"https"`} {
			if !strings.Contains(np, want) {
				t.Errorf("NetworkPolicy lacks %s: %s", want, np)
			}
		}
		if svc := jsonOf(t, r.mustFind(t, "Service", "janus-apiserver").Object); strings.Contains(svc, "LoadBalancer") {
			t.Errorf("the API Service is exposed: %s", svc)
		}
	},
}, {
	name: "console with OIDC and the person's own token", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "console-oidc-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-console"), "--oidc-issuer-url=https://dex.example.com", "--oidc-client-id=janus-console",
			"--oidc-client-secret-file=/var/run/janus-console/oidc/secret", "--oidc-groups-claim=groups", "--oidc-groups-prefix=oidc:",
			"--oidc-extra-scopes=groups", "--oidc-ca-file=/var/run/janus-console/oidc-ca/ca.crt",
			"--allowed-email-domains=example.com,example.org", "--kube-auth=token", "--signout-configmap=janus/janus-console-signouts",
			"--public-url=https://janus.example.com")
		if r.find("ClusterRole", "janus-console-impersonator") != nil {
			t.Errorf("--kube-auth=token still grants impersonation")
		}
		r.mustFind(t, "Role", "janus-console-signouts")
		if r.find("PodDisruptionBudget", "janus-console") != nil {
			t.Errorf("one console replica gets a PodDisruptionBudget")
		}
	},
}, {
	name: "ServiceMonitor, PrometheusRule, Grafana dashboard, audit policy and every policy flag", chart: centralChart, namespace: centralNamespace,
	values: []string{ci(centralChart, "observability-values.yaml")},
	check: func(t *testing.T, r rendered) {
		r.mustFind(t, "ServiceMonitor", "janus-apiserver")
		checkMonitoring(t, r)
		r.mustFind(t, "ClusterRole", "janus-metrics-reader")
		r.mustFind(t, "ConfigMap", "janus-apiserver-audit-policy")
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--min-duration=5m", "--max-duration=4h",
			"--excluded-namespaces=kube-system,kube-public,kube-node-lease,cert-manager,janus", "--idle-timeout=30m",
			"--pending-timeout=12h", "--retention=720h", "--session-retention=4320h", "--max-sessions-per-request=2",
			"--max-sessions-per-user=0", "--record-input", "--recording-failure=close", "--audit-policy-file=/etc/janus/audit/policy.yaml")
	},
}, {
	name: "central in another namespace excludes that namespace", chart: centralChart, namespace: agentNamespace,
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-apiserver"), "--excluded-namespaces=kube-system,kube-public,kube-node-lease,janus-agent",
			"--tls-self-managed-secret=janus-agent/janus-apiserver-selfcert", "--alternate-dns=janus-apiserver.janus-agent.svc")
	},
}, {
	name: "agent as artifacts/", chart: agentChart, namespace: centralNamespace,
	values: []string{ci(agentChart, "artifacts-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-agent"), "--janus-url=https://janus.example.com:443", "--cluster=prod-eu",
			"--janus-ca-file=/etc/janus/ca/ca.crt", "--health-bind-address=:8080")
		checkAgentProbes(t, r)
		r.mustFind(t, "ClusterRole", "janus-grant")
		r.mustFind(t, "Cluster", "prod-eu")
	},
}, {
	name: "agent in its own namespace with an inline CA", chart: agentChart, namespace: agentNamespace,
	values: []string{ci(agentChart, "own-namespace-values.yaml")},
	check: func(t *testing.T, r rendered) {
		wantArgs(t, r.containerArgs(t, "janus-agent"), "--cluster=dev", "--excluded-namespaces=kube-system,kube-public,kube-node-lease,monitoring")
		r.mustFind(t, "ConfigMap", "janus-ca")
		crb := jsonOf(t, r.mustFind(t, "ClusterRoleBinding", "janus-agent").Object)
		if !strings.Contains(crb, `"namespace":"janus-agent"`) {
			t.Errorf("the agent's ClusterRoleBinding names another namespace: %s", crb)
		}
		if r.find("Cluster", "dev") != nil {
			t.Errorf("the Cluster object is rendered into the target cluster's manifests")
		}
	},
}}

// TestChartsLintClean: helm lint has nothing to say about either chart,
// with its defaults (where it has any that render) and with every values
// file under ci/.
func TestChartsLintClean(t *testing.T) {
	root := repoRoot(t)
	for _, chart := range []string{centralChart, agentChart} {
		files, err := filepath.Glob(filepath.Join(root, chart, "ci", "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		runs := [][]string{}
		if chart == centralChart {
			runs = append(runs, nil)
		}
		for _, f := range files {
			runs = append(runs, []string{"--values", f})
		}
		for _, extra := range runs {
			args := append([]string{"lint", chart, "--strict", "--namespace", centralNamespace}, extra...)
			stdout, stderr, err := runHelm(t, args...)
			if err != nil {
				t.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
				continue
			}
			for _, line := range strings.Split(stdout, "\n") {
				if strings.Contains(line, "[WARNING]") || strings.Contains(line, "[ERROR]") {
					t.Errorf("helm %s: %s", strings.Join(args, " "), line)
				}
			}
		}
	}
}

// TestValueCombinationsRenderAndPassServerDryRun renders each combination,
// checks what it must hold, and applies it with a server-side dry run to a
// kube-apiserver whose namespaces enforce Pod Security "restricted": no
// object may be refused or draw a warning, and the pod of every Deployment,
// created as a Pod (dry run), must be admitted.
func TestValueCombinationsRenderAndPassServerDryRun(t *testing.T) {
	c := kubeCluster(t)
	for _, comb := range combinations {
		t.Run(comb.name, func(t *testing.T) {
			r := rendered(render(t, comb.chart, comb.namespace, comb.values, comb.sets...))
			comb.check(t, r)
			ctx := t.Context()
			a := newDryRunApplier(t, c)
			for _, obj := range r {
				if obj.GroupVersionKind().Group == v1alpha1.GroupName {
					// The Janus API is not in this kube-apiserver; it is
					// checked by its own validation below.
					validateCluster(t, obj)
					continue
				}
				if err := a.apply(ctx, obj); err != nil {
					t.Error(err)
				}
				if obj.GetKind() == "ServiceAccount" {
					if err := ensureServiceAccount(ctx, c, obj.GetNamespace(), obj.GetName()); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, obj := range r {
				if obj.GetKind() != "Deployment" {
					continue
				}
				if err := a.apply(ctx, podOf(t, obj)); err != nil {
					t.Errorf("the pod of Deployment %s is not admitted: %v", obj.GetName(), err)
				}
			}
			if len(a.warnings.Warnings()) > 0 {
				t.Errorf("the dry run drew warnings: %q", a.warnings.Warnings())
			}
		})
	}
}

// podOf is the Deployment's pod template as a Pod.
func podOf(t *testing.T, d *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	spec, _, err := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	if err != nil || spec == nil {
		t.Fatalf("Deployment %s has no pod template: %v", d.GetName(), err)
	}
	labels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": spec}}
	pod.SetName(d.GetName() + "-dry-run")
	pod.SetNamespace(d.GetNamespace())
	pod.SetLabels(labels)
	return pod
}

// validateCluster decodes a rendered Cluster strictly and validates it as
// janus-apiserver would.
func validateCluster(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	data, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	validateClusterJSON(t, data)
}

func validateClusterJSON(t *testing.T, data []byte) *v1alpha1.Cluster {
	t.Helper()
	cl, err := testenv.DecodeCluster(data)
	if cl == nil {
		t.Fatalf("the rendered Cluster: %v\n%s", err, data)
	}
	if err != nil {
		t.Errorf("the rendered Cluster is %v", err)
	}
	return cl
}

// TestAgentNotesPrintTheClusterToApplyOnCentral: helm install prints a
// Cluster object, valid for janus-apiserver, that trusts the release's
// ServiceAccount from the issuer given.
func TestAgentNotesPrintTheClusterToApplyOnCentral(t *testing.T) {
	c := kubeCluster(t)
	kubeconfig := writeKubeconfig(t, c)
	// A namespace with nothing in it: helm install, even a dry run, refuses
	// to take over objects it did not make.
	const namespace = "janus-notes"
	stdout, stderr, err := runHelm(t, "install", "janus-agent", agentChart, "--namespace", namespace, "--dry-run=client",
		"--kubeconfig", kubeconfig, "--values", ci(agentChart, "own-namespace-values.yaml"))
	if err != nil {
		t.Fatalf("helm install --dry-run: %v\n%s", err, stderr)
	}
	_, notes, ok := strings.Cut(stdout, "\nNOTES:\n")
	if !ok {
		t.Fatalf("helm install printed no NOTES:\n%s", stdout)
	}
	_, rest, ok := strings.Cut(notes, "<<'YAML'\n")
	manifest, _, ok2 := strings.Cut(rest, "\nYAML\n")
	if !ok || !ok2 {
		t.Fatalf("the NOTES hold no Cluster between <<'YAML' and YAML:\n%s", notes)
	}
	data, err := utilyaml.ToJSON([]byte(manifest))
	if err != nil {
		t.Fatalf("the NOTES' Cluster is not YAML: %v\n%s", err, manifest)
	}
	cl := validateClusterJSON(t, data)
	if cl.Name != "dev" || cl.Spec.Agent.ServiceAccount != namespace+"/janus-agent" || cl.Spec.Agent.Issuer != "https://oidc.dev.example.com" {
		t.Errorf("the NOTES' Cluster is %s trusting %s from %s, want dev trusting janus-notes/janus-agent from https://oidc.dev.example.com",
			cl.Name, cl.Spec.Agent.ServiceAccount, cl.Spec.Agent.Issuer)
	}
	if !slices.Contains(cl.Spec.ExcludedNamespaces, namespace) {
		t.Errorf("the NOTES' Cluster does not exclude the agent's namespace: %v", cl.Spec.ExcludedNamespaces)
	}
	if cl.Spec.Approval.Required != 2 {
		t.Errorf("the NOTES' Cluster requires %d approvals, want 2", cl.Spec.Approval.Required)
	}
}

// TestSchemaRejectsBadValues: values.schema.json refuses typos, wrong
// types and unknown choices, and the templates refuse combinations the
// schema cannot express, each with a message that names the value.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		chart string
		set   []string
		want  string
	}{
		{centralChart, []string{"tls.mode=bogus"}, "/tls/mode"},
		{centralChart, []string{"apiserver.replicas=two"}, "/apiserver/replicas"},
		{centralChart, []string{"apiserver.replica=2"}, "additional properties 'replica'"},
		{centralChart, []string{"datastore.type=mysql"}, "/datastore/type"},
		{centralChart, []string{"datastore.type=etcd", "datastore.etcd.servers[0]=https://etcd:2379"}, "/datastore/etcd/servers/0"},
		{centralChart, []string{"policy.maxDuration=eight hours"}, "/policy/maxDuration"},
		{centralChart, []string{"tunnel.service.type=Public"}, "/tunnel/service/type"},
		{centralChart, []string{"apiserver.image.digest=latest"}, "/apiserver/image/digest"},
		{centralChart, []string{"console.kubeAuth=password"}, "/console/kubeAuth"},
		{centralChart, []string{"apiserver.replicas=2"}, "needs datastore.type postgres or etcd"},
		{centralChart, []string{"datastore.type=postgres"}, "datastore.postgres.existingSecret"},
		{centralChart, []string{"tls.mode=cert-manager"}, "tls.certManager.issuerRef.name"},
		{centralChart, []string{"networkPolicy.enabled=true"}, "networkPolicy.apiServerCIDRs"},
		{centralChart, []string{"console.enabled=true"}, "console.oidc.issuerURL"},
		{centralChart, []string{"peering.enabled=sometimes"}, "/peering/enabled"},
		{centralChart, []string{"apiserver.replicas=2", "datastore.type=postgres", "datastore.postgres.existingSecret=pg", "tls.mode=existingSecret",
			"tunnel.enabled=true", "tunnel.existingSecret=tunnel-tls"}, "peering.serverName"},
		{agentChart, []string{"clusterName=dev"}, "janusURL is required"},
		{agentChart, []string{"janusURL=http://janus.example.com", "clusterName=dev"}, "/janusURL"},
		{agentChart, []string{"janusURL=https://janus.example.com", "clusterName=dev", "janusCa.pem=x"}, "additional properties 'janusCa'"},
		{agentChart, []string{"janusURL=https://janus.example.com", "clusterName=dev", "cluster.approvalsRequired=0"}, "/cluster/approvalsRequired"},
	} {
		args := []string{"template", "x", tc.chart}
		for _, s := range tc.set {
			flag := "--set"
			if strings.HasSuffix(s, "=two") {
				flag = "--set-string" // a string where a number belongs
			}
			args = append(args, flag, s)
		}
		_, stderr, err := runHelm(t, args...)
		if err == nil {
			t.Errorf("helm %s: rendered, want an error naming %q", strings.Join(args, " "), tc.want)
			continue
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("helm %s failed without naming %q:\n%s", strings.Join(args, " "), tc.want, stderr)
		}
	}
}

func wantArgs(t *testing.T, args []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(args, w) {
			t.Errorf("args lack %s:\n  %s", w, strings.Join(args, "\n  "))
		}
	}
}

func noArgPrefix(t *testing.T, args []string, prefixes ...string) {
	t.Helper()
	for _, a := range args {
		for _, p := range prefixes {
			if strings.HasPrefix(a, p) {
				t.Errorf("args hold %s", a)
			}
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDryRunCatchesAPodSecurityViolation: the dry run above has teeth. A
// Deployment whose container may escalate privileges draws Pod Security's
// warning, and its pod is refused.
func TestDryRunCatchesAPodSecurityViolation(t *testing.T) {
	c := kubeCluster(t)
	r := rendered(render(t, agentChart, agentNamespace, []string{ci(agentChart, "own-namespace-values.yaml")}))
	d := r.mustFind(t, "Deployment", "janus-agent")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if err := unstructured.SetNestedField(containers[0].(map[string]any), true, "securityContext", "allowPrivilegeEscalation"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	if err := ensureServiceAccount(t.Context(), c, agentNamespace, "janus-agent"); err != nil {
		t.Fatal(err)
	}
	a := newDryRunApplier(t, c)
	if err := a.apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if len(a.warnings.Warnings()) == 0 {
		t.Errorf("a Deployment allowing privilege escalation drew no warning")
	}
	if err := a.apply(t.Context(), podOf(t, d)); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a pod allowing privilege escalation was not refused by Pod Security: %v", err)
	}
}

// checkPeerService: the headless Service the replicas find each other by
// lists them ready or not, on one port named tunnel.
func checkPeerService(t *testing.T, r rendered, port int64, target string) {
	t.Helper()
	svc := r.mustFind(t, "Service", "janus-apiserver-peers")
	if ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP"); ip != "None" {
		t.Errorf("peer Service clusterIP %q, want None", ip)
	}
	if p, _, _ := unstructured.NestedBool(svc.Object, "spec", "publishNotReadyAddresses"); !p {
		t.Errorf("peer Service leaves out replicas that are not ready")
	}
	if sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector"); sel["app.kubernetes.io/name"] != "janus-apiserver" || len(sel) != 1 {
		t.Errorf("peer Service selects %v", sel)
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	want := fmt.Sprintf(`[{"name":"tunnel","port":%d,"protocol":"TCP","targetPort":%q}]`, port, target)
	if got := jsonOf(t, ports); got != want {
		t.Errorf("peer Service ports %s, want %s", got, want)
	}
}

// checkPeerRole: janus-apiserver reads EndpointSlices in its namespace
// only, through a Role bound to its ServiceAccount.
func checkPeerRole(t *testing.T, r rendered) {
	t.Helper()
	role := r.mustFind(t, "Role", "janus-apiserver:peers")
	if role.GetNamespace() != centralNamespace {
		t.Errorf("peer Role in %q", role.GetNamespace())
	}
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	if got, want := jsonOf(t, rules), `[{"apiGroups":["discovery.k8s.io"],"resources":["endpointslices"],"verbs":["get","list","watch"]}]`; got != want {
		t.Errorf("peer Role rules %s, want %s", got, want)
	}
	rb := jsonOf(t, r.mustFind(t, "RoleBinding", "janus-apiserver:peers").Object)
	if !strings.Contains(rb, `"kind":"ServiceAccount","name":"janus-apiserver"`) || !strings.Contains(rb, `"name":"janus-apiserver:peers"`) {
		t.Errorf("peer RoleBinding does not bind the Role to janus-apiserver: %s", rb)
	}
}

// checkPeerTokenMount: the peer token's Secret is mounted, and the Pod's
// name reaches --replica-name.
func checkPeerTokenMount(t *testing.T, r rendered, secret string) {
	t.Helper()
	d := jsonOf(t, r.mustFind(t, "Deployment", "janus-apiserver").Object)
	for _, want := range []string{
		`{"name":"peer-token","secret":{"items":[`, fmt.Sprintf(`"secretName":%q`, secret),
		`{"mountPath":"/var/run/janus/peer-token","name":"peer-token","readOnly":true}`,
		`{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}`,
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Deployment lacks %s: %s", want, d)
		}
	}
}
