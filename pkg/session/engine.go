package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

var schemaResource = janus.Resource("accessrequests")

// StreamOpener opens a connection of its own to a cluster's agent for one
// stream: tunnelserver.Server.
type StreamOpener interface {
	OpenStream(ctx context.Context, cluster string) (net.Conn, error)
}

// Responder answers a stream that never opened with an API error (the
// registry's rest.Responder).
type Responder interface {
	Error(err error)
}

// Config is what an Engine is built from.
type Config struct {
	Streams StreamOpener
	// IdleTimeout ends a session without data in either direction for
	// this long; 0 never does.
	IdleTimeout time.Duration
	// MaxSessionsPerRequest and MaxSessionsPerUser bound the sessions open
	// at once (on this replica); 0 means no bound.
	MaxSessionsPerRequest int
	MaxSessionsPerUser    int
	// Recording records every exec session; nil records none.
	Recording *RecordingConfig
	// Clock is the real clock unless a test sets it.
	Clock clock.Clock
}

// Engine runs every exec and log stream of one janus-apiserver.
type Engine struct {
	cfg Config

	mu         sync.Mutex
	perRequest map[string]int
	perUser    map[string]int
	// live are the sessions open now, by name (RecordingID).
	live map[string]*liveSession
	// suspended, when not "", is why new sessions are refused (Suspend).
	suspended string
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Engine{cfg: cfg, perRequest: map[string]int{}, perUser: map[string]int{}, live: map[string]*liveSession{}}
}

// reserve counts a new session against the limits, or answers 429 naming
// the limit it would break.
func (e *Engine) reserve(spec Spec) (release func(), err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refusal(); err != nil {
		return nil, err
	}
	if max := e.cfg.MaxSessionsPerRequest; max > 0 && e.perRequest[spec.Request] >= max {
		return nil, apierrors.NewTooManyRequests(fmt.Sprintf("request %s already has %d open sessions, the most one request may have (--max-sessions-per-request); close one first", spec.Request, max), 0)
	}
	if max := e.cfg.MaxSessionsPerUser; max > 0 && e.perUser[spec.User] >= max {
		return nil, apierrors.NewTooManyRequests(fmt.Sprintf("%s already has %d open sessions, the most one user may have (--max-sessions-per-user); close one first", spec.User, max), 0)
	}
	e.perRequest[spec.Request]++
	e.perUser[spec.User]++
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.perRequest[spec.Request]--; e.perRequest[spec.Request] <= 0 {
				delete(e.perRequest, spec.Request)
			}
			if e.perUser[spec.User]--; e.perUser[spec.User] <= 0 {
				delete(e.perUser, spec.User)
			}
		})
	}, nil
}

// OpenSessions is how many sessions this engine holds open.
func (e *Engine) OpenSessions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.perRequest {
		n += c
	}
	return n
}

// ServeExec runs one exec session: it checks the protocol and the limits,
// records the session through obs and opens the agent's stream at once,
// relays the upgrade, then relays frames until one side ends.
func (e *Engine) ServeExec(w http.ResponseWriter, req *http.Request, spec Spec, obs Observer, responder Responder) {
	if !tunnel.IsWebsocketUpgrade(req) {
		responder.Error(apierrors.NewBadRequest("accessrequests/exec speaks only the websocket protocol (v5.channel.k8s.io), not SPDY: use kubectl 1.30 or later, or client-go's websocket executor"))
		return
	}
	protocols := offeredProtocols(req)
	if len(protocols) == 0 {
		responder.Error(apierrors.NewBadRequest("accessrequests/exec needs a Sec-WebSocket-Protocol of " + strings.Join(execProtocols, " or ")))
		return
	}
	key := req.Header.Get("Sec-Websocket-Key")
	if !validKey(key) {
		responder.Error(apierrors.NewBadRequest("the Sec-WebSocket-Key header is missing or malformed"))
		return
	}
	release, err := e.reserve(spec)
	if err != nil {
		responder.Error(err)
		return
	}
	defer release()

	ctx := req.Context()
	began := e.cfg.Clock.Now()
	rec, err := e.startRecording(ctx, spec)
	if err != nil {
		responder.Error(err)
		return
	}
	name := RecordingID(spec)
	live := e.addLive(name)
	endedWhy := "the session did not open"
	defer func() { e.removeLive(name, live, endedWhy) }()
	rec = rec.withHub(live.hub, spec)
	conn, err := e.openRecorded(ctx, spec, obs)
	if err != nil {
		rec.close()
		responder.Error(err)
		return
	}
	ended := func(reason string, cause EndCause, cut bool) {
		endedWhy = reason
		rec.marker("janus: " + reason)
		endSession(context.WithoutCancel(ctx), obs, Summary{Started: began, Ended: e.cfg.Clock.Now(), Reason: reason, Cause: cause, Cut: cut, Recording: rec.close()})
	}
	agentR := bufio.NewReaderSize(conn, agentReadBuffer)
	out, _ := http.NewRequest(http.MethodGet, "http://agent"+spec.Path+"?"+spec.Query, nil)
	out.Header = http.Header{
		"Connection":             {"Upgrade"},
		"Upgrade":                {"websocket"},
		"Sec-Websocket-Key":      {key},
		"Sec-Websocket-Version":  {"13"},
		"Sec-Websocket-Protocol": {strings.Join(protocols, ", ")},
	}
	resp, err := agentRequest(conn, agentR, out)
	if err != nil {
		conn.Close()
		ended("the agent did not answer: "+err.Error(), EndNotOpened, true)
		responder.Error(apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s did not open the stream: %v", spec.Cluster, err)))
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		refusal := answerError(resp)
		ended("refused: "+refusal.Error(), EndRefused, false)
		responder.Error(refusal)
		return
	}
	protocol := resp.Header.Get("Sec-Websocket-Protocol")
	if resp.Header.Get("Sec-Websocket-Accept") != acceptKey(key) || !contains(protocols, protocol) || resp.Header.Get("Sec-Websocket-Extensions") != "" {
		conn.Close()
		ended("the agent answered an invalid websocket upgrade", EndNotOpened, true)
		responder.Error(apierrors.NewInternalError(errors.New("the agent answered an invalid websocket upgrade")))
		return
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		conn.Close()
		ended("the connection cannot be upgraded", EndNotOpened, true)
		responder.Error(apierrors.NewInternalError(errors.New("the connection cannot be upgraded")))
		return
	}
	client, clientRW, err := hijacker.Hijack()
	if err != nil {
		conn.Close()
		ended("upgrading the user's connection: "+err.Error(), EndNotOpened, true)
		return
	}
	if _, err := client.Write(upgradeResponse(key, protocol)); err != nil {
		client.Close()
		conn.Close()
		ended("closed by the user", EndUserClosed, false)
		return
	}
	r := &relay{
		engine: e, spec: spec, obs: obs, ctx: context.WithoutCancel(ctx), rec: rec,
		client: client, clientR: clientRW.Reader, agent: conn, agentR: agentR,
		writing: make(chan struct{}, 1), terminated: live.terminated,
	}
	r.toClient.dst, r.toAgent.dst = client, conn
	summary := r.run()
	endedWhy = summary.Reason
	summary.Recording = rec.close()
	summary.Started = began
	summary.Ended = e.cfg.Clock.Now()
	endSession(context.WithoutCancel(ctx), obs, summary)
}

// openRecorded records the session and opens the agent's stream at the
// same time, so the record costs the session no time; it fails if either
// fails, and then nothing stays open.
func (e *Engine) openRecorded(ctx context.Context, spec Spec, obs Observer) (net.Conn, error) {
	type opened struct {
		conn net.Conn
		err  error
	}
	streamc := make(chan opened, 1)
	go func() {
		c, err := e.cfg.Streams.OpenStream(ctx, spec.Cluster)
		streamc <- opened{c, err}
	}()
	recordErr := obs.Started(ctx)
	stream := <-streamc
	if stream.err != nil {
		if recordErr == nil {
			endSession(context.WithoutCancel(ctx), obs, Summary{Started: e.cfg.Clock.Now(), Ended: e.cfg.Clock.Now(), Reason: "the agent's stream did not open: " + stream.err.Error(), Cause: EndNotOpened, Cut: true})
		}
		return nil, streamError(spec.Cluster, stream.err)
	}
	if recordErr != nil {
		stream.conn.Close()
		klog.ErrorS(recordErr, "Recording a session; refusing it", "request", spec.Request, "session", spec.ID)
		return nil, apierrors.NewInternalError(fmt.Errorf("recording the session: %w", recordErr))
	}
	return stream.conn, nil
}

// streamError is an API error for a stream that could not be opened: an
// agent that is not connected is a 503 the user can retry.
func streamError(cluster string, err error) error {
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status):
		return err
	case errors.Is(err, tunnelserver.ErrNotConnected):
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s is not connected", cluster))
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("opening a stream to the agent of cluster %s: %v", cluster, err))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
