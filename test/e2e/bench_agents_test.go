package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/agent"
	"github.com/infroware/janus/pkg/agent/connector"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// The scale part of the soak (issue 14): a thousand agents connected to
// one janus-apiserver. They run in this process on the real agent's
// tunnel code (pkg/agent/connector) and agent API (agent.NewHandler),
// each for a Cluster of its own, with a token of its own minted by the dev
// target's kube-apiserver; only the target cluster behind them is
// simulated (simGrants). The dev cluster keeps its real agent.
//
//	go test ./test/e2e -run '^$' -bench 'ThousandAgents' -benchtime 1x -timeout 20m

const (
	simAgents = 1000
	// simSamples is how many approve → Active latencies are taken with
	// every agent connected.
	simSamples = 50
)

// BenchmarkThousandAgents reports janus-apiserver's live heap and RSS per
// connected idle agent (heap-B/agent, rss-B/agent: after the agents
// connected and settled, less before, their Clusters already registered),
// what a registered Cluster costs by itself (cluster-heap-B), how long the
// fleet took to connect, and approve → Active on dev with all of them
// connected (p50, p99).
func BenchmarkThousandAgents(b *testing.B) {
	for b.Loop() {
		janusRSS := func() int64 { return processRSS(b, "janus-apiserver") }
		heapBare := janusHeap(b)
		clusters := registerSimClusters(b, simAgents)
		tokens := mintSimTokens(b, simAgents)
		heapBefore, rssBefore := janusHeap(b), janusRSS()

		ctx, disconnect := context.WithCancel(context.Background())
		var agents sync.WaitGroup
		tlsConfig := tunnelTLSConfig(b)
		start := time.Now()
		for i, cluster := range clusters {
			agents.Go(func() {
				_ = connector.Run(ctx, connector.Config{
					URL: "https://" + bed.TunnelAddress(), Cluster: cluster, TokenFile: tokens[i], TLSConfig: tlsConfig,
				}, agent.NewHandler(simGrants{}))
			})
		}
		b.Cleanup(func() { disconnect(); agents.Wait() })
		waitSimConnected(b, clusters)
		connected := time.Since(start)
		heapAfter, rssAfter := janusHeap(b), janusRSS()
		b.Logf("janus-apiserver heap: %d bare, %d with %d Clusters, %d with their agents connected; RSS %d → %d",
			heapBare, heapBefore, simAgents, heapAfter, rssBefore, rssAfter)

		b.ReportMetric(float64(heapAfter-heapBefore)/simAgents, "heap-B/agent")
		b.ReportMetric(float64(rssAfter-rssBefore)/simAgents, "rss-B/agent")
		b.ReportMetric(float64(heapBefore-heapBare)/simAgents, "cluster-heap-B")
		b.ReportMetric(connected.Seconds(), "connect-all-s")
		reportPercentiles(b, approveToActiveSamples(b, simSamples))

		disconnect()
		agents.Wait()
	}
}

// registerSimClusters registers n Clusters that trust the dev target's
// janus-agent ServiceAccount, as dev does, and deletes them when the
// benchmark ends.
func registerSimClusters(b *testing.B, n int) []string {
	b.Helper()
	admin := janusAs(b, "admin")
	dev, err := admin.JanusV1alpha1().Clusters().Get(bg(b), "dev", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("sim-%04d", i)
	}
	b.Cleanup(func() {
		parallel(b, names, func(ctx context.Context, name string) error {
			err := admin.JanusV1alpha1().Clusters().Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !strings.Contains(err.Error(), "not found") {
				return err
			}
			return nil
		})
	})
	parallel(b, names, func(ctx context.Context, name string) error {
		_, err := admin.JanusV1alpha1().Clusters().Create(ctx, &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1alpha1.ClusterSpec{Agent: dev.Spec.Agent},
		}, metav1.CreateOptions{})
		return err
	})
	return names
}

// mintSimTokens mints n identity tokens of the dev target's janus-agent
// ServiceAccount, as the kubelet projects them, into files.
func mintSimTokens(b *testing.B, n int) []string {
	b.Helper()
	target := devCluster(b)
	dir := b.TempDir()
	files := make([]string, n)
	indexes := make([]string, n)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("agent-%04d.token", i))
		indexes[i] = strconv.Itoa(i)
	}
	parallel(b, indexes, func(ctx context.Context, index string) error {
		i, _ := strconv.Atoi(index)
		tr, err := target.CoreV1().ServiceAccounts("janus").CreateToken(ctx, "janus-agent", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{tunnel.Audience}, ExpirationSeconds: ptr.To[int64](3600)},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		return os.WriteFile(files[i], []byte(tr.Status.Token), 0o600)
	})
	return files
}

// parallel runs do for every item, 16 at a time (as several approvers or
// administrators would), and fails the benchmark on the first error.
func parallel(b *testing.B, items []string, do func(ctx context.Context, item string) error) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	slots := make(chan struct{}, 16)
	for _, item := range items {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if err := do(ctx, item); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", item, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

func tunnelTLSConfig(b *testing.B) *tls.Config {
	b.Helper()
	pem, err := os.ReadFile(bed.TunnelCAFile())
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		b.Fatalf("no certificate in %s", bed.TunnelCAFile())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// waitSimConnected waits until every one of clusters says its agent is
// connected.
func waitSimConnected(b *testing.B, clusters []string) {
	b.Helper()
	admin := janusAs(b, "admin")
	want := map[string]bool{}
	for _, c := range clusters {
		want[c] = true
	}
	var missing int
	err := wait.PollUntilContextTimeout(bg(b), time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := admin.JanusV1alpha1().Clusters().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		missing = len(want)
		for _, c := range list.Items {
			if want[c.Name] && c.Status.Agent.Connected {
				missing--
			}
		}
		return missing == 0, nil
	})
	if err != nil {
		b.Fatalf("%d of %d simulated agents not connected within 5 minutes", missing, len(clusters))
	}
}

// simGrants stands in for a target cluster behind a simulated agent: it
// grants and removes instantly and holds nothing.
type simGrants struct{}

func (simGrants) Info(context.Context) (tunnel.AgentInfo, error) {
	return tunnel.AgentInfo{Version: "sim", KubernetesVersion: "v1.37.2", Namespaces: []string{"payments"}}, nil
}

func (simGrants) Ensure(_ context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error) {
	status := tunnel.GrantStatus{Request: spec.Request}
	for _, ns := range spec.Namespaces {
		status.Grants = append(status.Grants, tunnel.Grant{Namespace: ns, ServiceAccount: "janus/janus-" + spec.Request, Role: agent.GrantClusterRole, RoleBinding: "janus-" + spec.Request})
	}
	return status, nil
}

func (simGrants) Remove(context.Context, string) error { return nil }

func (simGrants) Reconcile(_ context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	var result tunnel.ReconcileResult
	for _, spec := range req.Active {
		result.Ensured = append(result.Ensured, spec.Request)
	}
	return result, nil
}
