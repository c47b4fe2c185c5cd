package recording

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashedRecording is a recording whose writer wrote its chunks and died
// before Close: the process was killed.
func crashedRecording(t *testing.T, store Store, id string) []byte {
	t.Helper()
	w := start(t, store, id, Options{ChunkBytes: 200, ChunkInterval: time.Hour})
	var sent []byte
	for i := range 20 {
		b := []byte(strings.Repeat("output\r\n", i+1))
		sent = append(sent, b...)
		_ = w.Output(b)
	}
	// Its chunks are stored, but it stops without sealing, as a kill
	// would stop it.
	w.mu.Lock()
	w.flushLocked()
	w.closed = true
	close(w.stopTick)
	close(w.uploads)
	w.mu.Unlock()
	<-w.uploaded
	return sent
}

// checkFinishOpenAndDelete is what every store must do for retention and
// crash recovery.
func checkFinishOpenAndDelete(t *testing.T, store Store) {
	ctx := context.Background()
	sent := crashedRecording(t, store, "req-1-crashed")
	if closed, err := Closed(ctx, store, "req-1-crashed"); err != nil || closed {
		t.Fatalf("Closed before Finish: %v, %v; want false", closed, err)
	}
	sum, err := Finish(ctx, store, "req-1-crashed")
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	doc, err := Read(ctx, store, "req-1-crashed")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Chunks < 5 || sum.Size != int64(len(doc)) || sum.SHA256 != sha256Hex(doc) || sum.Location != store.Location("req-1-crashed") {
		t.Errorf("Finish's summary %+v of a %d-byte document", sum, len(doc))
	}
	if closed, err := Closed(ctx, store, "req-1-crashed"); err != nil || !closed {
		t.Errorf("Closed after Finish: %v, %v; want true", closed, err)
	}
	if _, err := Verify(ctx, store, "req-1-crashed", ""); err != nil {
		t.Errorf("Verify against the seal Finish wrote: %v", err)
	}
	if again, err := Finish(ctx, store, "req-1-crashed"); err != nil || again != sum {
		t.Errorf("Finish again: %+v, %v; want %+v", again, err, sum)
	}
	if _, events, err := Parse(doc); err != nil || !bytes.Equal(Output(events), sent) {
		t.Errorf("the finished recording's output differs from what was written: %v", err)
	}

	// Open streams the same document; Read is the same bytes.
	r, err := Open(ctx, store, "req-1-crashed")
	if err != nil {
		t.Fatal(err)
	}
	var streamed bytes.Buffer
	for buf := make([]byte, 7); ; {
		n, err := r.Read(buf)
		streamed.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil || !bytes.Equal(streamed.Bytes(), doc) {
		t.Errorf("Open streamed %d bytes (close: %v); Read gave %d", streamed.Len(), err, len(doc))
	}

	// Delete takes every object of one recording, and only of that one.
	other := start(t, store, "req-1-crashed2", Options{})
	_ = other.Output([]byte("kept"))
	if _, err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, "req-1-crashed"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if keys, err := store.List(ctx, "req-1-crashed/"); err != nil || len(keys) != 0 {
		t.Errorf("after Delete the recording still has %v (%v)", keys, err)
	}
	for _, f := range []func() error{
		func() error { _, err := Finish(ctx, store, "req-1-crashed"); return err },
		func() error { _, err := Open(ctx, store, "req-1-crashed"); return err },
		func() error { _, err := Closed(ctx, store, "req-1-crashed"); return err },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("after Delete: %v; want ErrNotFound", err)
		}
	}
	if err := store.Delete(ctx, "req-1-crashed"); err != nil {
		t.Errorf("Delete of a recording that is gone: %v", err)
	}
	if _, err := Verify(ctx, store, "req-1-crashed2", ""); err != nil {
		t.Errorf("the other recording after Delete: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if err := store.Delete(ctx, bad); err == nil {
			t.Errorf("Delete(%q) accepted it", bad)
		}
	}
}

func TestFinishSealsACrashedRecordingAndDeleteRemovesIt(t *testing.T) {
	store := newDirStore(t)
	checkFinishOpenAndDelete(t, store)
	// A temporary file a crash left beside the chunks goes too.
	_ = crashedRecording(t, store, "req-2")
	if err := os.WriteFile(filepath.Join(store.Location("req-2"), ".tmp-00000009.cast"), []byte("[1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(context.Background(), "req-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store.Location("req-2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the recording's directory after Delete: %v", err)
	}
}

func TestFinishRefusesARecordingThatDisagreesWithItsSeal(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "tampered", Options{ChunkBytes: 64})
	for range 10 {
		_ = w.Output([]byte("some output, long enough for a chunk\r\n"))
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(store.Location("tampered"), "00000003.cast")); err != nil {
		t.Fatal(err)
	}
	if _, err := Finish(context.Background(), store, "tampered"); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Finish of a sealed recording missing a chunk: %v", err)
	}
}
