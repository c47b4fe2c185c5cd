package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"time"
)

// The user every image runs as, distroless's "nonroot".
const (
	nonrootUID = 65532
	nonrootGID = 65532
)

// file is one entry of a layer.
type file struct {
	Path    string // without the leading slash
	Mode    int64
	UID     int
	GID     int
	Dir     bool
	Content []byte
}

// baseFiles are what distroless/static provides and a static Go binary
// reads: the CA bundle (crypto/x509 looks at this path first), who 0 and
// 65532 are, how to resolve host names, and a /tmp and home to write to
// (mounted as emptyDir volumes under a read-only root filesystem).
func baseFiles(caBundle string) ([]file, error) {
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("the CA bundle %s holds no PEM certificate", caBundle)
	}
	dir := func(path string, mode int64, id int) file {
		return file{Path: path, Mode: mode, UID: id, GID: id, Dir: true}
	}
	text := func(path, content string) file {
		return file{Path: path, Mode: 0o644, Content: []byte(content)}
	}
	return []file{
		dir("etc", 0o755, 0),
		text("etc/group", "root:x:0:\nnonroot:x:65532:\n"),
		text("etc/nsswitch.conf", "hosts: files dns\n"),
		text("etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
		dir("etc/ssl", 0o755, 0),
		dir("etc/ssl/certs", 0o755, 0),
		{Path: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Content: ca},
		dir("home", 0o755, 0),
		dir("home/nonroot", 0o700, nonrootUID),
		dir("tmp", 0o1777, 0),
	}, nil
}

// binaryFiles put the binary at /usr/local/bin/<name>, owned by root so the
// process cannot rewrite it.
func binaryFiles(name string, binary []byte) []file {
	return []file{
		{Path: "usr", Mode: 0o755, Dir: true},
		{Path: "usr/local", Mode: 0o755, Dir: true},
		{Path: "usr/local/bin", Mode: 0o755, Dir: true},
		{Path: "usr/local/bin/" + name, Mode: 0o755, Content: binary},
	}
}

// tarFiles writes files as an uncompressed layer; every entry gets the
// same time so that a build from the same commit is the same image.
func tarFiles(files []file, modTime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.Path,
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: modTime,
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
