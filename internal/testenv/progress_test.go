package testenv

import (
	"bytes"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer the announcing goroutine may write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLongStepAnnouncesItselfAndStopsWhenDone(t *testing.T) {
	var out syncBuffer
	done := longStep(&out, "building things", "about a minute")
	done()
	got := out.String()
	if got != "testbed: building things (about a minute) ...\n" {
		t.Errorf("printed %q, want the step announced once", got)
	}
}
