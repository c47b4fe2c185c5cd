package validation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus"
)

var (
	conditionTime = metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	approved      = metav1.Condition{Type: janus.ConditionApproved, Status: metav1.ConditionTrue, Reason: "Approved", LastTransitionTime: conditionTime}
	granted       = metav1.Condition{Type: janus.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "Granted", LastTransitionTime: conditionTime}
	grantRemoved  = metav1.Condition{Type: janus.ConditionProvisioned, Status: metav1.ConditionFalse, Reason: janus.ReasonGrantRemoved, LastTransitionTime: conditionTime}
	grantFailed   = metav1.Condition{Type: janus.ConditionProvisioned, Status: metav1.ConditionFalse, Reason: "GrantFailed", LastTransitionTime: conditionTime}
	unregistered  = metav1.Condition{Type: janus.ConditionProvisioned, Status: metav1.ConditionFalse, Reason: janus.ReasonClusterUnregistered, LastTransitionTime: conditionTime}
)

func TestCreateRefusesOwnersAndForeignFinalizers(t *testing.T) {
	cases := map[string]struct {
		mutate func(*janus.AccessRequest)
		want   []string
	}{
		"Janus's own finalizer": {func(ar *janus.AccessRequest) { ar.Finalizers = []string{janus.GrantFinalizer} }, nil},
		"an owner": {func(ar *janus.AccessRequest) {
			ar.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "doomed", UID: "uid-cm"}}
		}, []string{"metadata.ownerReferences"}},
		"another finalizer": {func(ar *janus.AccessRequest) {
			ar.Finalizers = []string{janus.GrantFinalizer, "example.com/keep"}
		}, []string{"metadata.finalizers"}},
		"the garbage collector's finalizer": {func(ar *janus.AccessRequest) { ar.Finalizers = []string{metav1.FinalizerOrphanDependents} }, []string{"metadata.finalizers"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ar := validRequest()
			tc.mutate(ar)
			if got := fieldsOf(ValidateAccessRequest(ar)); !slices.Equal(got, tc.want) {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

// storedRequest is a request as the server keeps it: finalized by Janus.
func storedRequest(phase janus.AccessRequestPhase, conditions ...metav1.Condition) *janus.AccessRequest {
	ar := validRequest()
	ar.ResourceVersion = "7"
	ar.Finalizers = []string{janus.GrantFinalizer}
	ar.Status = janus.AccessRequestStatus{Phase: phase, Conditions: conditions, RequiredApprovals: 1}
	if meta.IsStatusConditionTrue(conditions, janus.ConditionApproved) {
		ar.Status.Approvals = []janus.Decision{{User: "bob", UID: "uid-bob", Time: conditionTime}}
	}
	if phase == janus.AccessRequestActive {
		ends := metav1.NewTime(conditionTime.Add(time.Hour))
		ar.Status.ActivatedAt, ar.Status.ExpiresAt = &conditionTime, &ends
	}
	return ar
}

func deleting(ar *janus.AccessRequest) *janus.AccessRequest {
	now := metav1.Now()
	ar.DeletionTimestamp = &now
	zero := int64(0)
	ar.DeletionGracePeriodSeconds = &zero
	return ar
}

func TestGrantFinalizerMayGoOnlyWithoutGrant(t *testing.T) {
	cases := map[string]struct {
		ar   *janus.AccessRequest
		want bool
	}{
		"pending":                            {storedRequest(janus.AccessRequestPending), false},
		"pending and deleted":                {deleting(storedRequest(janus.AccessRequestPending)), true},
		"approved and deleted":               {deleting(storedRequest(janus.AccessRequestApproved, approved)), false},
		"active":                             {storedRequest(janus.AccessRequestActive, approved, granted), false},
		"active and deleted":                 {deleting(storedRequest(janus.AccessRequestActive, approved, granted)), false},
		"revoked, grant removed, deleted":    {deleting(storedRequest(janus.AccessRequestRevoked, approved, grantRemoved)), true},
		"revoked, grant removed":             {storedRequest(janus.AccessRequestRevoked, approved, grantRemoved), true},
		"revoked, removal not confirmed":     {deleting(storedRequest(janus.AccessRequestRevoked, approved, granted)), false},
		"expired, cluster unregistered":      {deleting(storedRequest(janus.AccessRequestExpired, approved, unregistered)), true},
		"failed, the agent rolled back":      {deleting(storedRequest(janus.AccessRequestFailed, approved, grantFailed)), false},
		"denied":                             {storedRequest(janus.AccessRequestDenied), true},
		"withdrawn before approval, deleted": {deleting(storedRequest(janus.AccessRequestWithdrawn)), true},
	}
	for name, tc := range cases {
		if got := GrantFinalizerMayGo(tc.ar); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestUpdateKeepsOwnersAndFinalizersToJanus(t *testing.T) {
	withoutFinalizer := func(ar *janus.AccessRequest) { ar.Finalizers = nil }
	cases := map[string]struct {
		old    *janus.AccessRequest
		mutate func(*janus.AccessRequest)
		want   []string
	}{
		"a label": {storedRequest(janus.AccessRequestActive, approved, granted), func(ar *janus.AccessRequest) {
			ar.Labels = map[string]string{"incident": "inc-1234"}
		}, nil},
		"adding an owner": {storedRequest(janus.AccessRequestActive, approved, granted), func(ar *janus.AccessRequest) {
			ar.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "doomed", UID: "uid-cm"}}
		}, []string{"metadata.ownerReferences"}},
		"adding a finalizer": {storedRequest(janus.AccessRequestActive, approved, granted), func(ar *janus.AccessRequest) {
			ar.Finalizers = append(ar.Finalizers, "example.com/keep")
		}, []string{"metadata.finalizers"}},
		"removing the finalizer of an active request":   {storedRequest(janus.AccessRequestActive, approved, granted), withoutFinalizer, []string{"metadata.finalizers"}},
		"removing the finalizer of a pending request":   {storedRequest(janus.AccessRequestPending), withoutFinalizer, []string{"metadata.finalizers"}},
		"removing the finalizer of a deleted active":    {deleting(storedRequest(janus.AccessRequestActive, approved, granted)), withoutFinalizer, []string{"metadata.finalizers"}},
		"removing the finalizer of an unconfirmed end":  {storedRequest(janus.AccessRequestExpired, approved, granted), withoutFinalizer, []string{"metadata.finalizers"}},
		"removing the finalizer once the grant is gone": {storedRequest(janus.AccessRequestExpired, approved, grantRemoved), withoutFinalizer, nil},
		"removing the finalizer of a denied request":    {storedRequest(janus.AccessRequestDenied), withoutFinalizer, nil},
		"removing someone else's leftover finalizer": {func() *janus.AccessRequest {
			ar := storedRequest(janus.AccessRequestActive, approved, granted)
			ar.Finalizers = append(ar.Finalizers, metav1.FinalizerOrphanDependents)
			return ar
		}(), func(ar *janus.AccessRequest) { ar.Finalizers = []string{janus.GrantFinalizer} }, nil},
		"putting the finalizer back": {func() *janus.AccessRequest {
			ar := storedRequest(janus.AccessRequestDenied)
			ar.Finalizers = nil
			return ar
		}(), func(ar *janus.AccessRequest) { ar.Finalizers = []string{janus.GrantFinalizer} }, []string{"metadata.finalizers"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			updated := tc.old.DeepCopy()
			tc.mutate(updated)
			if got := fieldsOf(ValidateAccessRequestUpdate(updated, tc.old)); !slices.Equal(got, tc.want) {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStatusUpdateDropsTheFinalizerOnlyWithTheGrant: the controller writes
// that the grant is gone first; only that lets the finalizer go.
func TestStatusUpdateDropsTheFinalizerOnlyWithTheGrant(t *testing.T) {
	cases := map[string]struct {
		old  *janus.AccessRequest
		want []string
	}{
		"before the grant is removed": {deleting(storedRequest(janus.AccessRequestActive, approved, granted)), []string{"metadata.finalizers"}},
		"after the grant is removed":  {deleting(storedRequest(janus.AccessRequestRevoked, approved, grantRemoved)), nil},
		"a deleted pending request":   {deleting(storedRequest(janus.AccessRequestPending)), nil},
		"a pending request":           {storedRequest(janus.AccessRequestPending), []string{"metadata.finalizers"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			updated := tc.old.DeepCopy()
			updated.Finalizers = nil
			errs := ValidateAccessRequestStatusUpdate(updated, tc.old)
			if got := fieldsOf(errs); !slices.Equal(got, tc.want) {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
			if len(errs) > 0 && !strings.Contains(errs.ToAggregate().Error(), "delete the request") {
				t.Errorf("%v does not say what to do instead", errs.ToAggregate())
			}
		})
	}
}
