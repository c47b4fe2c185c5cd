package datastore

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStartFailureDoesNotLeakPassword gives kine a PostgreSQL endpoint it
// cannot use, and one that does not answer, and checks that neither the
// error nor any log line (klog or kine's logrus) carries the password. A
// check of logs that captured nothing would pass for nothing, so the test
// first proves klog reaches the buffer, and expects kine's own line about
// the endpoint that does not answer.
func TestStartFailureDoesNotLeakPassword(t *testing.T) {
	const password = "Leak-Canary-7f3a9"
	logs := &lockedBuffer{}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	klog.SetOutput(logs)
	logrus.SetOutput(logs)
	t.Cleanup(func() {
		_ = fs.Set("logtostderr", "true")
		logrus.SetOutput(os.Stderr)
	})
	klog.InfoS("Capturing logs for the leak check")
	klog.Flush()
	if !strings.Contains(logs.String(), "Capturing logs for the leak check") {
		t.Fatalf("klog does not write to the captured buffer (captured %q); the leak check would see nothing", logs.String())
	}

	for _, tc := range []struct {
		endpoint string
		// logged is a line the failure must have logged; empty when it
		// fails before kine logs anything.
		logged string
	}{
		{"postgres://janus:" + password + "@127.0.0.1:5432/janus?sslmode=bogus", ""},
		{"postgres://janus:" + password + "@127.0.0.1:1/janus?sslmode=disable&connect_timeout=1", "Failed to ping database connection"},
	} {
		before := len(logs.String())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := (&Options{Endpoint: tc.endpoint}).Start(ctx)
		cancel()
		if err == nil {
			t.Fatalf("starting on %s succeeded", Redact(tc.endpoint))
		}
		klog.Flush()
		if strings.Contains(err.Error(), password) {
			t.Errorf("error leaks the password: %v", err)
		}
		if !strings.Contains(err.Error(), Redact(tc.endpoint)) {
			t.Errorf("error %q does not name the endpoint as %s", err, Redact(tc.endpoint))
		}
		captured := logs.String()[before:]
		if tc.logged != "" && !strings.Contains(captured, tc.logged) {
			t.Errorf("starting on %s logged %q, which lacks %q: is kine's logrus output still captured?", Redact(tc.endpoint), captured, tc.logged)
		}
		if strings.Contains(logs.String(), password) {
			t.Errorf("logs leak the password:\n%s", logs.String())
		}
		t.Logf("error: %v", err)
	}
}
