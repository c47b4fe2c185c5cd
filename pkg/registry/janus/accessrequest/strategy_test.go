package accessrequest

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/infroware/janus/pkg/apis/janus"
)

func TestPrepareForCreateStampsTheAuthenticatedUser(t *testing.T) {
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{
		Name: "alice", UID: "uid-alice", Groups: []string{"engineers"}, Extra: map[string][]string{"scopes": {"openid"}},
	})
	ar := &janus.AccessRequest{
		Spec: janus.AccessRequestSpec{Requester: janus.UserInfo{Username: "mallory", Groups: []string{"system:masters"}}},
		Status: janus.AccessRequestStatus{
			Phase:     janus.AccessRequestActive,
			Approvals: []janus.Decision{{User: "mallory"}},
		},
	}
	accessRequestStrategy{}.PrepareForCreate(ctx, ar)
	if r := ar.Spec.Requester; r.Username != "alice" || r.UID != "uid-alice" || len(r.Groups) != 1 || r.Groups[0] != "engineers" || r.Extra["scopes"][0] != "openid" {
		t.Errorf("requester = %+v, want alice as authenticated", r)
	}
	if ar.Status.Phase != janus.AccessRequestPending || len(ar.Status.Approvals) != 0 {
		t.Errorf("status = %+v, want a fresh Pending status", ar.Status)
	}

	// With no user in the context, nothing from the body survives either.
	anonymous := &janus.AccessRequest{Spec: janus.AccessRequestSpec{Requester: janus.UserInfo{Username: "mallory"}}}
	accessRequestStrategy{}.PrepareForCreate(context.Background(), anonymous)
	if anonymous.Spec.Requester.Username != "" {
		t.Errorf("requester %q kept from the body", anonymous.Spec.Requester.Username)
	}
}

func TestGrantedDurationIsTheShortestAgreed(t *testing.T) {
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	ar := &janus.AccessRequest{Spec: janus.AccessRequestSpec{Duration: metav1.Duration{Duration: 2 * time.Hour}}}
	ar.Status.Approvals = []janus.Decision{{User: "bob"}, {User: "carol", Duration: d(30 * time.Minute)}, {User: "erin", Duration: d(time.Hour)}}
	if got := grantedDuration(ar); got.Duration != 30*time.Minute {
		t.Errorf("granted %s, want carol's 30m", got.Duration)
	}
	ar.Status.Approvals = []janus.Decision{{User: "bob", Duration: d(3 * time.Hour)}}
	if got := grantedDuration(ar); got.Duration != 2*time.Hour {
		t.Errorf("granted %s, want the requested 2h: an approver cannot lengthen it", got.Duration)
	}
}

func TestMightBeRequester(t *testing.T) {
	ar := &janus.AccessRequest{Spec: janus.AccessRequestSpec{Requester: janus.UserInfo{Username: "carol", UID: "uid-carol"}}}
	cases := map[string]struct {
		u    user.Info
		want bool
	}{
		"the requester":          {&user.DefaultInfo{Name: "carol", UID: "uid-carol"}, true},
		"same name, new UID":     {&user.DefaultInfo{Name: "carol", UID: "uid-new"}, true},
		"same UID, another name": {&user.DefaultInfo{Name: "carol2", UID: "uid-carol"}, true},
		"someone else":           {&user.DefaultInfo{Name: "erin", UID: "uid-erin"}, false},
		"someone else, no UID":   {&user.DefaultInfo{Name: "erin"}, false},
	}
	for name, tc := range cases {
		if got := mightBeRequester(tc.u, ar); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	// Withdrawing is stricter: exactly the requester.
	if isRequester(&user.DefaultInfo{Name: "carol", UID: "uid-new"}, ar) {
		t.Errorf("a re-created account counted as the requester")
	}
}
