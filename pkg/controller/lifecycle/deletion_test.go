package lifecycle

import (
	"errors"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestDeletionRevokesBeforeTheFinalizerGoes: a deleted request that may
// hold a grant loses it, and is marked, before the grant finalizer goes;
// without its agent it waits, unless its Cluster is gone.
func TestDeletionRevokesBeforeTheFinalizerGoes(t *testing.T) {
	for _, tc := range []struct {
		name            string
		request         *v1alpha1.AccessRequest
		connected       bool
		removeErr       error
		noCluster       bool
		clusterErr      error
		writeErr        error
		wantErr         error
		wantRemove      bool
		wantFinalizer   bool
		wantPhase       v1alpha1.AccessRequestPhase
		wantProvisioned string
		wantMessage     string
		wantEvents      []string
	}{
		{
			name: "active, agent connected", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"), connected: true,
			wantRemove: true, wantPhase: v1alpha1.AccessRequestRevoked, wantProvisioned: "False/GrantRemoved", wantMessage: "revoked by carol: deleted",
			wantEvents: []string{"Normal Deleted Deleted by carol: grant removed from cluster dev and its sessions cut"},
		},
		{
			name: "expired, grant not confirmed removed, agent connected", request: deleted(finishedRequest("r1", v1alpha1.AccessRequestExpired, start.Add(-time.Hour), false), "carol"), connected: true,
			wantRemove: true, wantPhase: v1alpha1.AccessRequestExpired, wantProvisioned: "False/GrantRemoved", wantMessage: "expired",
			wantEvents: []string{"Normal Deleted Deleted: grant removed from cluster dev and its sessions cut"},
		},
		{
			name: "active, agent not connected", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"),
			wantFinalizer: true, wantPhase: v1alpha1.AccessRequestActive, wantProvisioned: "True/Granted",
			wantMessage: "deleted; waiting for the agent of cluster dev to remove the grant",
		},
		{
			name: "active, cluster unregistered", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"), noCluster: true,
			wantPhase: v1alpha1.AccessRequestRevoked, wantProvisioned: "False/ClusterUnregistered", wantMessage: "revoked by carol: deleted",
			wantEvents: []string{"Warning Deleted Deleted by carol: cluster dev is no longer registered; its agent removes the grant if it ever connects again"},
		},
		{
			name: "active, cluster unreadable", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"),
			clusterErr: apierrors.NewInternalError(errors.New("etcd is down")), wantErr: errAny,
			wantFinalizer: true, wantPhase: v1alpha1.AccessRequestActive, wantProvisioned: "True/Granted", wantMessage: "active",
		},
		{
			name: "active, agent fails to remove", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"), connected: true, removeErr: errAgentDown,
			wantErr: errAgentDown, wantRemove: true, wantFinalizer: true, wantPhase: v1alpha1.AccessRequestActive, wantProvisioned: "True/Granted", wantMessage: "active",
		},
		{
			name: "active, status conflict", request: deleted(activeRequest("r1", start.Add(time.Hour)), "carol"), connected: true,
			writeErr: apierrors.NewConflict(accessRequests, "r1", errors.New("modified")), wantErr: errConflict,
			wantRemove: true, wantFinalizer: true, wantPhase: v1alpha1.AccessRequestActive, wantProvisioned: "True/Granted", wantMessage: "active",
		},
		{
			name: "pending, never granted", request: deleted(pendingRequest("r1"), "carol"),
			wantPhase: v1alpha1.AccessRequestPending, wantProvisioned: "none",
			wantEvents: []string{"Normal Deleted Deleted by carol before it was granted"},
		},
		{
			name: "expired, grant removed", request: deleted(finishedRequest("r1", v1alpha1.AccessRequestExpired, start.Add(-time.Hour), true), "carol"), connected: true,
			wantPhase: v1alpha1.AccessRequestExpired, wantProvisioned: "False/GrantRemoved", wantMessage: "expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects := []runtime.Object{tc.request}
			if !tc.noCluster {
				objects = append(objects, cluster("dev"))
			}
			h := newHarness(t, Options{}, objects...)
			var agent *fakeAgent
			if tc.connected {
				agent = h.agents.connect("dev")
				agent.removeErr = tc.removeErr
			}
			if tc.clusterErr != nil {
				h.client.PrependReactor("get", "clusters", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.clusterErr
				})
			}
			if tc.writeErr != nil {
				h.failStatusWrites(tc.writeErr)
			}

			err := h.sync("r1")
			switch {
			case tc.wantErr == nil && err != nil, tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("sync error %v, want %v", err, tc.wantErr)
			}
			if agent != nil {
				if removed := agent.count("remove r1") == 1; removed != tc.wantRemove {
					t.Errorf("agent calls %q, want a removal: %v", agent.callsOf(), tc.wantRemove)
				}
			}
			got := h.stored("r1")
			if has := slices.Contains(got.Finalizers, v1alpha1.GrantFinalizer); has != tc.wantFinalizer {
				t.Errorf("finalizers %q, want the grant finalizer: %v", got.Finalizers, tc.wantFinalizer)
			}
			if got.Status.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", got.Status.Phase, tc.wantPhase)
			}
			if p := provisioned(got); p != tc.wantProvisioned {
				t.Errorf("Provisioned %s, want %s", p, tc.wantProvisioned)
			}
			if tc.wantMessage != "" && got.Status.Message != tc.wantMessage {
				t.Errorf("message %q, want %q", got.Status.Message, tc.wantMessage)
			}
			if tc.wantPhase == v1alpha1.AccessRequestRevoked {
				if d := got.Status.Decision; d == nil || d.Reason != v1alpha1.DecisionReasonDeleted || d.User != "carol" {
					t.Errorf("decision %+v, want carol's deletion", d)
				}
				if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionRevoked); c == nil || c.Reason != reasonDeleted {
					t.Errorf("Revoked condition %+v, want reason Deleted", c)
				}
			}
			if ev := h.events(); !slices.Equal(ev, tc.wantEvents) {
				t.Errorf("events %q, want %q", ev, tc.wantEvents)
			}
		})
	}
}

func TestDeletionWithoutFinalizerIsLeftAlone(t *testing.T) {
	ar := deleted(activeRequest("r1", start.Add(time.Hour)), "carol")
	ar.Finalizers = nil
	h := newHarness(t, Options{}, ar, cluster("dev"))
	agent := h.agents.connect("dev")
	if err := h.sync("r1"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if calls := agent.callsOf(); len(calls) != 0 {
		t.Errorf("agent calls %q for a request Janus does not finalize", calls)
	}
	if w := h.statusWrites(); len(w) != 0 {
		t.Errorf("wrote %d statuses for a request Janus does not finalize", len(w))
	}
}

// TestDeletionWaitsForAgent: a deleted request keeps its finalizer while
// its agent is away and loses it once the agent connected and removed the
// grant.
func TestDeletionWaitsForAgent(t *testing.T) {
	h := newHarness(t, Options{}, deleted(activeRequest("r1", start.Add(time.Hour)), "carol"), cluster("dev"))
	h.run()
	h.waitStored("r1", "waits for its agent", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Message == "deleted; waiting for the agent of cluster dev to remove the grant"
	})
	if got := h.stored("r1"); !slices.Contains(got.Finalizers, v1alpha1.GrantFinalizer) {
		t.Fatalf("the finalizer went while the agent was away")
	}

	agent := h.connectAgent("dev")
	got := h.waitStored("r1", "loses its finalizer", func(ar *v1alpha1.AccessRequest) bool {
		return !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer)
	})
	if p := provisioned(got); p != "False/GrantRemoved" {
		t.Errorf("Provisioned %s, want False/GrantRemoved", p)
	}
	if agent.count("remove r1") < 1 {
		t.Errorf("agent calls %q, want the removal of r1", agent.callsOf())
	}
	// The agent is not told to keep a grant of a deleted request.
	for _, r := range agent.reconciledSnapshot() {
		if len(r.Active) != 0 {
			t.Errorf("reconciled with active grants %+v", r.Active)
		}
	}
}

// TestClusterDeletionReleasesWaitingRequests: when a Cluster goes, its
// deleted requests and its finished requests whose grant was not
// confirmed removed stop waiting for its agent.
func TestClusterDeletionReleasesWaitingRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		request *v1alpha1.AccessRequest
		// released says the request stopped waiting.
		released func(*v1alpha1.AccessRequest) bool
	}{
		{
			name:     "deleted",
			request:  deleted(activeRequest("r1", start.Add(time.Hour)), "carol"),
			released: func(ar *v1alpha1.AccessRequest) bool { return !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer) },
		},
		{
			name:     "finished",
			request:  finishedRequest("r1", v1alpha1.AccessRequestRevoked, start.Add(-time.Minute), false),
			released: func(ar *v1alpha1.AccessRequest) bool { return provisioned(ar) != "True/Granted" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{}, tc.request, cluster("dev"))
			h.run()
			// Without an agent the request's sync asks whether its Cluster
			// is still registered: that is how it decided to wait.
			h.eventually("a look at the Cluster", func() bool { return h.clusterGets() >= 1 })
			if got := h.stored("r1"); tc.released(got) {
				t.Fatalf("released while the Cluster is registered: %+v", got.Status)
			}

			if err := h.client.JanusV1alpha1().Clusters().Delete(h.ctx, "dev", metav1.DeleteOptions{}); err != nil {
				t.Fatalf("deleting the Cluster: %v", err)
			}
			got := h.waitStored("r1", "is released", tc.released)
			if p := provisioned(got); p != "False/ClusterUnregistered" {
				t.Errorf("Provisioned %s, want False/ClusterUnregistered", p)
			}
		})
	}
}
