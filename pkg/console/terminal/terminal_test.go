package terminal

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

func TestSameOrigin(t *testing.T) {
	origin, err := originOf("https://janus.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{origin: origin}
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://janus.example.com", true},
		{"https://JANUS.example.com", true},
		{"http://janus.example.com", false},
		{"https://janus.example.com:8443", false},
		{"https://evil.example.com", false},
		{"null", false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/requests/x/terminal/ws", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := h.sameOrigin(r); got != tc.want {
			t.Errorf("Origin %q: same origin %v, want %v", tc.origin, got, tc.want)
		}
	}
	if _, err := originOf("janus.example.com"); err == nil {
		t.Error("a public URL without a scheme was accepted")
	}
}

func TestTargetOf(t *testing.T) {
	got, err := targetOf("alice-x", url.Values{"namespace": {"payments"}, "pod": {"api-0"}})
	if err != nil || got.Command[0] != "sh" || len(got.Command) != 1 {
		t.Errorf("default command: %+v, %v; want sh", got, err)
	}
	long := make([]string, maxArgs+1)
	for _, tc := range []struct {
		q    url.Values
		says string
	}{
		{url.Values{"pod": {"api-0"}}, "namespace is required"},
		{url.Values{"namespace": {"payments"}}, "pod is required"},
		{url.Values{"namespace": {"payments"}, "pod": {"api-0"}, "command": long}, "command is too long"},
	} {
		if _, err := targetOf("alice-x", tc.q); err == nil || !contains(err.Error(), tc.says) {
			t.Errorf("%v: %v, want an error saying %q", tc.q, err, tc.says)
		}
	}
}

func TestParseSize(t *testing.T) {
	if s, err := parseSize([]byte(`{"Width":80,"Height":24}`)); err != nil || s.Width != 80 || s.Height != 24 {
		t.Errorf("80x24: %+v, %v", s, err)
	}
	for _, bad := range []string{`{"Width":0,"Height":24}`, `{"Width":80,"Height":5000}`, `80x24`} {
		if _, err := parseSize([]byte(bad)); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v, want a protocol error", bad, err)
		}
	}
}

func TestStatusOf(t *testing.T) {
	if s := statusOf(nil); s.Status != metav1.StatusSuccess {
		t.Errorf("nil: %+v", s)
	}
	s := statusOf(exec.CodeExitError{Err: fmt.Errorf("command terminated with exit code 3"), Code: 3})
	if s.Reason != "NonZeroExitCode" || s.Details == nil || s.Details.Causes[0].Message != "3" {
		t.Errorf("exit 3: %+v", s)
	}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "janus.infroware.io", Resource: "accessrequests"}, "alice-x", errors.New("only the requester may exec"))
	s = statusOf(fmt.Errorf("upgrading: %w", forbidden))
	if s.Code != 403 || s.Reason != metav1.StatusReasonForbidden || !contains(s.Message, "only the requester") || s.Kind != "Status" {
		t.Errorf("403: %+v", s)
	}
	s = statusOf(errors.New("janus: access revoked by carol: done"))
	if s.Status != metav1.StatusFailure || s.Message != "janus: access revoked by carol: done" {
		t.Errorf("revoked: %+v", s)
	}
}

func TestSizeQueueKeepsTheLatest(t *testing.T) {
	q := newSizeQueue()
	q.push(sizeOf(80, 24))
	q.push(sizeOf(100, 30))
	if got := q.Next(); got == nil || got.Width != 100 {
		t.Errorf("Next: %+v, want the latest size 100x30", got)
	}
	q.close()
	if got := q.Next(); got != nil {
		t.Errorf("Next after close: %+v, want nil", got)
	}
}

func TestStatusOfARefusedUpgrade(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "janus.infroware.io", Resource: "accessrequests/exec"}, "alice-x", errors.New(`only the requester "alice" may exec`))
	s := statusOf(&httpstream.UpgradeFailureError{Cause: forbidden})
	if s.Code != 403 || s.Reason != metav1.StatusReasonForbidden || !contains(s.Message, "only the requester") {
		t.Errorf("a refused upgrade: %+v, want the API's 403", s)
	}
}
