package recording

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newDirStore(t *testing.T) *DirStore {
	t.Helper()
	s, err := NewDirStore(filepath.Join(t.TempDir(), "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testHeader() Header {
	return Header{Command: "sh -c id", Env: map[string]string{"TERM": "xterm-256color"}, Janus: Metadata{
		Session: "req-1-abc", Request: "req-1", User: "alice", Cluster: "dev",
		Namespace: "payments", Pod: "api-0", Container: "app", TTY: true,
	}}
}

func start(t *testing.T, store Store, id string, opts Options) *Writer {
	t.Helper()
	w, err := Start(context.Background(), store, id, testHeader(), opts)
	if err != nil {
		t.Fatalf("starting the recording: %v", err)
	}
	return w
}

func readBack(t *testing.T, store Store, id string) (Header, []Event) {
	t.Helper()
	doc, err := Read(context.Background(), store, id)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(doc, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("line %d is not JSON: %q", i+1, line)
		}
	}
	h, events, err := Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording: %v", err)
	}
	return h, events
}

func TestOutputEventsHoldExactlyTheBytesWrittenEvenWhenNotUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sent []byte
	// Text, multi-byte characters, escape sequences, invalid UTF-8,
	// encoded surrogates (ED B3 80) and NUL: every byte value.
	samples := [][]byte{
		[]byte("hello, wörld ✓ 🙂\r\n"), []byte("\x1b[31mred\x1b[0m\t\"q\" \\ /"),
		{0xff, 0xfe, 0x80, 0xc3}, {0xed, 0xb3, 0x80}, {0}, []byte("\u2028\u2029"),
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	samples = append(samples, all)
	for range 200 {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		samples = append(samples, b)
	}
	store := newDirStore(t)
	w := start(t, store, "exact", Options{ChunkBytes: 512})
	for _, s := range samples {
		sent = append(sent, s...)
	}
	// Written in pieces cut anywhere, so characters are split across writes.
	for rest := sent; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(97))
		if err := w.Output(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chunks < 10 {
		t.Errorf("%d chunks of at most 512 bytes for %d bytes of output; want many", sum.Chunks, len(sent))
	}
	_, events := readBack(t, store, "exact")
	if got := Output(events); !bytes.Equal(got, sent) {
		t.Fatalf("the \"o\" events hold %d bytes that differ from the %d written", len(got), len(sent))
	}
}

func TestSplitCharacterIsJoinedIntoOneEvent(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "split", Options{})
	check := []byte("✓")
	_ = w.Output([]byte("a" + string(check[:1])))
	_ = w.Output(check[1:2])
	_ = w.Output(append(check[2:], 'b'))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, events := readBack(t, store, "split")
	var datas []string
	for _, ev := range events {
		datas = append(datas, string(ev.Data))
	}
	if strings.Join(datas, "|") != "a|✓b" {
		t.Errorf("events %q; want the split ✓ kept whole in one event: [a ✓b]", datas)
	}
}

func TestHeaderResizesMarkersAndInputAreRecordedInOrder(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "kinds", Options{})
	_ = w.Resize(120, 40)
	_ = w.Output([]byte("$ "))
	_ = w.Input([]byte("ls\r"))
	_ = w.Marker("janus: this session has been idle for 30s and will be closed in 30s")
	_ = w.Resize(80, 24)
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, events := readBack(t, store, "kinds")
	if h.Version != 2 || h.Width != 80 || h.Height != 24 || h.Command != "sh -c id" || h.Env["TERM"] != "xterm-256color" || h.Janus != testHeader().Janus {
		t.Errorf("header %+v", h)
	}
	if d := time.Since(time.Unix(h.Timestamp, 0)); d < 0 || d > time.Minute {
		t.Errorf("header timestamp %d is not now", h.Timestamp)
	}
	want := []string{"r 120x40", "o $ ", "i ls\r", "m janus: this session has been idle for 30s and will be closed in 30s", "r 80x24"}
	var got []string
	last := -1.0
	for _, ev := range events {
		got = append(got, ev.Code+" "+string(ev.Data))
		if ev.Time < last {
			t.Errorf("event times go backwards: %v after %v", ev.Time, last)
		}
		last = ev.Time
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}

func TestChunksAreWrittenWhileTheSessionRuns(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "live", Options{ChunkBytes: 1 << 20, ChunkInterval: 50 * time.Millisecond})
	defer w.Close()
	_ = w.Output([]byte("first"))
	// No Close: the interval alone must write the chunk out.
	waitFor(t, func() bool {
		_, err := store.Get(context.Background(), chunkKey("live", 1))
		return err == nil
	})
	_, events := readBack(t, store, "live")
	if got := string(Output(events)); got != "first" {
		t.Errorf("output %q before Close; want \"first\"", got)
	}
	// A chunk over ChunkBytes is cut at once, at an event's end.
	w2 := start(t, store, "bysize", Options{ChunkBytes: 100, ChunkInterval: time.Hour})
	for range 10 {
		_ = w2.Output(bytes.Repeat([]byte("x"), 40))
	}
	sum, err := w2.Close()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := store.List(context.Background(), "bysize/")
	if sum.Chunks < 3 || len(keys) != sum.Chunks+2 {
		t.Fatalf("%d chunks, keys %v", sum.Chunks, keys)
	}
	for _, k := range keys[1 : len(keys)-1] {
		data, _ := store.Get(context.Background(), k)
		if len(data) == 0 || data[len(data)-1] != '\n' || data[0] != '[' {
			t.Errorf("chunk %s is not whole events: %q", k, data)
		}
	}
}

func TestAbandonedWriterLeavesARecordingReadableToItsLastChunk(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "crashed", Options{ChunkInterval: 20 * time.Millisecond})
	_ = w.Output([]byte("before the crash\r\n"))
	_ = w.Resize(100, 30)
	waitFor(t, func() bool {
		_, err := store.Get(context.Background(), chunkKey("crashed", 1))
		return err == nil
	})
	// The process dies here: Close is never called.
	_, events := readBack(t, store, "crashed")
	if got := string(Output(events)); got != "before the crash\r\n" || events[len(events)-1].Code != CodeResize {
		t.Errorf("events %+v after the crash", events)
	}
	v, err := Verify(context.Background(), store, "crashed", "")
	if err == nil || !strings.Contains(err.Error(), "never sealed") || v.Sealed {
		t.Errorf("Verify of an unsealed recording without a digest: %v, %+v", err, v)
	}
	if _, err := Verify(context.Background(), store, "crashed", v.SHA256); err != nil {
		t.Errorf("Verify against the chain's own digest: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStartFailsWhenTheStoreCannotWrite(t *testing.T) {
	store := newDirStore(t)
	// A file where the recording's directory must go.
	if err := os.WriteFile(filepath.Join(store.dir, "blocked"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), store, "blocked", testHeader(), Options{}); err == nil || !strings.Contains(err.Error(), "writing the header of recording blocked") {
		t.Errorf("Start on a store that cannot write: %v", err)
	}
	if _, err := Start(context.Background(), store, "../escape", testHeader(), Options{}); err == nil {
		t.Error("Start accepted the id ../escape")
	}
}

func TestWriterReportsAStoreThatFailsMidSession(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "breaks", Options{ChunkBytes: 10})
	dir := filepath.Join(store.dir, "breaks")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = w.Output([]byte("this chunk cannot be written"))
	select {
	case <-w.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not report the failed chunk")
	}
	if err := w.Output([]byte("more")); err == nil {
		t.Error("Output after a failed chunk returned no error")
	}
	if _, err := w.Close(); err == nil || !strings.Contains(err.Error(), "writing chunk 1 of recording breaks") {
		t.Errorf("Close after a failed chunk: %v", err)
	}
}

func TestDirStoreKeepsRecordingsPrivate(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "private", Options{})
	_ = w.Output([]byte("secret output"))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	err := filepath.Walk(store.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if info.Mode() != want {
			t.Errorf("%s has mode %v; want %v", path, info.Mode(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "a//b", "/abs", "a/./b"} {
		if err := store.Put(context.Background(), key, nil); err == nil {
			t.Errorf("Put accepted the key %q", key)
		}
	}
}

func TestOpenStoreDefaultsToTheDataDir(t *testing.T) {
	dataDir := t.TempDir()
	s, err := OpenStore("", dataDir, S3Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Location("x"); got != filepath.Join(dataDir, "recordings", "x") {
		t.Errorf("default location %s", got)
	}
	if info, err := os.Stat(filepath.Join(dataDir, "recordings")); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("the recordings directory: %v, %v", info, err)
	}
	for _, bad := range []string{"gs://b/p", "s3://"} {
		if _, err := OpenStore(bad, dataDir, S3Config{}); err == nil {
			t.Errorf("OpenStore(%q) accepted it", bad)
		}
	}
}

func TestChunksStayWithinChunkBytesOnceEncoded(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "bounded", Options{ChunkBytes: 1000, ChunkInterval: time.Hour})
	var sent []byte
	for i := range 40 {
		// NULs are six bytes each in JSON: 100 of them take 600.
		b := bytes.Repeat([]byte{0}, 100)
		if i == 20 {
			b = bytes.Repeat([]byte{0}, 400) // one event over ChunkBytes alone
		}
		sent = append(sent, b...)
		_ = w.Output(b)
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for n := 1; n <= sum.Chunks; n++ {
		data, err := store.Get(context.Background(), chunkKey("bounded", n))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1000 {
			over++
			if bytes.Count(data, []byte("\n")) != 1 {
				t.Errorf("chunk %d is %d bytes of several events; want at most 1000", n, len(data))
			}
		}
	}
	if over != 1 {
		t.Errorf("%d chunks over ChunkBytes; want the one holding the large event alone", over)
	}
	if _, events := readBack(t, store, "bounded"); !bytes.Equal(Output(events), sent) {
		t.Error("the output read back differs from what was written")
	}
}

// TestADirectoryChunkIsWrittenInPieces: a directory store takes a chunk
// as it is encoded, so its chunks may be larger than what the writer
// holds, and are still cut at ChunkBytes.
func TestADirectoryChunkIsWrittenInPieces(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "pieces", Options{ChunkBytes: 300 << 10, ChunkInterval: time.Hour})
	line := []byte("-rw-r--r--  1 root root 35110 May  9  2025 \x1b[00mrecording.go\x1b[0m\n")
	var sent []byte
	for len(sent) < 1<<20 {
		b := bytes.Repeat(line, 200)
		sent = append(sent, b...)
		_ = w.Output(b)
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chunks < 4 {
		t.Errorf("%d chunks of 300 KiB for %d bytes", sum.Chunks, len(sent))
	}
	for n := 1; n <= sum.Chunks; n++ {
		data, _ := store.Get(context.Background(), chunkKey("pieces", n))
		if len(data) > 300<<10 || n < sum.Chunks && len(data) < 200<<10 {
			t.Errorf("chunk %d is %d bytes; want nearly 300 KiB", n, len(data))
		}
	}
	if _, events := readBack(t, store, "pieces"); !bytes.Equal(Output(events), sent) {
		t.Error("the output read back differs from what was written")
	}
	if _, err := Verify(context.Background(), store, "pieces", sum.SHA256); err != nil {
		t.Error(err)
	}
}
