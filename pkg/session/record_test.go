package session

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/infroware/janus/pkg/recording"
)

func recordingStore(t *testing.T) *recording.DirStore {
	t.Helper()
	s, err := recording.NewDirStore(filepath.Join(t.TempDir(), "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received gathers what the user reads on stdout and stderr until the
// final Status.
func received(t *testing.T, conn *websocket.Conn) []byte {
	t.Helper()
	var out []byte
	for {
		c, payload := readChannel(t, conn)
		switch c {
		case channelStdout, channelStderr:
			out = append(out, payload...)
		case channelError:
			return out
		}
	}
}

func readRecording(t *testing.T, store recording.Store, s Summary) (recording.Header, []recording.Event) {
	t.Helper()
	if s.Recording == nil {
		t.Fatal("the session's summary has no recording")
	}
	if _, err := recording.Verify(context.Background(), store, s.Recording.ID, s.Recording.SHA256); err != nil {
		t.Fatalf("verifying the recording: %v", err)
	}
	doc, err := recording.Read(context.Background(), store, s.Recording.ID)
	if err != nil {
		t.Fatal(err)
	}
	h, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return h, events
}

func eventsOf(events []recording.Event, code string) []string {
	var out []string
	for _, ev := range events {
		if ev.Code == code {
			out = append(out, string(ev.Data))
		}
	}
	return out
}

func TestRecordingHoldsExactlyWhatTheUserReceived(t *testing.T) {
	store := recordingStore(t)
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, func(conn *websocket.Conn) {
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, "$ \xff\xfe not UTF-8, ✓ is\r\n"...))
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStderr}, "warning\n"...))
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if len(data) > 0 && data[0] == 0 {
				if string(data[1:]) == "bye" {
					obs.end("access revoked by carol: done")
					conn.NetConn().Close()
					return
				}
				_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, data[1:]...))
			}
		}
	})
	u := startEngine(t, Config{Streams: agent, Recording: &RecordingConfig{Store: store}}, obs, spec())
	conn := u.dial(t, "command=sh&command=-i&container=app&tty=1&stdin=1&stdout=1")
	_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelResize}, `{"Width":132,"Height":43}`...))
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'l', 's', '\r'})
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'b', 'y', 'e'})
	got := received(t, conn)
	s := obs.wait(t)

	h, events := readRecording(t, store, s)
	if out := recording.Output(events); !bytes.Equal(out, got) {
		t.Errorf("the recording's output\n%q\ndiffers from what the user received\n%q", out, got)
	}
	if !bytes.Contains(got, []byte("janus: access revoked by carol: done")) {
		t.Errorf("the user did not read the revocation: %q", got)
	}
	if r := eventsOf(events, recording.CodeResize); len(r) != 1 || r[0] != "132x43" {
		t.Errorf("resizes %q; want [132x43]", r)
	}
	if m := eventsOf(events, recording.CodeMarker); len(m) != 1 || m[0] != "janus: access revoked by carol: done" {
		t.Errorf("markers %q; want the revocation", m)
	}
	if i := eventsOf(events, recording.CodeInput); len(i) != 0 {
		t.Errorf("input %q recorded without --record-input", i)
	}
	want := recording.Metadata{Session: "req-s1", Request: "req", User: "alice", Cluster: "dev", Namespace: "payments", Pod: "pod", Container: "app", TTY: true}
	if h.Janus != want || h.Command != "sh -i" || h.Env["TERM"] != "xterm-256color" {
		t.Errorf("header %+v", h)
	}
	if s.Recording.Location != store.Location("req-s1") || s.Recording.Format != recording.Format {
		t.Errorf("recording summary %+v", s.Recording)
	}
}

func TestInputIsRecordedOnlyWhenAsked(t *testing.T) {
	store := recordingStore(t)
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent, Recording: &RecordingConfig{Store: store, RecordInput: true}}, obs, spec())
	conn := u.dial(t, "command=cat&stdin=1&stdout=1")
	// A message in two fragments, each masked on its own.
	w, _ := conn.NextWriter(websocket.BinaryMessage)
	_, _ = w.Write([]byte{0, 'p', 'w'})
	_ = w.Close()
	expectChannel(t, conn, channelStdout, "pw")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, '4', '2', '\r'})
	expectChannel(t, conn, channelStdout, "42\r")
	conn.Close()
	_, events := readRecording(t, store, obs.wait(t))
	if got := strings.Join(eventsOf(events, recording.CodeInput), ""); got != "pw42\r" {
		t.Errorf("input recorded %q; want \"pw42\\r\"", got)
	}
}

// blockRecording puts a file where the recording's directory goes.
func blockRecording(t *testing.T, store *recording.DirStore, id string) {
	t.Helper()
	dir := store.Location(id)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSessionWhoseRecordingCannotStartIsRefused(t *testing.T) {
	store := recordingStore(t)
	blockRecording(t, store, "req-s1")
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent, Recording: &RecordingConfig{Store: store}}, obs, spec())
	d := websocket.Dialer{Subprotocols: []string{protocolV5}}
	_, resp, err := d.Dial(u.url+"/?command=sh", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dialing a session that cannot be recorded: %v, %v; want a 503", err, resp)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if !strings.Contains(body.String(), "the session cannot be recorded, and Janus runs no session it cannot record") {
		t.Errorf("the refusal says %s", body.String())
	}
	if obs.started != 0 || len(agent.paths) != 0 {
		t.Errorf("a refused session was recorded as started (%d) or reached the agent (%v)", obs.started, agent.paths)
	}

	// --recording-failure=continue runs it unrecorded.
	u = startEngine(t, Config{Streams: agent, Recording: &RecordingConfig{Store: store, Failure: RecordingFailContinue}}, obs, spec())
	conn := u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")
	conn.Close()
	if s := obs.wait(t); s.Recording != nil {
		t.Errorf("an unrecorded session reports a recording: %+v", s.Recording)
	}
}

func TestSessionIsCutWhenItsRecordingFails(t *testing.T) {
	for _, failure := range []RecordingFailure{RecordingFailClose, RecordingFailContinue} {
		t.Run(string(failure), func(t *testing.T) {
			store := recordingStore(t)
			obs := newFakeObserver(time.Now().Add(time.Hour))
			agent := newFakeAgent(t, echoCommand)
			cfg := &RecordingConfig{Store: store, Failure: failure, Options: recording.Options{ChunkBytes: 1}}
			u := startEngine(t, Config{Streams: agent, Recording: cfg}, obs, spec())
			conn := u.dial(t, "command=cat&stdin=1&stdout=1&stderr=1")
			_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
			expectChannel(t, conn, channelStdout, "a")
			waitForChunk(t, store, "req-s1/00000001.cast")
			blockRecording(t, store, "req-s1")
			_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'b'})
			if failure == RecordingFailContinue {
				expectChannel(t, conn, channelStdout, "b")
				_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'c'})
				expectChannel(t, conn, channelStdout, "c")
				conn.Close()
				if s := obs.wait(t); s.Cut {
					t.Errorf("summary %+v; want the session to go on unrecorded", s)
				}
				return
			}
			const line = "janus: session closed: its recording could not be written, and Janus runs no session it cannot record"
			// "b" reaches the user unless the cut overtakes it: the chunk
			// that holds it fails after it was relayed.
			if c, got := readChannel(t, conn); c != channelStdout || got != "b" {
				if c != channelStderr || got != "\r\n"+line+"\r\n" {
					t.Fatalf("read %q on channel %d; want b, then the cut", got, c)
				}
			} else {
				expectChannel(t, conn, channelStderr, "\r\n"+line+"\r\n")
			}
			expectFailure(t, conn, line)
			if s := obs.wait(t); !s.Cut || !strings.Contains(s.Reason, "recording could not be written") {
				t.Errorf("summary %+v; want a cut for the recording", s)
			}
		})
	}
}

func waitForChunk(t *testing.T, store recording.Store, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := store.Get(context.Background(), key); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within 5s", key)
		}
		time.Sleep(2 * time.Millisecond) // polling the store
	}
}
