package tunnelserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
)

// peerSyncGrace is how long a listed peer that never links is waited for
// before this replica is ready without it: a dead peer must not keep the
// survivor unready. remotedialer redials a lost peer every 5 s, so a live
// one links well within it, even after a refused first try.
const peerSyncGrace = 15 * time.Second

// peerLinkSettle is how long after a peer's link is accepted a lookup of
// an agent not known yet waits for it: the peer's list of agents follows
// the handshake on the link, with no mark of its end.
const peerLinkSettle = 2 * time.Second

// agentLookupWait bounds that wait.
const agentLookupWait = 2 * time.Second

// peerSync follows whether this replica has heard from every peer since
// it started: a replica learns the agents a peer holds only on the link
// that peer dials to it, which remotedialer redials at its own pace, up
// to 5 s after this replica came back. Until then it cannot serve those
// agents, so it is not ready (Check). Once synced it stays so: a peer
// that restarts later has its own agents reconnecting, and making the
// replicas that still serve unready would only take them out of the
// Service too.
type peerSync struct {
	now func() time.Time

	mu      sync.Mutex
	started time.Time
	// listed is set once the peers were set at least once: with the peer
	// Service, the list comes from its EndpointSlices after the start.
	listed bool
	// appeared is when each listed peer was listed; linked, when its link
	// to this replica was last accepted since.
	appeared map[string]time.Time
	linked   map[string]time.Time
	synced   bool
}

func newPeerSync(now func() time.Time) *peerSync {
	return &peerSync{now: now, started: now(), appeared: map[string]time.Time{}, linked: map[string]time.Time{}}
}

// setPeers makes names the listed peers: new ones are waited for from
// now, those gone are forgotten.
func (ps *peerSync) setPeers(names []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.listed = true
	next := map[string]time.Time{}
	for _, name := range names {
		if t, ok := ps.appeared[name]; ok {
			next[name] = t
		} else {
			next[name] = ps.now()
		}
	}
	for name := range ps.linked {
		if _, ok := next[name]; !ok {
			delete(ps.linked, name)
		}
	}
	ps.appeared = next
}

// linkAccepted records that name's link to this replica is up.
func (ps *peerSync) linkAccepted(name string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.appeared[name]; ok {
		ps.linked[name] = ps.now()
	}
}

// check is nil once every listed peer linked, or was waited for
// peerSyncGrace; else an error naming the peers waited for.
func (ps *peerSync) check() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.checkLocked(ps.now())
}

func (ps *peerSync) checkLocked(now time.Time) error {
	if ps.synced {
		return nil
	}
	if !ps.listed {
		if now.Sub(ps.started) < peerSyncGrace {
			return fmt.Errorf("the peers are not listed yet (waiting up to %s)", peerSyncGrace)
		}
		klog.InfoS("Ready without the list of peers, not read within the grace", "grace", peerSyncGrace)
		ps.synced = true
		return nil
	}
	var waiting, dead []string
	for name, appeared := range ps.appeared {
		if _, ok := ps.linked[name]; ok {
			continue
		}
		if now.Sub(appeared) < peerSyncGrace {
			waiting = append(waiting, name)
		} else {
			dead = append(dead, name)
		}
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		return fmt.Errorf("waiting for the link of peer %s (up to %s each)", strings.Join(waiting, ", "), peerSyncGrace)
	}
	sort.Strings(dead)
	klog.InfoS("Peers synced: every peer linked to this replica or was waited for", "peers", len(ps.appeared), "unlinked", dead, "sinceStart", now.Sub(ps.started).Round(time.Millisecond))
	ps.synced = true
	return nil
}

// settling reports whether an agent not known yet may still be announced
// by a peer: this replica is not synced, or a peer's link is new.
func (ps *peerSync) settling() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.now()
	if ps.checkLocked(now) != nil {
		return true
	}
	for _, t := range ps.linked {
		if now.Sub(t) < peerLinkSettle {
			return true
		}
	}
	return false
}

// PeersSynced is the readiness check of peering: it fails until this
// replica has been linked to by every peer it lists, or has waited
// peerSyncGrace for those that do not link, so that a Service sends it no
// exec for agents a peer holds before it can reach them. Without peering
// it passes.
func (s *Server) PeersSynced() PeersSyncedCheck {
	return PeersSyncedCheck{s}
}

// PeersSyncedCheck is a k8s.io/apiserver healthz.HealthChecker.
type PeersSyncedCheck struct{ s *Server }

// Name names the check in /readyz.
func (PeersSyncedCheck) Name() string { return "peers" }

// Check is nil once synced.
func (c PeersSyncedCheck) Check(*http.Request) error {
	p := c.s.peering.Load()
	if p == nil {
		return nil
	}
	return p.links.check()
}

// AwaitAgent is Agent after waiting, up to 2 s (agentLookupWait), for
// cluster's agent to be known while a peer may still announce it: this
// replica has not heard from every peer yet, or a peer's link is new. It
// does not wait when the agent is known or no peer link is settling.
func (s *Server) AwaitAgent(ctx context.Context, cluster string) (*AgentClient, error) {
	s.awaitAgent(ctx, cluster)
	return s.Agent(cluster)
}

func (s *Server) awaitAgent(ctx context.Context, cluster string) {
	p := s.peering.Load()
	if p == nil || s.dialer.HasSession(cluster) || !p.links.settling() {
		return
	}
	begin := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, agentLookupWait, true, func(context.Context) (bool, error) {
		return s.dialer.HasSession(cluster), nil
	})
	klog.V(2).InfoS("Waited for an agent a peer may announce", "cluster", cluster, "found", err == nil, "waited", time.Since(begin).Round(time.Millisecond))
}
