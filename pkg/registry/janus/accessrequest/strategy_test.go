package accessrequest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

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

func TestPrepareForCreateAddsTheGrantFinalizerOnce(t *testing.T) {
	for name, finalizers := range map[string][]string{
		"none in the body":    nil,
		"Janus's in the body": {janus.GrantFinalizer},
	} {
		ar := &janus.AccessRequest{ObjectMeta: metav1.ObjectMeta{Finalizers: finalizers}}
		accessRequestStrategy{}.PrepareForCreate(context.Background(), ar)
		if !slices.Equal(ar.Finalizers, []string{janus.GrantFinalizer}) {
			t.Errorf("%s: finalizers = %v, want only %s", name, ar.Finalizers, janus.GrantFinalizer)
		}
	}
}

// TestStatusUpdateCarriesOnlyTheFinalizers: the controller drops the grant
// finalizer through status; every other part of metadata stays as stored.
func TestStatusUpdateCarriesOnlyTheFinalizers(t *testing.T) {
	old := &janus.AccessRequest{ObjectMeta: metav1.ObjectMeta{
		Name: "r", Labels: map[string]string{"team": "payments"}, Finalizers: []string{janus.GrantFinalizer},
	}}
	updated := old.DeepCopy()
	updated.Finalizers = nil
	updated.Labels = map[string]string{"team": "mallory"}
	updated.OwnerReferences = []metav1.OwnerReference{{Name: "doomed"}}
	statusStrategy{}.PrepareForUpdate(context.Background(), updated, old)
	if len(updated.Finalizers) != 0 {
		t.Errorf("finalizers = %v, want the removal kept for validation to judge", updated.Finalizers)
	}
	if updated.Labels["team"] != "payments" || len(updated.OwnerReferences) != 0 {
		t.Errorf("labels %v and owners %v changed through status", updated.Labels, updated.OwnerReferences)
	}
}

func TestDeleteRecordsWhoDeletedALiveRequest(t *testing.T) {
	admin := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "admin"})
	revokedByCarol := &janus.Decision{User: "carol", Reason: "INC closed"}
	cases := []struct {
		name     string
		status   janus.AccessRequestStatus
		wantUser string
		wantWhy  string
	}{
		{"active", janus.AccessRequestStatus{Phase: janus.AccessRequestActive}, "admin", janus.DecisionReasonDeleted},
		{"approved", janus.AccessRequestStatus{Phase: janus.AccessRequestApproved}, "admin", janus.DecisionReasonDeleted},
		{"pending", janus.AccessRequestStatus{Phase: janus.AccessRequestPending}, "admin", janus.DecisionReasonDeleted},
		{"revoked: its decision stands", janus.AccessRequestStatus{Phase: janus.AccessRequestRevoked, Decision: revokedByCarol}, "carol", "INC closed"},
	}
	for _, tc := range cases {
		ar := &janus.AccessRequest{Status: tc.status}
		if (accessRequestStrategy{}).CheckGracefulDelete(admin, ar, &metav1.DeleteOptions{}) {
			t.Errorf("%s: asked for a grace period; the finalizer holds the object instead", tc.name)
		}
		if d := ar.Status.Decision; d == nil || d.User != tc.wantUser || d.Reason != tc.wantWhy {
			t.Errorf("%s: decision %+v, want %s with reason %q", tc.name, d, tc.wantUser, tc.wantWhy)
		}
	}
	if p := (accessRequestStrategy{}).DefaultGarbageCollectionPolicy(admin); p != rest.Unsupported {
		t.Errorf("garbage collection policy %s would add the collector's finalizers", p)
	}
}

type clusterGetterFunc func(ctx context.Context, name string) (*janus.Cluster, error)

func (f clusterGetterFunc) GetCluster(ctx context.Context, name string) (*janus.Cluster, error) {
	return f(ctx, name)
}

// TestPrepareForCreateFixesTheQuorum: the request keeps the quorum its
// Cluster asked for when it was made; a body's own claim is discarded.
func TestPrepareForCreateFixesTheQuorum(t *testing.T) {
	clusters := clusterGetterFunc(func(_ context.Context, name string) (*janus.Cluster, error) {
		required := map[string]int32{"prod": 2, "dev": 0}[name]
		return &janus.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: janus.ClusterSpec{Approval: janus.ApprovalPolicy{Required: required}}}, nil
	})
	for cluster, want := range map[string]int32{"prod": 2, "dev": 1} {
		ar := &janus.AccessRequest{Spec: janus.AccessRequestSpec{Cluster: cluster}, Status: janus.AccessRequestStatus{RequiredApprovals: 9}}
		accessRequestStrategy{clusters: clusters}.PrepareForCreate(context.Background(), ar)
		if ar.Status.RequiredApprovals != want {
			t.Errorf("cluster %s: requiredApprovals %d, want %d", cluster, ar.Status.RequiredApprovals, want)
		}
	}
}

func TestRequiredApprovalsFallsBackToTheClusterForOldRequests(t *testing.T) {
	cluster := &janus.Cluster{Spec: janus.ClusterSpec{Approval: janus.ApprovalPolicy{Required: 3}}}
	if got := requiredApprovals(&janus.AccessRequest{Status: janus.AccessRequestStatus{RequiredApprovals: 2}}, cluster); got != 2 {
		t.Errorf("quorum %d for a request that recorded 2, want 2", got)
	}
	if got := requiredApprovals(&janus.AccessRequest{}, cluster); got != 3 {
		t.Errorf("quorum %d for a request from before it was recorded, want the Cluster's 3", got)
	}
}

// TestCreateWithoutAFixedQuorumIsAServerError: when PrepareForCreate
// could not read the Cluster (the datastore restarting) but Validate
// can, the request is not created with no quorum fixed: validation says
// so as an internal error, which create answers with 500.
func TestCreateWithoutAFixedQuorumIsAServerError(t *testing.T) {
	for _, firstReadFails := range []bool{true, false} {
		reads := 0
		clusters := clusterGetterFunc(func(_ context.Context, name string) (*janus.Cluster, error) {
			if reads++; reads == 1 && firstReadFails {
				return nil, errors.New("FATAL: the database system is shutting down")
			}
			return &janus.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: janus.ClusterSpec{Approval: janus.ApprovalPolicy{Required: 2}}}, nil
		})
		s := accessRequestStrategy{clusters: clusters}
		ar := &janus.AccessRequest{Spec: janus.AccessRequestSpec{Cluster: "prod", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour}, Reason: "INC-1"}}
		s.PrepareForCreate(context.Background(), ar)
		errs := s.Validate(context.Background(), ar)
		internal := slices.ContainsFunc(errs, func(e *field.Error) bool {
			return e.Type == field.ErrorTypeInternal && e.Field == "status.requiredApprovals"
		})
		if internal != firstReadFails {
			t.Errorf("first read fails %v: internal error on status.requiredApprovals %v (errors %v)", firstReadFails, internal, errs)
		}
	}
}
