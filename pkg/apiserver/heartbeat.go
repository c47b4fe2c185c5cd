package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/controller/lostreplica"
	"github.com/infroware/janus/pkg/registry/janus/accessrequest"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/replicalease"
	"github.com/infroware/janus/pkg/session"
)

// addReplicaHeartbeat keeps, on a replica with peers, a heartbeat Lease of
// its own in the central cluster, by which the Lease holder knows it is
// alive. A replica not ready has no Lease yet; one that cannot renew it
// for half its duration suspends the session engine, cutting its sessions
// before the leader may count it gone and close their records.
func addReplicaHeartbeat(server *genericapiserver.GenericAPIServer, extra ExtraConfig, engine *session.Engine) error {
	if !heartbeats(extra) || extra.Peering == nil {
		return nil
	}
	hb := replicalease.NewHeartbeat(replicalease.HeartbeatConfig{
		Leases:   extra.KubeClient.CoordinationV1().Leases(extra.LeaderElection.Namespace),
		Replica:  extra.ReplicaName,
		Duration: extra.ReplicaLeaseDuration,
		OnStale: func(unrenewed time.Duration) {
			why := fmt.Sprintf("janus-apiserver replica %s could not renew its heartbeat Lease for %s, and its peers will count it gone; the session was cut", extra.ReplicaName, unrenewed.Round(time.Second))
			cut := engine.Suspend(why)
			klog.ErrorS(nil, "Suspended the session engine: the heartbeat Lease is not renewed", "replica", extra.ReplicaName, "sessionsCut", cut, "unrenewedFor", unrenewed)
		},
		OnFresh: func() {
			engine.Resume()
			klog.InfoS("Resumed the session engine: the heartbeat Lease is renewed", "replica", extra.ReplicaName)
		},
	})
	server.AddPostStartHookOrDie("janus-replica-heartbeat", func(hook genericapiserver.PostStartHookContext) error {
		go hb.Run(hook.Context)
		return nil
	})
	return server.AddReadyzChecks(healthz.NamedCheck("replica-lease", func(*http.Request) error {
		if !hb.Renewed() {
			return fmt.Errorf("the heartbeat Lease of replica %s is not made yet", extra.ReplicaName)
		}
		return nil
	}))
}

// lostReplicas is the leader's closing of the Sessions of replicas whose
// heartbeat lapsed; nil without leader election (a single replica).
func lostReplicas(extra ExtraConfig, records *sessionregistry.Records, requests *accessrequest.Storage) func(context.Context) {
	if !heartbeats(extra) {
		return nil
	}
	leases := extra.KubeClient.CoordinationV1().Leases(extra.LeaderElection.Namespace)
	observer := replicalease.NewObserver(leases, extra.ReplicaLeaseDuration, nil)
	return lostreplica.New(observer, records, lostreplica.Options{
		Replica: extra.ReplicaName, Duration: extra.ReplicaLeaseDuration, Ended: requests.SessionLeftOpenClosed,
	}).Run
}

// heartbeats says whether replicas keep heartbeat Leases: with leader
// election, which several replicas need.
func heartbeats(extra ExtraConfig) bool {
	return extra.KubeClient != nil && extra.LeaderElection.Enabled
}
