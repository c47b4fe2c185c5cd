package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// TestRefusalReachesTheBrowserAsTheAPIsStatus: an API that refuses the
// exec with a 403 Status: the executor's error becomes that Status.
func TestRefusalReachesTheBrowserAsTheAPIsStatus(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "janus.infroware.io", Resource: "accessrequests/exec"}, "alice-x", errors.New(`only the requester "alice" may exec under this request, not "bob"`))
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(forbidden.Status())
	}))
	defer api.Close()
	b := newBrowser(nil, 0)
	err := run(context.Background(), &rest.Config{Host: api.URL}, Target{Request: "alice-x", Namespace: "payments", Pod: "api-0", Command: []string{"sh"}}, b)
	s := statusOf(err)
	if s.Code != http.StatusForbidden || s.Message != forbidden.Status().Message {
		t.Errorf("the final status of a refused exec is %+v (from %T %v), want the API's 403: %s", s, err, err, fmt.Sprint(forbidden.Status().Message))
	}
}
