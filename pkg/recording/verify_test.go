package recording

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyPassesUntouchedAndFailsAnyAlteredByte(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "sealed", Options{ChunkBytes: 64})
	for i := range 20 {
		_ = w.Output([]byte(strings.Repeat("ab", i)))
		_ = w.Resize(80+i, 24)
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := Verify(ctx, store, "sealed", sum.SHA256)
	if err != nil || v.SHA256 != sum.SHA256 || v.Chunks != sum.Chunks || v.Size != sum.Size || !v.Sealed {
		t.Fatalf("Verify of an untouched recording: %+v, %v; summary %+v", v, err, sum)
	}
	if _, err := Verify(ctx, store, "sealed", ""); err != nil {
		t.Fatalf("Verify against the seal: %v", err)
	}
	doc, _ := Read(ctx, store, "sealed")
	if int64(len(doc)) != sum.Size {
		t.Errorf("the document is %d bytes; the summary says %d", len(doc), sum.Size)
	}

	keys, _ := store.List(ctx, "sealed/")
	for _, key := range keys {
		if !strings.HasSuffix(key, ".cast") {
			continue
		}
		path := filepath.Join(store.dir, key)
		orig, _ := os.ReadFile(path)
		for _, at := range []int{0, len(orig) / 2, len(orig) - 1} {
			altered := append([]byte(nil), orig...)
			altered[at] ^= 0x01
			if err := os.WriteFile(path, altered, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{sum.SHA256, ""} {
				if _, err := Verify(ctx, store, "sealed", want); err == nil || !strings.Contains(err.Error(), "does not verify") {
					t.Errorf("Verify(want %q) with byte %d of %s altered: %v", want, at, key, err)
				}
			}
		}
		_ = os.WriteFile(path, orig, 0o600)
	}
	if _, err := Verify(ctx, store, "sealed", sum.SHA256); err != nil {
		t.Fatalf("Verify after restoring every chunk: %v", err)
	}
	// A chunk dropped from the end.
	last := filepath.Join(store.dir, chunkKey("sealed", sum.Chunks))
	if err := os.Remove(last); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{sum.SHA256, ""} {
		if _, err := Verify(ctx, store, "sealed", want); err == nil {
			t.Errorf("Verify(want %q) passed with the last chunk gone", want)
		}
	}
	if _, err := Verify(ctx, store, "missing", ""); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Verify of a recording that is not there: %v", err)
	}
}

// TestDigestIsTheSHA256OfTheWholeDocument: what `cat <dir>/*.cast |
// sha256sum` prints, without knowing where the chunks were cut.
func TestDigestIsTheSHA256OfTheWholeDocument(t *testing.T) {
	store := newDirStore(t)
	w := start(t, store, "whole", Options{ChunkBytes: 100})
	for i := range 30 {
		_ = w.Output([]byte(strings.Repeat("line\r\n\x1b[1m", i)))
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Read(context.Background(), store, "whole")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(store.Location("whole"), "*.cast"))
	var cat []byte
	for _, f := range files {
		data, _ := os.ReadFile(f)
		cat = append(cat, data...)
	}
	if sum.Chunks < 10 || len(files) != sum.Chunks+1 {
		t.Fatalf("%d chunks in %d files; want many", sum.Chunks, len(files))
	}
	for what, b := range map[string][]byte{"Read": doc, "cat *.cast": cat} {
		if got := sha256Hex(b); got != sum.SHA256 || int64(len(b)) != sum.Size {
			t.Errorf("sha256 of %s (%d bytes) is %s; the summary says %s (%d bytes)", what, len(b), got, sum.SHA256, sum.Size)
		}
	}
}

func sha256Hex(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
