package console

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// syncBuffer is the output of a session, safe to read while it is written,
// with a signal on each write.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) endsWith(want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.HasSuffix(s.buf.Bytes(), []byte(want))
}

// kubectlJanusEchoes types n keys into a shell opened the way `kubectl
// janus exec -it` opens one: client-go's websocket executor on
// accessrequests/NAME/exec as alice, with a tty, no console in between;
// it times each echo (ms), the floor the browser's figures stand beside.
func kubectlJanusEchoes(b *testing.B, name string, n int) []float64 {
	b.Helper()
	cfg, err := bed.RESTConfigFor("alice")
	if err != nil {
		b.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {demoPod}, "command": {"sh"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+"/apis/janus.infroware.io/v1alpha1/accessrequests/"+name+"/exec?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdin, typed := io.Pipe()
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: out, Tty: true})
	}()
	defer func() {
		_ = typed.Close()
		cancel()
		<-done
	}()
	waitFor := func(want string) {
		for !out.endsWith(want) {
			select {
			case <-out.wrote:
			case err := <-done:
				b.Fatalf("the kubectl janus exec session ended waiting for %q: %v", want, err)
			case <-ctx.Done():
				b.Fatalf("no %q from the kubectl janus exec session", want)
			}
		}
	}
	send := func(s string) {
		if _, err := typed.Write([]byte(s)); err != nil {
			b.Fatalf("typing into the kubectl janus exec session: %v", err)
		}
	}
	waitFor("# ")
	send(": ")
	waitFor(": ")
	var ms []float64
	for i := range n {
		key := string(rune('a' + i%26))
		began := time.Now()
		send(key)
		waitFor(key)
		ms = append(ms, float64(time.Since(began).Microseconds())/1000)
		if i%40 == 39 {
			send("\r")
			waitFor("# ")
			send(": ")
			waitFor(": ")
		}
	}
	return ms
}
