package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/tunnel"
)

// recordingGrants stands in for the provisioner: it records what the
// handler asked and answers with err, if set.
type recordingGrants struct {
	err error

	mu         sync.Mutex
	ensured    []tunnel.GrantSpec
	removed    []string
	reconciled []tunnel.ReconcileRequest
}

func (g *recordingGrants) Info(context.Context) (tunnel.AgentInfo, error) {
	if g.err != nil {
		return tunnel.AgentInfo{}, g.err
	}
	return tunnel.AgentInfo{Version: "v9", KubernetesVersion: "v1.37.2", Namespaces: []string{"payments"}}, nil
}

func (g *recordingGrants) Ensure(_ context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error) {
	g.mu.Lock()
	g.ensured = append(g.ensured, spec)
	g.mu.Unlock()
	if g.err != nil {
		return tunnel.GrantStatus{}, g.err
	}
	var grants []tunnel.Grant
	for _, ns := range spec.Namespaces {
		grants = append(grants, tunnel.Grant{Namespace: ns, Role: GrantClusterRole, RoleBinding: grantName(spec.Request)})
	}
	return tunnel.GrantStatus{Request: spec.Request, Grants: grants}, nil
}

func (g *recordingGrants) Remove(_ context.Context, request string) error {
	g.mu.Lock()
	g.removed = append(g.removed, request)
	g.mu.Unlock()
	return g.err
}

func (g *recordingGrants) Reconcile(_ context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	g.mu.Lock()
	g.reconciled = append(g.reconciled, req)
	g.mu.Unlock()
	if g.err != nil {
		return tunnel.ReconcileResult{}, g.err
	}
	return tunnel.ReconcileResult{Removed: []string{"old"}, Ensured: []string{"alice-1"}}, nil
}

const grantBody = `{"requester":"alice@example.com","namespaces":["payments"],"expiresAt":"2030-01-01T00:00:00Z"}`

func TestHandlerAnswersEveryPathOfTheProtocol(t *testing.T) {
	expiresAt := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		grantsErr  error
		wantStatus int
		wantBody   string // a substring of the answer
		check      func(t *testing.T, g *recordingGrants)
	}{{
		name: "info", method: http.MethodGet, path: tunnel.PathInfo,
		wantStatus: http.StatusOK, wantBody: `"kubernetesVersion":"v1.37.2"`,
	}, {
		name: "put takes the request from the path", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: grantBody,
		wantStatus: http.StatusOK, wantBody: `"request":"alice-1"`,
		check: func(t *testing.T, g *recordingGrants) {
			want := []tunnel.GrantSpec{{Request: "alice-1", Requester: "alice@example.com", Namespaces: []string{"payments"}, ExpiresAt: expiresAt}}
			if !reflect.DeepEqual(g.ensured, want) {
				t.Errorf("Ensure got %+v, want %+v", g.ensured, want)
			}
		},
	}, {
		name: "put with the same request in the body", method: http.MethodPut, path: tunnel.PathGrants + "alice-1",
		body:       `{"request":"alice-1","requester":"alice@example.com","namespaces":["payments"],"expiresAt":"2030-01-01T00:00:00Z"}`,
		wantStatus: http.StatusOK,
	}, {
		name: "put naming another request in the body", method: http.MethodPut, path: tunnel.PathGrants + "alice-1",
		body:       `{"request":"bob-2","requester":"bob","namespaces":["payments"],"expiresAt":"2030-01-01T00:00:00Z"}`,
		wantStatus: http.StatusBadRequest, wantBody: `bob-2`,
		check: ensureNotCalled,
	}, {
		name: "put with a request name that is no DNS subdomain", method: http.MethodPut, path: tunnel.PathGrants + "Alice_1", body: grantBody,
		wantStatus: http.StatusBadRequest, wantBody: `request: Invalid value`,
		check: ensureNotCalled,
	}, {
		name: "put with a request name too long for a label", method: http.MethodPut, path: tunnel.PathGrants + strings.Repeat("a", 64), body: grantBody,
		wantStatus: http.StatusBadRequest, wantBody: `63 characters`,
		check: ensureNotCalled,
	}, {
		name: "put with a body that is no JSON", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: `{"namespaces":`,
		wantStatus: http.StatusBadRequest, wantBody: `decoding the body`,
		check: ensureNotCalled,
	}, {
		name: "put with a body that is not JSON by its type", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: "namespaces=payments",
		wantStatus: http.StatusUnsupportedMediaType,
		check:      ensureNotCalled,
	}, {
		name: "put with a body that is too big", method: http.MethodPut, path: tunnel.PathGrants + "alice-1",
		body:       `{"requester":"` + strings.Repeat("a", maxBodyBytes) + `"}`,
		wantStatus: http.StatusRequestEntityTooLarge,
		check:      ensureNotCalled,
	}, {
		name: "put refused by the agent's policy", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: grantBody,
		grantsErr:  refusedf("namespace kube-system is excluded by this cluster's Janus agent"),
		wantStatus: http.StatusUnprocessableEntity, wantBody: `"refused":true`,
	}, {
		name: "put the provisioner finds malformed", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: grantBody,
		grantsErr:  invalidf("namespaces: Required value"),
		wantStatus: http.StatusBadRequest, wantBody: `namespaces: Required value`,
	}, {
		name: "put failing in the target cluster", method: http.MethodPut, path: tunnel.PathGrants + "alice-1", body: grantBody,
		grantsErr:  errors.New(`granting alice-1: creating rolebinding in payments: rolebindings.rbac.authorization.k8s.io "janus-alice-1" is forbidden`),
		wantStatus: http.StatusInternalServerError, wantBody: `creating rolebinding in payments`,
	}, {
		name: "delete", method: http.MethodDelete, path: tunnel.PathGrants + "alice-1",
		wantStatus: http.StatusNoContent,
		check: func(t *testing.T, g *recordingGrants) {
			if !reflect.DeepEqual(g.removed, []string{"alice-1"}) {
				t.Errorf("Remove got %v, want [alice-1]", g.removed)
			}
		},
	}, {
		name: "delete with an invalid request name", method: http.MethodDelete, path: tunnel.PathGrants + "a..b",
		wantStatus: http.StatusBadRequest,
		check: func(t *testing.T, g *recordingGrants) {
			if len(g.removed) > 0 {
				t.Errorf("Remove was called with %v", g.removed)
			}
		},
	}, {
		name: "delete failing", method: http.MethodDelete, path: tunnel.PathGrants + "alice-1",
		grantsErr:  errors.New("removing grant alice-1: etcd is down"),
		wantStatus: http.StatusInternalServerError, wantBody: `etcd is down`,
	}, {
		name: "reconcile", method: http.MethodPost, path: tunnel.PathReconcile,
		body:       `{"active":[` + grantBody + `]}`,
		wantStatus: http.StatusOK, wantBody: `"removed":["old"]`,
		check: func(t *testing.T, g *recordingGrants) {
			if len(g.reconciled) != 1 || len(g.reconciled[0].Active) != 1 || g.reconciled[0].Active[0].Requester != "alice@example.com" {
				t.Errorf("Reconcile got %+v", g.reconciled)
			}
		},
	}, {
		name: "reconcile failing", method: http.MethodPost, path: tunnel.PathReconcile, body: `{"active":[]}`,
		grantsErr:  errors.New("listing what Janus created in this cluster: forbidden"),
		wantStatus: http.StatusInternalServerError, wantBody: `listing what Janus created`,
	}, {
		name: "info with the wrong method", method: http.MethodPost, path: tunnel.PathInfo,
		wantStatus: http.StatusMethodNotAllowed, wantBody: `"message"`,
	}, {
		name: "grant with the wrong method", method: http.MethodGet, path: tunnel.PathGrants + "alice-1",
		wantStatus: http.StatusMethodNotAllowed, wantBody: `PUT or DELETE`,
	}, {
		name: "reconcile with the wrong method", method: http.MethodGet, path: tunnel.PathReconcile,
		wantStatus: http.StatusMethodNotAllowed,
	}, {
		name: "unknown path", method: http.MethodGet, path: "/v2/anything",
		wantStatus: http.StatusNotFound, wantBody: `"message"`,
	}, {
		name: "grants without a request", method: http.MethodPut, path: tunnel.PathGrants, body: grantBody,
		wantStatus: http.StatusNotFound,
		check:      ensureNotCalled,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grants := &recordingGrants{err: tc.grantsErr}
			server := httptest.NewServer(NewHandler(grants))
			defer server.Close()

			req, err := http.NewRequest(tc.method, server.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.body == "namespaces=payments":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case tc.body != "":
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := server.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)

			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus >= 300 {
				var e tunnel.Error
				if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
					t.Errorf("error answer %q is not a tunnel.Error with a message (%v)", body, err)
				}
				if wantRefused := tc.wantStatus == http.StatusUnprocessableEntity; e.Refused != wantRefused {
					t.Errorf("refused = %v, want %v", e.Refused, wantRefused)
				}
			}
			if tc.wantStatus != http.StatusNoContent {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %s does not contain %s", body, tc.wantBody)
			}
			if tc.check != nil {
				tc.check(t, grants)
			}
		})
	}
}

func ensureNotCalled(t *testing.T, g *recordingGrants) {
	t.Helper()
	if len(g.ensured) > 0 {
		t.Errorf("Ensure was called with %+v", g.ensured)
	}
}
