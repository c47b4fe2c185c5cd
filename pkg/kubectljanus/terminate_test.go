package kubectljanus

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestTerminatePostsTheReasonAndSaysSo(t *testing.T) {
	api := newSessionAPI(t, openSessionObject("alice-x7k2p-s1"))
	server := httptest.NewServer(api)
	defer server.Close()
	out, _, code := runAgainst(t, server, "terminate", "alice-x7k2p-s1", "--reason", "do not restart the database")
	if code != 0 || out != "session alice-x7k2p-s1 terminated\n" {
		t.Errorf("exit %d, printed %q", code, out)
	}
	want := []map[string]any{{
		"apiVersion": "janus.infroware.io/v1alpha1", "kind": "SessionTermination",
		"metadata": map[string]any{}, "reason": "do not restart the database",
	}}
	if !reflect.DeepEqual(api.bodies, want) {
		t.Errorf("posted %v, want %v", api.bodies, want)
	}
}

func TestTerminateRefusalsReadAsKubectlPrintsThem(t *testing.T) {
	kind := schema.GroupKind{Group: "janus.infroware.io", Kind: "SessionTermination"}
	api := newSessionAPI(t, openSessionObject("alice-x7k2p-s1"))
	server := httptest.NewServer(api)
	defer server.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		answer error
		want   string
	}{
		{name: "no --reason", args: []string{"terminate", "alice-x7k2p-s1"},
			want: `error: required flag(s) "reason" not set`},
		{name: "an empty reason", args: []string{"terminate", "alice-x7k2p-s1", "--reason", ""},
			answer: apierrors.NewInvalid(kind, "alice-x7k2p-s1", field.ErrorList{field.Required(field.NewPath("reason"), "say why the session is cut")}),
			want:   `The SessionTermination "alice-x7k2p-s1" is invalid: reason: Required value: say why the session is cut`},
		{name: "already closed", args: []string{"terminate", "alice-x7k2p-s1", "--reason", "x"},
			answer: apierrors.NewConflict(sessionsResource, "alice-x7k2p-s1", errors.New("the session is already closed")),
			want:   `Error from server (Conflict): Operation cannot be fulfilled on sessions.janus.infroware.io "alice-x7k2p-s1": the session is already closed`},
		{name: "not an approver", args: []string{"terminate", "alice-x7k2p-s1", "--reason", "x"},
			answer: apierrors.NewForbidden(schema.GroupResource{Group: "janus.infroware.io", Resource: "sessions/terminate"}, "alice-x7k2p-s1", errors.New(`alice cannot approve access to cluster "dev"`)),
			want:   `Error from server (Forbidden): sessions/terminate.janus.infroware.io "alice-x7k2p-s1" is forbidden: alice cannot approve access to cluster "dev"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.terminate = func(string, map[string]any) error { return tc.answer }
			out, stderr, code := runAgainst(t, server, tc.args...)
			if code != 1 || out != "" || !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, stderr, tc.want)
			}
		})
	}
	if len(api.bodies) != 3 {
		t.Errorf("%d terminations posted, want 3: a missing --reason is caught before", len(api.bodies))
	}
}
