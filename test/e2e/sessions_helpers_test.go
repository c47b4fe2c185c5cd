package e2e

import (
	"bufio"
	"context"
	"io"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// requestSessions lists, as admin, the Sessions of request name, oldest
// first.
func requestSessions(t testing.TB, name string) ([]v1alpha1.Session, error) {
	t.Helper()
	list, err := janusAs(t, "admin").JanusV1alpha1().Sessions().List(bg(t), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, name).String(),
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.Session) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return list.Items, nil
}

// heldCat is a session of alice's running cat: what is typed comes back.
type heldCat struct {
	in    *io.PipeWriter
	lines chan string
	ended chan error
}

// holdCatStream runs stream (an exec of cat) in the background for up to
// 3 minutes, with what is typed into the returned heldCat as its stdin
// and its output read line by line; the test's end closes both.
func holdCatStream(t *testing.T, stream func(context.Context, remotecommand.StreamOptions) error) *heldCat {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &heldCat{in: inW, lines: make(chan string, 100), ended: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(func() {
		inW.Close()
		cancel()
	})
	go func() {
		err := stream(ctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Stderr: outW})
		outW.Close()
		s.ended <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

// echoes types word into s and waits for it to come back.
func (s *heldCat) echoes(t *testing.T, word string) {
	t.Helper()
	if _, err := io.WriteString(s.in, word+"\n"); err != nil {
		t.Fatalf("typing %s: %v", word, err)
	}
	timeout := time.After(conditionTimeout)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("the session ended before echoing %s", word)
			}
			if line == word {
				return
			}
		case <-timeout:
			t.Fatalf("%s was not echoed", word)
		}
	}
}
