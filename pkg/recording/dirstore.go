package recording

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DirStore keeps recordings in a directory of its own, one subdirectory
// per recording (0700), one file per chunk (0600). A chunk is written to
// a temporary file, piece by piece as it is encoded, and renamed, so a
// crash leaves whole chunks only.
// Chunks are not fsynced: a kill -9 of janus-apiserver loses nothing the
// kernel has been given; a power loss may lose the last chunks. On Linux
// a chunk's writeback starts when it is committed, and the writer
// releases it (drops it from the page cache) once the next is committed:
// recordings are written once and rarely read, and would otherwise push
// out the cache of everything else and make the kernel find a fresh page
// for every 4 KiB recorded. Nothing waits for the disk.
type DirStore struct {
	dir string
}

// NewDirStore opens (and creates, 0700) dir.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the recording directory %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving the recording directory %s: %w", dir, err)
	}
	return &DirStore{dir: abs}, nil
}

// path maps a key to a file, refusing keys that would leave the directory.
func (s *DirStore) path(key string) (string, error) {
	parts := strings.Split(key, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsRune(p, '\\') {
			return "", fmt.Errorf("recording key %q is not a relative path", key)
		}
	}
	return filepath.Join(append([]string{s.dir}, parts...)...), nil
}

func (s *DirStore) Put(_ context.Context, key string, data []byte) error {
	f, err := s.create(key)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.abort()
		return err
	}
	if err := f.commit(); err != nil {
		return err
	}
	return f.release()
}

// create opens a temporary file for key. One writer per recording: the
// temporary name needs no randomness.
func (s *DirStore) create(key string) (chunkFile, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", key, err)
	}
	tmp, err := os.OpenFile(filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", key, err)
	}
	return &dirChunk{key: key, path: path, tmp: tmp}, nil
}

// dirChunk is an object being written: a temporary file renamed to the
// key's file once whole.
type dirChunk struct {
	key, path string
	tmp       *os.File
}

func (c *dirChunk) Write(p []byte) (int, error) {
	n, err := c.tmp.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", c.key, err)
	}
	return n, nil
}

func (c *dirChunk) commit() error {
	startWriteback(c.tmp)
	if err := os.Rename(c.tmp.Name(), c.path); err != nil {
		c.abort()
		return fmt.Errorf("writing %s: %w", c.key, err)
	}
	return nil
}

// release drops the committed chunk from the page cache and closes it.
func (c *dirChunk) release() error {
	dropFromCache(c.tmp)
	if err := c.tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", c.key, err)
	}
	return nil
}

func (c *dirChunk) abort() {
	c.tmp.Close()
	os.Remove(c.tmp.Name())
}

func (s *DirStore) Get(_ context.Context, key string) ([]byte, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return data, nil
}

// List supports the prefixes the package uses: "ID/".
func (s *DirStore) List(_ context.Context, prefix string) ([]string, error) {
	dir, err := s.path(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", prefix, err)
	}
	var keys []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			keys = append(keys, prefix+e.Name())
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *DirStore) Delete(_ context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	path, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("deleting recording %s: %w", id, err)
	}
	return nil
}

func (s *DirStore) Location(id string) string { return filepath.Join(s.dir, id) }
