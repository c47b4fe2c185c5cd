package recording

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// chunks returns the chunks of recording id in order, the header first,
// and whether it was sealed. A gap in the numbering ends the run: what
// follows a lost chunk cannot be placed in time.
func chunks(ctx context.Context, store Store, id string) ([][]byte, *sealRecord, error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	keys, err := store.List(ctx, id+"/")
	if err != nil {
		return nil, nil, fmt.Errorf("listing recording %s: %w", id, err)
	}
	var out [][]byte
	var seal *sealRecord
	for _, key := range keys {
		if key == sealKey(id) {
			data, err := store.Get(ctx, key)
			if err != nil {
				return nil, nil, err
			}
			seal = &sealRecord{}
			if err := json.Unmarshal(data, seal); err != nil {
				return nil, nil, fmt.Errorf("reading the seal of recording %s: %w", id, err)
			}
			continue
		}
		if !strings.HasSuffix(key, ".cast") {
			continue
		}
		if key != chunkKey(id, len(out)) {
			break
		}
		data, err := store.Get(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("recording %s: %w", id, ErrNotFound)
	}
	return out, seal, nil
}

// Read joins the chunks of recording id back into one asciicast v2
// document, for replay. A recording that was never closed (its writer
// crashed) reads up to its last whole chunk.
func Read(ctx context.Context, store Store, id string) ([]byte, error) {
	parts, _, err := chunks(ctx, store, id)
	if err != nil {
		return nil, err
	}
	return bytes.Join(parts, nil), nil
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

// Verify re-reads recording id and recomputes its sha256 chain. It fails
// unless the result is want (the digest kept in the Session's status);
// with want empty it compares against the recording's own seal, which
// detects a chunk altered or dropped by accident but not by someone who
// may also rewrite the seal.
func Verify(ctx context.Context, store Store, id, want string) (Verified, error) {
	parts, seal, err := chunks(ctx, store, id)
	if err != nil {
		return Verified{}, err
	}
	digest := sha256.Sum256(parts[0])
	v := Verified{Chunks: len(parts) - 1, Size: int64(len(parts[0])), Sealed: seal != nil}
	for _, p := range parts[1:] {
		digest = chain(digest, p)
		v.Size += int64(len(p))
	}
	v.SHA256 = hex.EncodeToString(digest[:])
	switch {
	case want != "":
		if v.SHA256 != want {
			return v, fmt.Errorf("recording %s does not verify: its chunks hash to %s, the session recorded %s", id, v.SHA256, want)
		}
	case seal == nil:
		return v, fmt.Errorf("recording %s was never sealed (its writer stopped): nothing to verify its %d chunks against", id, v.Chunks)
	case seal.Chunks != v.Chunks || seal.SHA256 != v.SHA256:
		return v, fmt.Errorf("recording %s does not verify: %d chunks hash to %s, its seal says %d chunks hashing to %s", id, v.Chunks, v.SHA256, seal.Chunks, seal.SHA256)
	}
	return v, nil
}
