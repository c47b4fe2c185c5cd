package kubectljanus

import (
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

func TestErrorMessagesReadAsKubectlPrintsThem(t *testing.T) {
	resource := schema.GroupResource{Group: "janus.infroware.io", Resource: "accessrequests"}
	kind := schema.GroupKind{Group: "janus.infroware.io", Kind: "AccessRequest"}
	cases := []struct {
		name     string
		err      error
		want     string
		wantCode int
	}{
		{
			name: "forbidden",
			err:  apierrors.NewForbidden(resource, "alice-x", fmt.Errorf(`bob cannot approve access to cluster "prod"`)),
			want: `Error from server (Forbidden): accessrequests.janus.infroware.io "alice-x" is forbidden: bob cannot approve access to cluster "prod"`,
		},
		{
			name: "one field error",
			err: apierrors.NewInvalid(kind, "alice-x", field.ErrorList{
				field.Forbidden(field.NewPath("spec", "namespaces").Index(0), `namespace "kube-system" is excluded`),
			}),
			want: `The AccessRequest "alice-x" is invalid: spec.namespaces[0]: Forbidden: namespace "kube-system" is excluded`,
		},
		{
			name: "several field errors",
			err: apierrors.NewInvalid(kind, "alice-x", field.ErrorList{
				field.Required(field.NewPath("spec", "reason"), ""),
				field.Required(field.NewPath("spec", "cluster"), ""),
			}),
			want: "The AccessRequest \"alice-x\" is invalid: \n* spec.reason: Required value\n* spec.cluster: Required value",
		},
		{
			name: "conflict with a hint",
			err:  withConflictHint(apierrors.NewConflict(resource, "alice-x", fmt.Errorf("cannot approve a request that is Denied")), "alice-x"),
			want: `Error from server (Conflict): Operation cannot be fulfilled on accessrequests.janus.infroware.io "alice-x": cannot approve a request that is Denied` +
				"\nNothing was applied. Look at the request again with 'kubectl janus describe alice-x' before deciding.",
		},
		{
			name: "refused exec upgrade",
			err:  &httpstream.UpgradeFailureError{Cause: apierrors.NewForbidden(schema.GroupResource{Group: "janus.infroware.io", Resource: "accessrequests/exec"}, "alice-x", fmt.Errorf("only the requester may exec"))},
			want: `Error from server (Forbidden): accessrequests/exec.janus.infroware.io "alice-x" is forbidden: only the requester may exec`,
		},
		{
			name: "wrapped not found",
			err:  fmt.Errorf("reading: %w", apierrors.NewNotFound(resource, "nope")),
			want: `Error from server (NotFound): accessrequests.janus.infroware.io "nope" not found`,
		},
		{
			name: "plain",
			err:  fmt.Errorf("--for must be phase=<phase>"),
			want: "error: --for must be phase=<phase>",
		},
		{
			name:     "remote exit code",
			err:      utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code 3"), Code: 3},
			want:     "command terminated with exit code 3",
			wantCode: 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, code := errorMessage(tc.err)
			if got != tc.want {
				t.Errorf("message:\n got %q\nwant %q", got, tc.want)
			}
			wantCode := tc.wantCode
			if wantCode == 0 {
				wantCode = 1
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d", code, wantCode)
			}
		})
	}
}
