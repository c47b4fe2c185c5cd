package accessrequest

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// TestCreateAnswersAClusterReadFailureAsAServerError: a 422 whose causes
// include the Cluster read failing becomes a 500 that names the failure; a
// 422 of the user's own mistakes stays a 422.
func TestCreateAnswersAClusterReadFailureAsAServerError(t *testing.T) {
	path := field.NewPath("spec", "cluster")
	storageDown := apierrors.NewInvalid(janus.Kind("AccessRequest"), "r", field.ErrorList{
		field.Required(field.NewPath("spec", "reason"), ""),
		field.InternalError(path, errors.New(`reading cluster "prod": the database system is shutting down`)),
	})
	internal := internalValidationError(storageDown)
	if internal == nil {
		t.Fatal("no server error found in a 422 whose Cluster could not be read")
	}
	answer := apierrors.NewInternalError(internal)
	if answer.Status().Code != http.StatusInternalServerError || !strings.Contains(answer.Error(), "the database system is shutting down") {
		t.Errorf("answer %d %q, want 500 naming the failure", answer.Status().Code, answer.Error())
	}

	userMistake := apierrors.NewInvalid(janus.Kind("AccessRequest"), "r", field.ErrorList{field.NotFound(path, "nope")})
	for _, err := range []error{userMistake, apierrors.NewAlreadyExists(janus.Resource("accessrequests"), "r"), errors.New("plain"), nil} {
		if got := internalValidationError(err); got != nil {
			t.Errorf("internalValidationError(%v) = %v, want nil: not a server error", err, got)
		}
	}
}
