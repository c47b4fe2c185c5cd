package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// S3 is a real S3-compatible server (versitygw, which hack/ensure-s3.sh
// builds from the module proxy) on loopback, keeping its objects as files
// under ObjectDir/<bucket>/<key>, so that a test can see what landed in a
// bucket without going through the S3 client it is testing.
type S3 struct {
	// Endpoint is the server's URL (http, path-style addressing).
	Endpoint string
	// CredentialsFile is an AWS shared-credentials file whose [default]
	// profile the server accepts.
	CredentialsFile string
	// ObjectDir holds one directory per bucket.
	ObjectDir string
	proc      *Process
}

// Kill stops the server at once, as a crash would.
func (s *S3) Kill() error { return s.proc.Kill() }

// s3ProcessPrefix starts the name of every S3 server's process.
const s3ProcessPrefix = "versitygw-"

// StartS3 runs versitygw for the testbed with the given buckets made. It
// stops with the testbed.
func (tb *Testbed) StartS3(ctx context.Context, buckets ...string) (*S3, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(tb.cfg.RepoRoot, "hack", "ensure-s3.sh")).Output()
	if err != nil {
		return nil, fmt.Errorf("hack/ensure-s3.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	bin := lines[len(lines)-1]

	dir, err := os.MkdirTemp(tb.cfg.WorkDir, "s3-")
	if err != nil {
		return nil, fmt.Errorf("making the S3 server's directory: %w", err)
	}
	s := &S3{ObjectDir: filepath.Join(dir, "objects")}
	// A bucket of the posix backend is a directory under its root.
	for _, b := range append([]string{""}, buckets...) {
		if err := os.MkdirAll(filepath.Join(s.ObjectDir, b), 0o700); err != nil {
			return nil, fmt.Errorf("making bucket %q: %w", b, err)
		}
	}
	access, secret := randomHex(8), randomHex(20)
	s.CredentialsFile = filepath.Join(dir, "credentials")
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", access, secret)
	if err := os.WriteFile(s.CredentialsFile, []byte(creds), 0o600); err != nil {
		return nil, fmt.Errorf("writing the S3 credentials file: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.Endpoint = "http://" + addr
	// Object metadata in a sidecar directory: the work dir's file system
	// may not take extended attributes. The root credentials come from
	// the environment, so they are not in the logged command line.
	cmd := exec.Command(bin, "--port", addr, "posix", "--sidecar", filepath.Join(dir, "sidecar"), s.ObjectDir)
	if err := os.MkdirAll(filepath.Join(dir, "sidecar"), 0o700); err != nil {
		return nil, fmt.Errorf("making the S3 sidecar directory: %w", err)
	}
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+access, "ROOT_SECRET_ACCESS_KEY="+secret)
	name := s3ProcessPrefix + filepath.Base(dir)
	s.proc, err = tb.procs.StartCommand(name, cmd)
	if err != nil {
		return nil, fmt.Errorf("starting versitygw: %w", err)
	}
	err = WaitUntil(ctx, "versitygw to answer", s.proc, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint, nil)
		if err != nil {
			return Permanent(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
