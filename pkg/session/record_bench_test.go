package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// BenchmarkRecordingOverhead relays a session's bulk output (16 MiB in
// 32 KiB messages) through the engine with recording off and on (the
// directory store), side by side. Without TLS, the aggregator and the
// tunnel, it is the relay's own cost, so recording's share here is an
// upper bound of its share on the real path.
//
//	go test ./pkg/session -run '^$' -bench RecordingOverhead -benchtime 20x -count 3
func BenchmarkRecordingOverhead(b *testing.B) {
	const total, message = 16 << 20, 32 << 10
	payload := append([]byte{channelStdout}, bytes.Repeat([]byte("0123456789abcdef"), message/16)...)
	serve := func(conn *websocket.Conn) {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
		for sent := 0; sent < total; sent += message {
			if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				return
			}
		}
		status, _ := json.Marshal(metav1.Status{Status: metav1.StatusSuccess})
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelError}, status...))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}
	for _, mode := range []string{"off", "on"} {
		b.Run("recording="+mode, func(b *testing.B) {
			agent := newFakeAgent(b, serve)
			cfg := Config{Streams: agent}
			if mode == "on" {
				store, err := recording.NewDirStore(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				cfg.Recording = &RecordingConfig{Store: store}
			}
			e := New(cfg)
			var sessions atomic.Int64
			ended := make(endedObserver, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := spec()
				s.ID = fmt.Sprintf("s%d", sessions.Add(1))
				e.ServeExec(w, r, s, ended, statusResponder{w})
			}))
			b.Cleanup(srv.Close)
			dialer := websocket.Dialer{Subprotocols: []string{protocolV5}, ReadBufferSize: 64 << 10}
			b.SetBytes(total)
			b.ResetTimer()
			for i := range b.N {
				conn, _, err := dialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/?command=cat", nil)
				if err != nil {
					b.Fatalf("opening session %d: %v", i, err)
				}
				_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'g', 'o'})
				got := 0
				for {
					_, data, err := conn.ReadMessage()
					if err != nil {
						b.Fatalf("reading the session: %v", err)
					}
					if data[0] == channelError {
						break
					}
					got += len(data) - 1
				}
				conn.Close()
				if got != total {
					b.Fatalf("read %d bytes, want %d", got, total)
				}
				if s := <-ended; (mode == "on") != (s.Recording != nil) {
					b.Fatalf("recording %s, but the session's recording is %+v", mode, s.Recording)
				}
			}
		})
	}
}
