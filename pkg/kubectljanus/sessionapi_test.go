package kubectljanus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

const sessionsPath = "/apis/janus.infroware.io/v1alpha1/sessions"

var sessionsResource = schema.GroupResource{Group: "janus.infroware.io", Resource: "sessions"}

// sessionAPI answers as janus-apiserver's sessions and their recording,
// attach (what follow reads) and terminate subresources do by their contract, for tests that
// need no real server.
type sessionAPI struct {
	t *testing.T

	mu         sync.Mutex
	sessions   map[string]*v1alpha1.Session
	recordings map[string]string
	// follow writes a session's attach stream; w flushes each write.
	follow map[string]func(w io.Writer)
	// terminate answers a termination; nil: close the session.
	terminate func(name string, body map[string]any) error
	// afterFollow runs once a follow stream ended (e.g. to close the
	// session, as Janus does).
	afterFollow func(name string)
	bodies      []map[string]any
	queries     []string
}

func newSessionAPI(t *testing.T, sessions ...*v1alpha1.Session) *sessionAPI {
	a := &sessionAPI{t: t, sessions: map[string]*v1alpha1.Session{}, recordings: map[string]string{}, follow: map[string]func(io.Writer){}}
	for _, se := range sessions {
		a.sessions[se.Name] = se
	}
	return a
}

func (a *sessionAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, sessionsPath)
	if !ok {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: r.URL.Path}, ""))
		return
	}
	a.mu.Lock()
	a.queries = append(a.queries, r.URL.RawQuery)
	a.mu.Unlock()
	name, sub, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	if name == "" {
		a.list(w, r)
		return
	}
	a.mu.Lock()
	se, found := a.sessions[name]
	a.mu.Unlock()
	if !found {
		writeStatus(w, apierrors.NewNotFound(sessionsResource, name))
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		a.mu.Lock()
		defer a.mu.Unlock()
		writeJSON(w, http.StatusOK, withSessionKind(se))
	case sub == "recording" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/x-asciicast")
		_, _ = io.WriteString(w, a.recordings[name])
	case sub == "attach" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/x-asciicast")
		a.follow[name](flushWriter{w})
		if a.afterFollow != nil {
			a.afterFollow(name)
		}
	case sub == "terminate" && r.Method == http.MethodPost:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()))
			return
		}
		a.mu.Lock()
		a.bodies = append(a.bodies, body)
		a.mu.Unlock()
		if a.terminate != nil {
			if err := a.terminate(name, body); err != nil {
				writeStatus(w, err)
				return
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		se.Status.Phase, se.Status.EndReason = v1alpha1.SessionClosed, "terminated: "+body["reason"].(string)
		writeJSON(w, http.StatusCreated, withSessionKind(se))
	default:
		writeStatus(w, apierrors.NewMethodNotSupported(sessionsResource, r.Method))
	}
}

// list answers with the server's table when asked for one, as the
// session table's convertor renders it (its first columns).
func (a *sessionAPI) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !strings.Contains(r.Header.Get("Accept"), "as=Table") {
		list := &v1alpha1.SessionList{TypeMeta: metav1.TypeMeta{APIVersion: "janus.infroware.io/v1alpha1", Kind: "SessionList"}}
		for _, se := range a.sessions {
			list.Items = append(list.Items, *se)
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	table := &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ListMeta: metav1.ListMeta{ResourceVersion: "7"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string"}, {Name: "User", Type: "string"}, {Name: "Phase", Type: "string"},
			{Name: "End Reason", Type: "string", Priority: 1},
		},
	}
	for _, se := range a.sessions {
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []any{se.Name, se.Spec.User.Username, string(se.Status.Phase), se.Status.EndReason}})
	}
	if r.URL.Query().Get("watch") != "true" {
		writeJSON(w, http.StatusOK, table)
		return
	}
	// A watch of tables: events whose later tables carry no columns.
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	for i, row := range []metav1.TableRow{{Cells: []any{"bob-1-s2", "bob", "Open", ""}}, {Cells: []any{"bob-1-s2", "bob", "Closed", "exited"}}} {
		t := &metav1.Table{TypeMeta: table.TypeMeta, Rows: []metav1.TableRow{row}}
		if i == 0 {
			t.ColumnDefinitions = table.ColumnDefinitions
		}
		raw, _ := json.Marshal(t)
		_ = enc.Encode(metav1.WatchEvent{Type: "ADDED", Object: runtime.RawExtension{Raw: raw}})
	}
}

func withSessionKind(se *v1alpha1.Session) *v1alpha1.Session {
	out := se.DeepCopy()
	out.APIVersion, out.Kind = "janus.infroware.io/v1alpha1", "Session"
	return out
}

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.w.(http.Flusher).Flush()
	return n, err
}

func writeJSON(w http.ResponseWriter, code int, obj any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(obj)
}

func writeStatus(w http.ResponseWriter, err error) {
	status := err.(apierrors.APIStatus).Status()
	status.APIVersion, status.Kind = "v1", "Status"
	writeJSON(w, int(status.Code), status)
}

// runAgainst runs kubectl janus with args against server, as a user whose
// kubeconfig is empty but for --server.
func runAgainst(t *testing.T, server *httptest.Server, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := NewCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "--server", server.URL}, args...))
	code = Run(context.Background(), cmd, &errOut)
	t.Logf("kubectl janus %s (exit %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// closedSession is a Session whose recording was sealed with doc.
func closedSession(name, doc string) *v1alpha1.Session {
	se := openSessionObject(name)
	se.Status.Phase, se.Status.EndReason = v1alpha1.SessionClosed, "the command exited"
	se.Status.Recording = &v1alpha1.SessionRecording{Format: "asciicast-v2", Size: int64(len(doc)), SHA256: sha256Hex(doc)}
	return se
}

func openSessionObject(name string) *v1alpha1.Session {
	request, _, _ := strings.Cut(name, "-s")
	return &v1alpha1.Session{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.SessionSpec{
			Request: request, Cluster: "dev", Namespace: "payments", Pod: "api-0", Command: []string{"sh"},
			User: v1alpha1.SessionUser{Username: "alice", UID: "u-1"},
		},
		Status: v1alpha1.SessionStatus{Phase: v1alpha1.SessionOpen, Recording: &v1alpha1.SessionRecording{Format: "asciicast-v2"}},
	}
}

// castHeader is the header Janus writes for a session made by
// openSessionObject.
func castHeader(name string) string {
	request, _, _ := strings.Cut(name, "-s")
	return `{"version":2,"width":0,"height":0,"timestamp":1767225600,"command":"sh","janus":{"session":"` + name +
		`","request":"` + request + `","user":"alice","cluster":"dev","namespace":"payments","pod":"api-0","tty":true}}` + "\n"
}

func sha256Hex(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// testOptions are Options reaching server with an empty kubeconfig.
func testOptions(t *testing.T, server *httptest.Server, out, errOut io.Writer) *Options {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	o.ConfigFlags.KubeConfig, o.ConfigFlags.APIServer = &kubeconfig, &server.URL
	return o
}
