package apiserver

import (
	"context"
	"time"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/controller/sessionretention"
	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/registry/janus/accessrequest"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
)

const (
	// leftOpenFirstPass bounds how long readiness waits for the Sessions
	// a crash left open to be closed; the rest are closed after.
	leftOpenFirstPass = 30 * time.Second
	// leftOpenRetry and leftOpenRetryMax space the retries of Sessions
	// that could not be closed (their recording store unreachable).
	leftOpenRetry    = 5 * time.Second
	leftOpenRetryMax = 5 * time.Minute
)

// addSessionHooks starts, with the server, the closing of the Sessions
// this replica left open when it died: every replica closes only its own.
func addSessionHooks(server *genericapiserver.GenericAPIServer, records *sessionregistry.Records, requests *accessrequest.Storage) {
	server.AddPostStartHookOrDie("janus-sessions-left-open", func(hook genericapiserver.PostStartHookContext) error {
		closeLeftOpenSessions(hook.Context, records, requests)
		return nil
	})
}

// sessionRetention is the retention of closed Sessions and their
// recordings, which the Lease holder runs beside the lifecycle controller.
// Its deletes are idempotent (see sessionretention.Controller), but one
// replica sweeping is enough.
func sessionRetention(sessions *sessionregistry.Storage, recordings recording.Store, retention time.Duration) func(context.Context) {
	return sessionretention.New(sessions.Store, recordings, sessionretention.Options{Retention: retention}).Run
}

// closeLeftOpenSessions closes the Sessions an earlier run of this replica
// left Open. The server is ready once a first pass is done, so that no one
// reads a dead session as live from a ready replica; Sessions it could not
// close are retried in the background until they are.
func closeLeftOpenSessions(ctx context.Context, records *sessionregistry.Records, requests *accessrequest.Storage) {
	pass := func(ctx context.Context) error {
		n, err := records.CloseLeftOpen(ctx, requests.SessionLeftOpenClosed)
		if n > 0 {
			klog.InfoS("Closed the sessions a restart cut", "sessions", n, "replica", records.Server())
		}
		return err
	}
	first, cancel := context.WithTimeout(ctx, leftOpenFirstPass)
	err := pass(first)
	cancel()
	if err == nil {
		return
	}
	go func() {
		delay := leftOpenRetry
		for err != nil {
			klog.ErrorS(err, "Closing the sessions a restart cut; retrying", "replica", records.Server(), "in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			err = pass(ctx)
			delay = min(2*delay, leftOpenRetryMax)
		}
	}()
}
