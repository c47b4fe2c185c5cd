package recording

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// contents is what a recording's listing holds: the keys of its chunks
// in order, the header's first, and whether it was sealed. A gap in the
// numbering ends the chunks: what follows a lost chunk cannot be placed
// in time.
type contents struct {
	id     string
	chunks []string
	sealed bool
}

func list(ctx context.Context, store Store, id string) (contents, error) {
	if err := checkID(id); err != nil {
		return contents{}, err
	}
	keys, err := store.List(ctx, id+"/")
	if err != nil {
		return contents{}, fmt.Errorf("listing recording %s: %w", id, err)
	}
	c := contents{id: id}
	gap := false
	for _, key := range keys {
		switch {
		case key == sealKey(id):
			c.sealed = true
		case !strings.HasSuffix(key, ".cast") || gap:
		case key == chunkKey(id, len(c.chunks)):
			c.chunks = append(c.chunks, key)
		default:
			gap = true
		}
	}
	if len(c.chunks) == 0 {
		return contents{}, fmt.Errorf("recording %s: %w", id, ErrNotFound)
	}
	return c, nil
}

func (c contents) readSeal(ctx context.Context, store Store) (*sealRecord, error) {
	if !c.sealed {
		return nil, nil
	}
	data, err := store.Get(ctx, sealKey(c.id))
	if err != nil {
		return nil, err
	}
	var seal sealRecord
	if err := json.Unmarshal(data, &seal); err != nil {
		return nil, fmt.Errorf("reading the seal of recording %s: %w", c.id, err)
	}
	return &seal, nil
}

// measure reads the chunks one at a time and hashes them as one document.
func (c contents) measure(ctx context.Context, store Store) (Verified, error) {
	h := sha256.New()
	v := Verified{Chunks: len(c.chunks) - 1, Sealed: c.sealed}
	for _, key := range c.chunks {
		data, err := store.Get(ctx, key)
		if err != nil {
			return Verified{}, err
		}
		h.Write(data)
		v.Size += int64(len(data))
	}
	v.SHA256 = hex.EncodeToString(h.Sum(nil))
	return v, nil
}

// Open reads recording id as one asciicast v2 document, a chunk at a
// time, so that a server can stream a recording of any length without
// holding it. A recording that was never closed (its writer crashed)
// reads up to its last whole chunk.
func Open(ctx context.Context, store Store, id string) (io.ReadCloser, error) {
	c, err := list(ctx, store, id)
	if err != nil {
		return nil, err
	}
	return &documentReader{ctx: ctx, store: store, keys: c.chunks}, nil
}

// documentReader reads the chunks in turn, each when the last is read.
type documentReader struct {
	ctx   context.Context
	store Store
	keys  []string
	chunk bytes.Reader
}

func (r *documentReader) Read(p []byte) (int, error) {
	for r.chunk.Len() == 0 {
		if len(r.keys) == 0 {
			return 0, io.EOF
		}
		data, err := r.store.Get(r.ctx, r.keys[0])
		if err != nil {
			return 0, err
		}
		r.keys = r.keys[1:]
		r.chunk.Reset(data)
	}
	return r.chunk.Read(p)
}

func (r *documentReader) Close() error {
	r.keys = nil
	r.chunk.Reset(nil)
	return nil
}

// Read is Open's document in memory, for tests and small recordings.
func Read(ctx context.Context, store Store, id string) ([]byte, error) {
	doc, err := Open(ctx, store, id)
	if err != nil {
		return nil, err
	}
	defer doc.Close()
	return io.ReadAll(doc)
}

// Parse splits an asciicast v2 document into its header and events.
func Parse(doc []byte) (Header, []Event, error) {
	var h Header
	first, rest, _ := bytes.Cut(doc, []byte("\n"))
	if err := json.Unmarshal(first, &h); err != nil {
		return h, nil, fmt.Errorf("reading the header: %w", err)
	}
	if h.Version != 2 {
		return h, nil, fmt.Errorf("reading the header: version %d, want 2", h.Version)
	}
	var events []Event
	for n := 2; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := ParseEvent(line)
		if err != nil {
			return h, nil, fmt.Errorf("line %d: %w", n, err)
		}
		events = append(events, ev)
	}
	return h, events, nil
}

// Output is what a recording's "o" events hold, joined: the bytes the
// client received.
func Output(events []Event) []byte {
	var out []byte
	for _, ev := range events {
		if ev.Code == CodeOutput {
			out = append(out, ev.Data...)
		}
	}
	return out
}

// Verified is what Verify found.
type Verified struct {
	Chunks int
	Size   int64
	SHA256 string
	Sealed bool
}

// Verify re-reads recording id and recomputes the sha256 of the whole
// document. It fails unless the result is want (the digest kept in the
// Session's status); with want empty it compares against the recording's
// own seal, which detects a chunk altered or dropped by accident but not
// by someone who may also rewrite the seal.
func Verify(ctx context.Context, store Store, id, want string) (Verified, error) {
	c, err := list(ctx, store, id)
	if err != nil {
		return Verified{}, err
	}
	v, err := c.measure(ctx, store)
	if err != nil {
		return Verified{}, err
	}
	seal, err := c.readSeal(ctx, store)
	if err != nil {
		return v, err
	}
	switch {
	case want != "":
		if v.SHA256 != want {
			return v, fmt.Errorf("recording %s does not verify: its chunks hash to %s, the session recorded %s", id, v.SHA256, want)
		}
	case seal == nil:
		return v, fmt.Errorf("recording %s was never sealed (its writer stopped): nothing to verify its %d chunks against", id, v.Chunks)
	default:
		return v, seal.check(id, v)
	}
	return v, nil
}

func (s *sealRecord) check(id string, v Verified) error {
	if s.Chunks != v.Chunks || s.Size != v.Size || s.SHA256 != v.SHA256 {
		return fmt.Errorf("recording %s does not verify: %d chunks (%d bytes) hash to %s, its seal says %d chunks (%d bytes) hashing to %s",
			id, v.Chunks, v.Size, v.SHA256, s.Chunks, s.Size, s.SHA256)
	}
	return nil
}

// Finish closes a recording whose writer is gone without closing it
// (janus-apiserver killed): it hashes the chunks that are stored, seals
// the recording with what it found, and returns its summary. A sealed
// recording is left as it is, and its summary returned if its chunks
// still agree with its seal, so Finish may be called again and again.
// It must not be called while the recording's writer may still write.
func Finish(ctx context.Context, store Store, id string) (Summary, error) {
	c, err := list(ctx, store, id)
	if err != nil {
		return Summary{}, err
	}
	v, err := c.measure(ctx, store)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{ID: id, Format: Format, Location: store.Location(id), Chunks: v.Chunks, Size: v.Size, SHA256: v.SHA256}
	existing, err := c.readSeal(ctx, store)
	if errors.Is(err, ErrNotFound) {
		existing = nil // the seal went between the listing and the read
	} else if err != nil {
		return s, err
	}
	if existing != nil {
		return s, existing.check(id, v)
	}
	return s, seal(ctx, store, s)
}

// Closed reports whether recording id was sealed, by its writer or by
// Finish.
func Closed(ctx context.Context, store Store, id string) (bool, error) {
	c, err := list(ctx, store, id)
	if err != nil {
		return false, err
	}
	return c.sealed, nil
}
