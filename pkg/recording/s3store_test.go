package recording

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startVersityGW runs a real S3-compatible server (versitygw, built from
// the module proxy by hack/ensure-s3.sh) on a free port for the test.
func startVersityGW(t *testing.T, access, secret string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs versitygw")
	}
	out, err := exec.Command("../../hack/ensure-s3.sh").Output()
	if err != nil {
		t.Fatalf("hack/ensure-s3.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	bin := lines[len(lines)-1]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := t.TempDir()
	logs, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Object metadata in a sidecar directory: the test's filesystem may
	// not take extended attributes.
	cmd := exec.Command(bin, "--port", addr, "--access", access, "--secret", secret, "posix", "--sidecar", t.TempDir(), root)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			data, _ := os.ReadFile(logs.Name())
			t.Logf("versitygw's log:\n%s", data)
		}
	})
	endpoint := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			return endpoint
		}
		select {
		case <-exited:
			data, _ := os.ReadFile(logs.Name())
			t.Fatalf("versitygw exited:\n%s", data)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s within 30s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestS3StoreKeepsARecordingInARealBucket(t *testing.T) {
	endpoint := startVersityGW(t, "janusaccess", "janussecret")
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = janusaccess\naws_secret_access_key = janussecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bucket, prefix, err := ParseS3URL("s3://recordings/janus/prod")
	if err != nil || bucket != "recordings" || prefix != "janus/prod" {
		t.Fatalf("ParseS3URL: %q %q %v", bucket, prefix, err)
	}
	store, err := NewS3Store(S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint, CredentialsFile: creds})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := store.do(ctx, http.MethodPut, "", nil, nil); err != nil {
		t.Fatalf("creating the bucket: %v", err)
	}

	w := start(t, store, "req-1-s3", Options{ChunkBytes: 256})
	var sent []byte
	for i := range 50 {
		b := append(bytes.Repeat([]byte{byte('a' + i%26)}, i), 0xff, '\n')
		sent = append(sent, b...)
		if err := w.Output(b); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Marker("janus: access revoked by carol: done")
	sum, err := w.Close()
	if err != nil {
		t.Fatalf("closing the recording in S3: %v", err)
	}
	if sum.Location != "s3://recordings/janus/prod/req-1-s3/" || sum.Chunks < 5 {
		t.Errorf("summary %+v", sum)
	}
	keys, err := store.List(ctx, "req-1-s3/")
	if err != nil || len(keys) != sum.Chunks+2 || keys[0] != "req-1-s3/00000000.cast" || keys[len(keys)-1] != "req-1-s3/seal.json" {
		t.Fatalf("listing: %v, %v", keys, err)
	}
	_, events := readBack(t, store, "req-1-s3")
	if !bytes.Equal(Output(events), sent) || events[len(events)-1].Code != CodeMarker {
		t.Errorf("the recording read back from S3 differs from what was written")
	}
	if _, err := Verify(ctx, store, "req-1-s3", sum.SHA256); err != nil {
		t.Fatalf("Verify in S3: %v", err)
	}
	// Tamper with one chunk in the bucket.
	chunk, _ := store.Get(ctx, chunkKey("req-1-s3", 2))
	chunk[3] ^= 1
	if err := store.Put(ctx, chunkKey("req-1-s3", 2), chunk); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, store, "req-1-s3", sum.SHA256); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("Verify after tampering in S3: %v", err)
	}
	if _, err := store.Get(ctx, "req-1-s3/99999999.cast"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: %v; want ErrNotFound", err)
	}

	checkFinishOpenAndDelete(t, store)

	// Wrong credentials, from the environment, are the server's refusal.
	t.Setenv("AWS_ACCESS_KEY_ID", "janusaccess")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	bad, err := NewS3Store(S3Config{Bucket: bucket, Prefix: prefix, Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(ctx, bad, "req-1-refused", testHeader(), Options{}); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("Start with a wrong secret: %v", err)
	}
}

func TestS3StoreNeedsCredentialsAndAnS3URL(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := NewS3Store(S3Config{Bucket: "b"}); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("NewS3Store without credentials: %v", err)
	}
	for _, bad := range []string{"s3://", "http://b/p", "s3://b/p?x=1", "s3://k:s@b/p"} {
		if _, _, err := ParseS3URL(bad); err == nil {
			t.Errorf("ParseS3URL(%q) accepted it", bad)
		}
	}
}
