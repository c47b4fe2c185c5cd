package recording

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Store holds recordings as objects named by keys ("ID/00000001.cast").
// A Put is all or nothing: a reader never sees half an object.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	// Get returns ErrNotFound for a key that is not there.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys under prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes every object of recording id; a recording that is
	// not there is no error.
	Delete(ctx context.Context, id string) error
	// Location says where the recording id lives, for people:
	// a path, or s3://bucket/prefix/id/.
	Location(id string) string
}

// pieceStore is a Store that takes a chunk in pieces as it is encoded,
// so that a writer holds a piece, not the chunk.
type pieceStore interface {
	Store
	// create starts the object key; it appears whole on commit, or
	// never.
	create(key string) (chunkFile, error)
}

// chunkFile is an object being written. After commit, the object is
// there; release frees what it still holds (the writer releases a chunk
// once the next is committed, so that its writeback has had time).
type chunkFile interface {
	Write(p []byte) (int, error)
	commit() error
	release() error
	abort()
}

// ErrNotFound is a key or a recording that is not in the store.
var ErrNotFound = errors.New("not found")

// validID is what a recording's ID may look like: a Session's name (a DNS
// subdomain), so that it is one safe path segment and one safe key part.
var validID = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)

func checkID(id string) error {
	if !validID.MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("recording id %q: must be lowercase letters, digits, '-' and '.'", id)
	}
	return nil
}
