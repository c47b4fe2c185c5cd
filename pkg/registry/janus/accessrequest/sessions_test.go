package accessrequest

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus"
)

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 3200: "3.2 kB", 48_000_000: "48.0 MB", 2_500_000_000: "2.5 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAccessEndedSaysWhyAccessIsOver(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := metav1.NewTime(now.Add(time.Minute)), metav1.NewTime(now.Add(-time.Minute))
	decision := &janus.Decision{User: "carol", Reason: "INC closed"}
	cases := []struct {
		name    string
		status  janus.AccessRequestStatus
		want    string
		deleted bool
	}{
		{"active", janus.AccessRequestStatus{Phase: janus.AccessRequestActive, ExpiresAt: &later}, "", false},
		{"active past expiresAt", janus.AccessRequestStatus{Phase: janus.AccessRequestActive, ExpiresAt: &earlier}, "access expired at 2026-12-01T11:59:00Z", false},
		{"expired", janus.AccessRequestStatus{Phase: janus.AccessRequestExpired, ExpiresAt: &earlier}, "access expired at 2026-12-01T11:59:00Z", false},
		{"revoked", janus.AccessRequestStatus{Phase: janus.AccessRequestRevoked, Decision: decision}, "access revoked by carol: INC closed", false},
		{"withdrawn without a reason", janus.AccessRequestStatus{Phase: janus.AccessRequestWithdrawn, Decision: &janus.Decision{User: "alice"}}, "access withdrawn by alice", false},
		{"failed", janus.AccessRequestStatus{Phase: janus.AccessRequestFailed}, "access ended: the request is Failed", false},
		{"active and deleted", janus.AccessRequestStatus{Phase: janus.AccessRequestActive, ExpiresAt: &later, Decision: &janus.Decision{User: "admin", Reason: janus.DecisionReasonDeleted}}, "access ended: the request was deleted by admin", true},
		{"active and deleted by someone unknown", janus.AccessRequestStatus{Phase: janus.AccessRequestActive, ExpiresAt: &later}, "access ended: the request was deleted", true},
		{"revoked as it was deleted", janus.AccessRequestStatus{Phase: janus.AccessRequestRevoked, Decision: &janus.Decision{User: "admin", Reason: janus.DecisionReasonDeleted}}, "access ended: the request was deleted by admin", true},
		{"revoked by carol, deleted since", janus.AccessRequestStatus{Phase: janus.AccessRequestRevoked, Decision: decision}, "access revoked by carol: INC closed", true},
	}
	for _, tc := range cases {
		ar := &janus.AccessRequest{Status: tc.status}
		if tc.deleted {
			ar.DeletionTimestamp = &earlier
		}
		if got := accessEnded(ar, now); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
