package lifecycle

import (
	"errors"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestRetentionDeletesOnlyAfterGrantRemovalConfirmed: a finished request
// goes after the retention only once no grant of it can be left in its
// cluster; until then the removal is retried.
func TestRetentionDeletesOnlyAfterGrantRemovalConfirmed(t *testing.T) {
	long := start.Add(-2 * time.Hour) // finished longer ago than the retention
	for _, tc := range []struct {
		name            string
		request         *v1alpha1.AccessRequest
		retention       time.Duration
		connected       bool
		removeErr       error
		noCluster       bool
		clusterErr      error
		deleteErr       error
		wantErr         error
		wantRemove      bool
		wantProvisioned string
		wantEvent       string
		wantDelete      bool
		wantTimer       *time.Time
	}{
		{name: "grant removed, retention passed", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, long, true), connected: true, wantProvisioned: "False/GrantRemoved", wantDelete: true},
		{name: "grant removed, retention not passed", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, start.Add(-30*time.Minute), true), wantProvisioned: "False/GrantRemoved", wantTimer: ptr(start.Add(30 * time.Minute))},
		{name: "never granted, retention passed", request: deniedRequest("r1", long), wantProvisioned: "none", wantDelete: true},
		{name: "no retention", request: finishedRequest("r1", v1alpha1.AccessRequestRevoked, long, true), retention: -1, wantProvisioned: "False/GrantRemoved"},
		{name: "deletion fails", request: deniedRequest("r1", long), deleteErr: apierrors.NewInternalError(errors.New("etcd is down")), wantErr: errAny, wantProvisioned: "none"},
		{
			name: "grant not confirmed, agent fails to remove it", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, long, false),
			connected: true, removeErr: errAgentDown, wantErr: errAgentDown, wantRemove: true, wantProvisioned: "True/Granted",
		},
		{
			name: "grant not confirmed, agent removes it", request: finishedRequest("r1", v1alpha1.AccessRequestRevoked, long, false),
			connected: true, wantRemove: true, wantProvisioned: "False/GrantRemoved", wantEvent: "Normal GrantRemoved Grant removed from cluster dev (request revoked)",
		},
		{
			name: "grant not confirmed, agent not connected", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, long, false),
			wantProvisioned: "True/Granted",
		},
		{
			name: "grant not confirmed, cluster unregistered", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, long, false),
			noCluster: true, wantProvisioned: "False/ClusterUnregistered",
			wantEvent: "Warning ClusterUnregistered Grant not removed: cluster dev is no longer registered; its agent removes the grant if it ever connects again",
		},
		{
			name: "grant not confirmed, cluster unreadable", request: finishedRequest("r1", v1alpha1.AccessRequestExpired, long, false),
			clusterErr: apierrors.NewInternalError(errors.New("etcd is down")), wantErr: errAny, wantProvisioned: "True/Granted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retention := time.Hour
			if tc.retention != 0 {
				retention = tc.retention
			}
			objects := []runtime.Object{tc.request}
			if !tc.noCluster {
				objects = append(objects, cluster("dev"))
			}
			h := newHarness(t, Options{Retention: retention}, objects...)
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
			if tc.deleteErr != nil {
				h.client.PrependReactor("delete", "accessrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.deleteErr
				})
			}

			err := h.sync("r1")
			switch {
			case tc.wantErr == errAny && err == nil, tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("sync error %v, want %v", err, tc.wantErr)
			}
			if agent != nil {
				if removed := agent.count("remove r1") == 1; removed != tc.wantRemove {
					t.Errorf("agent calls %q, want a removal: %v", agent.callsOf(), tc.wantRemove)
				}
			}
			got := h.stored("r1")
			deletes := h.deletes()
			if tc.wantDelete {
				if !slices.Equal(deletes, []string{"r1 uid=r1-uid"}) {
					t.Errorf("deletions %q, want r1 on its UID", deletes)
				}
				return
			}
			if len(deletes) != 0 && tc.deleteErr == nil {
				t.Fatalf("deleted %q, want the request kept", deletes)
			}
			if got == nil {
				t.Fatalf("r1 is gone")
			}
			if p := provisioned(got); p != tc.wantProvisioned {
				t.Errorf("Provisioned %s, want %s", p, tc.wantProvisioned)
			}
			ev := h.events()
			if tc.wantEvent != "" && !slices.Equal(ev, []string{tc.wantEvent}) || tc.wantEvent == "" && len(ev) != 0 {
				t.Errorf("events %q, want %q", ev, tc.wantEvent)
			}
			if tc.wantTimer != nil {
				h.waitArmed(*tc.wantTimer)
			}
		})
	}
}

// errAny stands for any error in the tables.
var errAny = errors.New("any error")

// TestRetentionRetriesAFailedRemovalThenDeletes: the retention pass of a
// request whose grant removal failed against a connected agent keeps the
// request and retries; once the agent confirms the removal, the request
// goes a retention later.
func TestRetentionRetriesAFailedRemovalThenDeletes(t *testing.T) {
	h := newHarness(t, Options{Retention: time.Hour}, finishedRequest("r1", v1alpha1.AccessRequestExpired, start.Add(-2*time.Hour), false), cluster("dev"))
	agent := h.agents.connect("dev")
	agent.failRemovals(errAgentDown)
	h.run()

	h.eventually("a failed removal", func() bool { return agent.count("remove r1") >= 1 })
	h.waitArmed(start.Add(5 * time.Millisecond)) // the work queue's first backoff
	if d := h.deletes(); len(d) != 0 {
		t.Fatalf("deleted %q although the grant removal failed", d)
	}

	agent.failRemovals(nil)
	confirmed := start.Add(time.Second)
	h.stepTo(confirmed)
	got := h.waitStored("r1", "has its grant confirmed removed", func(ar *v1alpha1.AccessRequest) bool {
		return provisioned(ar) == "False/GrantRemoved"
	})
	if got.Status.Phase != v1alpha1.AccessRequestExpired {
		t.Errorf("phase %s, want Expired still", got.Status.Phase)
	}

	deleteAt := confirmed.Add(time.Hour)
	h.waitArmed(deleteAt)
	if d := h.deletes(); len(d) != 0 {
		t.Fatalf("deleted %q before the retention that counts from the confirmation", d)
	}
	h.stepTo(deleteAt)
	h.eventually("the deletion", func() bool { return slices.Equal(h.deletes(), []string{"r1 uid=r1-uid"}) })
}

// TestRetentionWaitsForTheAgentToConnect: without its agent a finished
// request with a grant stays; when the agent connects the grant goes,
// and a retention later the request.
func TestRetentionWaitsForTheAgentToConnect(t *testing.T) {
	h := newHarness(t, Options{Retention: time.Hour}, finishedRequest("r1", v1alpha1.AccessRequestWithdrawn, start.Add(-2*time.Hour), false), cluster("dev"))
	h.run()

	// Without an agent the controller asks whether the Cluster is still
	// registered: that is how it decided to wait.
	h.eventually("a look at the Cluster", func() bool { return h.clusterGets() >= 1 })
	if d := h.deletes(); len(d) != 0 {
		t.Fatalf("deleted %q while the agent was away", d)
	}

	agent := h.connectAgent("dev")
	h.waitStored("r1", "has its grant confirmed removed", func(ar *v1alpha1.AccessRequest) bool {
		return provisioned(ar) == "False/GrantRemoved"
	})
	if agent.count("remove r1") != 1 {
		t.Errorf("agent calls %q, want one removal of r1", agent.callsOf())
	}
	h.waitArmed(start.Add(time.Hour))
	h.stepTo(start.Add(time.Hour))
	h.eventually("the deletion", func() bool { return slices.Equal(h.deletes(), []string{"r1 uid=r1-uid"}) })
}

func (h *harness) clusterGets() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "clusters" {
			n++
		}
	}
	return n
}
