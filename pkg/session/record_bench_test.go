package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/recording"
)

// endedObserver lets every session run and says when one ended (its
// recording closed).
type endedObserver chan Summary

func (endedObserver) Started(context.Context) error        { return nil }
func (o endedObserver) Ended(_ context.Context, s Summary) { o <- s }
func (endedObserver) AccessEnds(context.Context) (time.Time, string) {
	return time.Now().Add(time.Hour), ""
}

// terminalText is n bytes of what a terminal mostly shows: log lines
// with timestamps, colours (SGR escape sequences), paths and numbers, a
// newline every 60-odd bytes.
func terminalText(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	levels := []string{"\x1b[32mINFO\x1b[0m", "\x1b[33mWARN\x1b[0m", "\x1b[1;31mERROR\x1b[0m", "DEBUG"}
	paths := []string{"/api/v1/namespaces/payments/pods", "/healthz", "/apis/janus.infroware.io/v1alpha1/accessrequests", "/var/log/payments/api-0.log"}
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "2026-12-02T07:%02d:%02d.%06dZ %s %s status=%d took=%dms id=%x\n",
			i/60000%60, i/1000%60, rng.IntN(1e6), levels[rng.IntN(len(levels))], paths[rng.IntN(len(paths))],
			[]int{200, 200, 201, 404, 500}[rng.IntN(5)], rng.IntN(900), rng.Uint32())
	}
	return b.Bytes()[:n]
}

// BenchmarkRecordingOverhead relays a session's bulk output (16 MiB in
// 32 KiB messages) through the engine with recording on (the directory
// store) and off, the two alternating session by session, and reports
// each one's MB/s and their ratio. Without TLS, the aggregator and the
// tunnel it is the relay's own cost, so recording's share here is an
// upper bound of its share on the real path. Terminal text is the
// headline; NULs are the worst case (JSON writes each as six bytes).
//
//	go test ./pkg/session -run '^$' -bench RecordingOverhead -benchtime 20x -count 3
func BenchmarkRecordingOverhead(b *testing.B) {
	const total, message = 16 << 20, 32 << 10
	outputs := []struct {
		name string
		data []byte
	}{
		{"text", terminalText(message)},
		{"nul", make([]byte, message)},
	}
	for _, o := range outputs {
		b.Run(o.name, func(b *testing.B) {
			payload := append([]byte{channelStdout}, o.data...)
			on, off := newBenchEngine(b, payload, total, true), newBenchEngine(b, payload, total, false)
			var tookOn, tookOff time.Duration
			for i := 0; b.Loop(); i++ {
				// Who goes first alternates too.
				if i%2 == 0 {
					tookOn += on.session(b)
					tookOff += off.session(b)
				} else {
					tookOff += off.session(b)
					tookOn += on.session(b)
				}
			}
			mbps := func(took time.Duration) float64 { return float64(b.N) * total / 1e6 / took.Seconds() }
			b.ReportMetric(mbps(tookOn), "MB/s-on")
			b.ReportMetric(mbps(tookOff), "MB/s-off")
			b.ReportMetric(tookOff.Seconds()/tookOn.Seconds(), "ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchEngine is an engine relaying sessions of total bytes of payload
// messages from a fake agent, recording them or not.
type benchEngine struct {
	url    string
	total  int
	record bool
	ended  endedObserver
}

func newBenchEngine(b *testing.B, payload []byte, total int, record bool) *benchEngine {
	serve := func(conn *websocket.Conn) {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
		pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, payload)
		if err != nil {
			return
		}
		for sent := 0; sent < total; sent += len(payload) - 1 {
			if err := conn.WritePreparedMessage(pm); err != nil {
				return
			}
		}
		status, _ := json.Marshal(metav1.Status{Status: metav1.StatusSuccess})
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelError}, status...))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}
	agent := newFakeAgent(b, serve)
	cfg := Config{Streams: agent}
	if record {
		store, err := recording.NewDirStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		cfg.Recording = &RecordingConfig{Store: store}
	}
	e := New(cfg)
	var sessions atomic.Int64
	be := &benchEngine{total: total, record: record, ended: make(endedObserver, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := spec()
		s.ID = fmt.Sprintf("s%d", sessions.Add(1))
		e.ServeExec(w, r, s, be.ended, statusResponder{w})
	}))
	b.Cleanup(srv.Close)
	be.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/?command=cat"
	return be
}

// session runs one session and returns the time from its first byte of
// output to its last, which the client reads without keeping.
func (be *benchEngine) session(b *testing.B) time.Duration {
	dialer := websocket.Dialer{Subprotocols: []string{protocolV5}, ReadBufferSize: 64 << 10}
	conn, _, err := dialer.Dial(be.url, nil)
	if err != nil {
		b.Fatalf("opening a session: %v", err)
	}
	defer conn.Close()
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'g', 'o'})
	var first time.Time
	got := 0
	buf := make([]byte, 64<<10)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			b.Fatalf("reading the session: %v", err)
		}
		if first.IsZero() {
			first = time.Now()
		}
		n, err := io.ReadFull(r, buf[:1])
		if err != nil || n != 1 {
			b.Fatalf("reading a message's channel: %v", err)
		}
		if buf[0] == channelError {
			break
		}
		m, err := io.CopyBuffer(io.Discard, r, buf)
		if err != nil {
			b.Fatalf("reading the session: %v", err)
		}
		got += int(m)
	}
	took := time.Since(first)
	if got != be.total {
		b.Fatalf("read %d bytes, want %d", got, be.total)
	}
	if s := <-be.ended; be.record != (s.Recording != nil) {
		b.Fatalf("recording %v, but the session's recording is %+v", be.record, s.Recording)
	}
	return took
}
