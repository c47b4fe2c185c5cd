package tunnelserver

import (
	"context"
	"slices"
	"time"

	"k8s.io/klog/v2"
)

// peerTunnelsInterval is how often the tunnels peers hold are looked at
// for agents that came or went there.
const peerTunnelsInterval = 250 * time.Millisecond

// FollowPeerTunnels tells the listeners about the agents of clusters (a
// function, so that it sees Clusters created later) that connect to or
// leave a peer, as they are told about the agents connected here, until
// ctx ends. remotedialer keeps the agents its peers hold to itself, with
// no callback, so they are looked at every peerTunnelsInterval: a map
// lookup per cluster. An agent that leaves one peer and reaches another
// between two looks is not seen to reconnect there; the replica it
// reached sees it, and the agents' own reconnects take longer than that.
func (s *Server) FollowPeerTunnels(ctx context.Context, clusters func() []string) {
	ticker := time.NewTicker(peerTunnelsInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		s.checkPeerTunnels(clusters())
	}
}

// checkPeerTunnels compares what the peers hold of clusters, and of the
// clusters already reached, with what the listeners were told.
func (s *Server) checkPeerTunnels(clusters []string) {
	s.mu.Lock()
	for cluster := range s.reachable {
		clusters = append(clusters, cluster)
	}
	s.mu.Unlock()
	slices.Sort(clusters)
	for _, cluster := range slices.Compact(clusters) {
		s.mu.Lock()
		local, was := s.tunnels[cluster] > 0, s.reachable[cluster]
		s.mu.Unlock()
		if local {
			continue // opened and closed tell of tunnels held here
		}
		now := s.dialer.HasSession(cluster)
		if now == was {
			continue
		}
		s.mu.Lock()
		if s.tunnels[cluster] > 0 || s.reachable[cluster] != was {
			s.mu.Unlock()
			continue // a tunnel here opened or closed meanwhile
		}
		if now {
			s.reachable[cluster] = true
		} else {
			delete(s.reachable, cluster)
		}
		listeners := append([]ConnectionListener(nil), s.listeners...)
		s.mu.Unlock()
		klog.InfoS("Agent reached through a peer", "cluster", cluster, "connected", now)
		for _, l := range listeners {
			if now {
				l.AgentConnected(cluster)
			} else {
				l.AgentDisconnected(cluster)
			}
		}
	}
}

// hasLocalSession reports whether cluster's agent has a tunnel here, not
// only through a peer.
func (s *Server) hasLocalSession(cluster string) bool {
	return slices.Contains(s.dialer.ListClients(), cluster)
}
