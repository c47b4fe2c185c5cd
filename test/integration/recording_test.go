package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/test/integration/framework"
)

// TestExecSessionIsRecordedAsTheUserReceivedIt runs a session through the
// real server and tunnel with --recording-store in a directory: the
// recording's "o" events are the bytes alice read (invalid UTF-8 and
// Janus's own notices included), her resize and the idle notices are
// there, it verifies, and it stops verifying once a stored byte changes.
func TestExecSessionIsRecordedAsTheUserReceivedIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) {
		o.IdleTimeout = 2 * time.Second
		o.Recording.Store = dir
	})
	echoAgent(t, e)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "recording test"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })

	conn := openExec(t, e, ar.Name)
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{4}, `{"Width":100,"Height":31}`...)); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"hello ✓\r\n", "\xff\xfe\x1b[31mnot UTF-8\x1b[0m\r\n", strings.Repeat("bulk ", 10000), strings.Repeat("more ", 10000)} {
		if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdin}, line...)); err != nil {
			t.Fatal(err)
		}
	}
	// Then nothing: the idle timeout warns and closes the session.
	var got []byte
	for {
		channel, payload := readFrame(t, conn)
		if channel == channelError {
			break
		}
		got = append(got, payload...)
	}
	id := waitForClosedSession(t, e, ar.Name, 20*time.Second).Name

	store, err := recording.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := recording.Read(context.Background(), store, id)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	h, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording: %v", err)
	}
	if out := recording.Output(events); !bytes.Equal(out, got) {
		t.Errorf("the recording's output (%d bytes) differs from the %d bytes alice received", len(out), len(got))
	}
	if !bytes.Contains(got, []byte("\xff\xfe\x1b[31mnot UTF-8")) || !bytes.Contains(got, []byte("janus: session closed after 2s idle")) {
		t.Errorf("alice did not read her output and the idle close: %q", got[:min(len(got), 200)])
	}
	var resizes, markers []string
	for _, ev := range events {
		switch ev.Code {
		case recording.CodeResize:
			resizes = append(resizes, string(ev.Data))
		case recording.CodeMarker:
			markers = append(markers, string(ev.Data))
		case recording.CodeInput:
			t.Errorf("input %q recorded without --record-input", ev.Data)
		}
	}
	if len(resizes) != 1 || resizes[0] != "100x31" {
		t.Errorf("resizes %q; want [100x31]", resizes)
	}
	wantMarkers := []string{"janus: this session has been idle for 1s and will be closed in 1s", "janus: session closed after 2s idle"}
	if strings.Join(markers, "\n") != strings.Join(wantMarkers, "\n") {
		t.Errorf("markers %q; want %q", markers, wantMarkers)
	}
	if h.Janus.Request != ar.Name || h.Janus.User != "alice" || h.Janus.Cluster != "dev" || h.Janus.Namespace != "payments" || h.Janus.Pod != "payments-api-0" || h.Command != "sh" {
		t.Errorf("header %+v", h)
	}

	v, err := recording.Verify(context.Background(), store, id, "")
	if err != nil || !v.Sealed || v.Size != int64(len(doc)) {
		t.Fatalf("verifying the recording: %+v, %v", v, err)
	}
	if v.Chunks < 2 {
		t.Errorf("%d chunks for %d bytes; want the 100 kB of output over several 64 KiB chunks", v.Chunks, len(doc))
	}
	chunk := filepath.Join(dir, id, "00000001.cast")
	data, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x20
	if err := os.WriteFile(chunk, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{v.SHA256, ""} {
		if _, err := recording.Verify(context.Background(), store, id, want); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("verifying (against %q) after a byte of a chunk changed: %v", want, err)
		}
	}
}
