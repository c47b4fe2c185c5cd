package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

func validRequest() *janus.AccessRequest {
	return &janus.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-x7k2"},
		Spec: janus.AccessRequestSpec{
			Cluster:    "prod-eu",
			Namespaces: []string{"payments", "default"},
			Duration:   metav1.Duration{Duration: time.Hour},
			Reason:     "INC-1234",
		},
	}
}

func fieldsOf(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestValidateAccessRequest(t *testing.T) {
	cases := map[string]struct {
		mutate func(*janus.AccessRequest)
		want   []string
	}{
		"valid":                 {func(*janus.AccessRequest) {}, nil},
		"cluster missing":       {func(ar *janus.AccessRequest) { ar.Spec.Cluster = "" }, []string{"spec.cluster"}},
		"cluster not a name":    {func(ar *janus.AccessRequest) { ar.Spec.Cluster = "Prod EU" }, []string{"spec.cluster"}},
		"namespaces missing":    {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = nil }, []string{"spec.namespaces"}},
		"namespace uppercase":   {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = []string{"ok", "NotOK"} }, []string{"spec.namespaces[1]"}},
		"namespace with slash":  {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = []string{"a/b"} }, []string{"spec.namespaces[0]"}},
		"namespace duplicated":  {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = []string{"a", "b", "a"} }, []string{"spec.namespaces[2]"}},
		"zero duration":         {func(ar *janus.AccessRequest) { ar.Spec.Duration.Duration = 0 }, []string{"spec.duration"}},
		"reason missing":        {func(ar *janus.AccessRequest) { ar.Spec.Reason = "" }, []string{"spec.reason"}},
		"reason 1024 runes":     {func(ar *janus.AccessRequest) { ar.Spec.Reason = strings.Repeat("ü", 1024) }, nil},
		"reason 1025 runes":     {func(ar *janus.AccessRequest) { ar.Spec.Reason = strings.Repeat("ü", 1025) }, []string{"spec.reason"}},
		"bad name":              {func(ar *janus.AccessRequest) { ar.Name = "Alice!" }, []string{"metadata.name"}},
		"name with a dot":       {func(ar *janus.AccessRequest) { ar.Name = "alice.x7k2" }, []string{"metadata.name"}},
		"name of 64 characters": {func(ar *janus.AccessRequest) { ar.Name = strings.Repeat("a", 64) }, []string{"metadata.name"}},
		"twenty-one namespaces": {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = manyNamespaces(21) }, []string{"spec.namespaces"}},
		"twenty namespaces":     {func(ar *janus.AccessRequest) { ar.Spec.Namespaces = manyNamespaces(20) }, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ar := validRequest()
			tc.mutate(ar)
			got := fieldsOf(ValidateAccessRequest(ar))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

func manyNamespaces(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "ns-" + strings.Repeat("a", i+1)
	}
	return out
}

func TestPolicyForClusterOnlyTightens(t *testing.T) {
	global := Policy{MinDuration: 10 * time.Minute, MaxDuration: 8 * time.Hour, ExcludedNamespaces: sets.New("kube-system")}
	loose := &janus.Cluster{Spec: janus.ClusterSpec{MaxDuration: &metav1.Duration{Duration: 24 * time.Hour}}}
	if got := global.ForCluster(loose).MaxDuration; got != 8*time.Hour {
		t.Errorf("a cluster raised the maximum to %s", got)
	}
	tight := &janus.Cluster{Spec: janus.ClusterSpec{MaxDuration: &metav1.Duration{Duration: time.Hour}, ExcludedNamespaces: []string{"vault"}}}
	p := global.ForCluster(tight)
	if p.MaxDuration != time.Hour {
		t.Errorf("max = %s, want the cluster's 1h", p.MaxDuration)
	}
	if !p.ExcludedNamespaces.HasAll("kube-system", "vault") {
		t.Errorf("excluded = %v, want global and cluster exclusions", sets.List(p.ExcludedNamespaces))
	}
	if global.ExcludedNamespaces.Has("vault") {
		t.Errorf("ForCluster changed the global policy")
	}
}

func TestValidateAccessRequestPolicy(t *testing.T) {
	policy := Policy{MinDuration: 10 * time.Minute, MaxDuration: 8 * time.Hour, ExcludedNamespaces: sets.New("kube-system", "janus")}
	cases := map[string]struct {
		namespaces []string
		duration   time.Duration
		want       []string
	}{
		"allowed":            {[]string{"payments"}, time.Hour, nil},
		"at the minimum":     {[]string{"payments"}, 10 * time.Minute, nil},
		"at the maximum":     {[]string{"payments"}, 8 * time.Hour, nil},
		"below the minimum":  {[]string{"payments"}, 9 * time.Minute, []string{"spec.duration"}},
		"above the maximum":  {[]string{"payments"}, 8*time.Hour + time.Second, []string{"spec.duration"}},
		"excluded namespace": {[]string{"payments", "janus"}, time.Hour, []string{"spec.namespaces[1]"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := &janus.AccessRequestSpec{Cluster: "dev", Namespaces: tc.namespaces, Duration: metav1.Duration{Duration: tc.duration}}
			got := fieldsOf(ValidateAccessRequestPolicy(spec, policy))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateAccessRequestUpdateFreezesSpec(t *testing.T) {
	old := validRequest()
	old.ResourceVersion = "1"
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"team": "payments"}
	if errs := ValidateAccessRequestUpdate(labelled, old); len(errs) > 0 {
		t.Errorf("label change refused: %v", errs)
	}
	changed := old.DeepCopy()
	changed.Spec.Requester.Username = "mallory"
	if got := fieldsOf(ValidateAccessRequestUpdate(changed, old)); strings.Join(got, ",") != "spec" {
		t.Errorf("requester change: errors on %v, want spec", got)
	}
}

func TestValidateAccessRequestStatusUpdateFollowsLifecycle(t *testing.T) {
	now := metav1.Now()
	later := metav1.NewTime(now.Add(time.Hour))
	allowed := map[janus.AccessRequestPhase][]janus.AccessRequestPhase{
		janus.AccessRequestPending:   {janus.AccessRequestPending, janus.AccessRequestApproved, janus.AccessRequestDenied, janus.AccessRequestWithdrawn},
		janus.AccessRequestApproved:  {janus.AccessRequestApproved, janus.AccessRequestActive, janus.AccessRequestFailed, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn},
		janus.AccessRequestActive:    {janus.AccessRequestActive, janus.AccessRequestExpired, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn},
		janus.AccessRequestExpired:   {janus.AccessRequestExpired},
		janus.AccessRequestDenied:    {janus.AccessRequestDenied},
		janus.AccessRequestRevoked:   {janus.AccessRequestRevoked},
		janus.AccessRequestFailed:    {janus.AccessRequestFailed},
		janus.AccessRequestWithdrawn: {janus.AccessRequestWithdrawn},
	}
	all := []janus.AccessRequestPhase{janus.AccessRequestPending, janus.AccessRequestApproved, janus.AccessRequestActive, janus.AccessRequestExpired, janus.AccessRequestDenied, janus.AccessRequestWithdrawn, janus.AccessRequestRevoked, janus.AccessRequestFailed}
	for _, from := range all {
		for _, to := range all {
			old := validRequest()
			old.ResourceVersion = "1"
			old.Status.Phase = from
			old.Status.RequiredApprovals = 1
			old.Status.Approvals = []janus.Decision{{User: "bob", UID: "uid-bob", Time: now}}
			next := old.DeepCopy()
			next.Status.Phase = to
			next.Status.ActivatedAt, next.Status.ExpiresAt = &now, &later
			errs := ValidateAccessRequestStatusUpdate(next, old)
			want := sets.New(allowed[from]...).Has(to)
			if (len(errs) == 0) != want {
				t.Errorf("%s → %s: allowed=%v, errors %v", from, to, want, errs)
			}
			if !want && strings.Join(fieldsOf(errs), ",") != "status.phase" {
				t.Errorf("%s → %s: errors on %v, want status.phase", from, to, fieldsOf(errs))
			}
		}
	}
}

// TestValidateAccessRequestStatusUpdateRefusesImpossibleStatus: whoever may
// write accessrequests/status still cannot write a status the lifecycle
// never reaches.
func TestValidateAccessRequestStatusUpdateRefusesImpossibleStatus(t *testing.T) {
	now := metav1.Now()
	later := metav1.NewTime(now.Add(time.Hour))
	earlier := metav1.NewTime(now.Add(-time.Hour))
	bob := janus.Decision{User: "bob", UID: "uid-bob", Time: now}
	carol := janus.Decision{User: "carol", UID: "uid-carol", Time: now}
	cases := map[string]struct {
		from   janus.AccessRequestPhase
		before func(*janus.AccessRequestStatus)
		after  func(*janus.AccessRequestStatus)
		want   []string
	}{
		"approved with its quorum": {
			from: janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob, carol}
			},
		},
		"approved with no approvals": {
			from:  janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) { s.Phase, s.Approvals = janus.AccessRequestApproved, nil },
			want:  []string{"status.approvals"},
		},
		"approved with one of two": {
			from: janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob}
			},
			want: []string{"status.approvals"},
		},
		"approved twice by one UID under two names": {
			from: janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob, {User: "robert", UID: "uid-bob", Time: now}}
			},
			want: []string{"status.approvals"},
		},
		"approved twice by one name": {
			from: janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob, {User: "bob", UID: "uid-other", Time: now}}
			},
			want: []string{"status.approvals"},
		},
		"approved by an empty name": {
			from: janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob, {Time: now}}
			},
			want: []string{"status.approvals"},
		},
		"a request from before the quorum was recorded, approved once": {
			from:   janus.AccessRequestPending,
			before: func(s *janus.AccessRequestStatus) { s.RequiredApprovals = 0 },
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Approvals = janus.AccessRequestApproved, []janus.Decision{bob}
			},
		},
		"a request from before the quorum was recorded, not approved": {
			from:   janus.AccessRequestPending,
			before: func(s *janus.AccessRequestStatus) { s.RequiredApprovals = 0 },
			after:  func(s *janus.AccessRequestStatus) { s.Phase = janus.AccessRequestApproved },
			want:   []string{"status.approvals"},
		},
		"quorum lowered": {
			from:  janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) { s.RequiredApprovals = 1 },
			want:  []string{"status.requiredApprovals"},
		},
		"active with its clock": {
			from: janus.AccessRequestApproved,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.ActivatedAt, s.ExpiresAt = janus.AccessRequestActive, &now, &later
			},
		},
		"active without expiresAt": {
			from:  janus.AccessRequestApproved,
			after: func(s *janus.AccessRequestStatus) { s.Phase, s.ActivatedAt = janus.AccessRequestActive, &now },
			want:  []string{"status.expiresAt"},
		},
		"active without activatedAt and expiresAt": {
			from:  janus.AccessRequestApproved,
			after: func(s *janus.AccessRequestStatus) { s.Phase = janus.AccessRequestActive },
			want:  []string{"status.activatedAt", "status.expiresAt"},
		},
		"active expiring before it started": {
			from: janus.AccessRequestApproved,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.ActivatedAt, s.ExpiresAt = janus.AccessRequestActive, &now, &earlier
			},
			want: []string{"status.expiresAt"},
		},
		"active with its approvals taken away": {
			from: janus.AccessRequestActive,
			after: func(s *janus.AccessRequestStatus) {
				s.Approvals = nil
			},
			want: []string{"status.approvals"},
		},
		"expired made active again": {
			from:  janus.AccessRequestExpired,
			after: func(s *janus.AccessRequestStatus) { s.Phase = janus.AccessRequestActive },
			want:  []string{"status.phase"},
		},
		"an unknown phase": {
			from:  janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) { s.Phase = "Granted" },
			want:  []string{"status.phase"},
		},
		"no phase": {
			from:  janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) { s.Phase = "" },
			want:  []string{"status.phase"},
		},
		"a deleted pending request keeps its phase": {
			from:  janus.AccessRequestPending,
			after: func(s *janus.AccessRequestStatus) { s.Message = "deleted" },
		},
		"a deleted approved request is revoked": {
			from: janus.AccessRequestApproved,
			after: func(s *janus.AccessRequestStatus) {
				s.Phase, s.Decision = janus.AccessRequestRevoked, &janus.Decision{Reason: janus.DecisionReasonDeleted, Time: now}
			},
		},
		"a session's end counted on a finished request": {
			from:  janus.AccessRequestExpired,
			after: func(s *janus.AccessRequestStatus) { s.ActiveSessions, s.TotalSessions = 0, 3 },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := validRequest()
			old.ResourceVersion = "1"
			old.Status = janus.AccessRequestStatus{Phase: tc.from, RequiredApprovals: 2}
			if tc.from != janus.AccessRequestPending {
				old.Status.Approvals = []janus.Decision{bob, carol}
			}
			if tc.from == janus.AccessRequestActive || tc.from == janus.AccessRequestExpired {
				old.Status.ActivatedAt, old.Status.ExpiresAt = &now, &later
			}
			if tc.before != nil {
				tc.before(&old.Status)
			}
			next := old.DeepCopy()
			tc.after(&next.Status)
			got := fieldsOf(ValidateAccessRequestStatusUpdate(next, old))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDistinctApproversCountsANameOrAUIDOnce(t *testing.T) {
	cases := map[string]struct {
		approvals []janus.Decision
		want      int
	}{
		"none":                     {nil, 0},
		"two people":               {[]janus.Decision{{User: "bob", UID: "1"}, {User: "carol", UID: "2"}}, 2},
		"one UID, two names":       {[]janus.Decision{{User: "bob", UID: "1"}, {User: "robert", UID: "1"}}, 1},
		"one name, two UIDs":       {[]janus.Decision{{User: "bob", UID: "1"}, {User: "bob", UID: "2"}}, 1},
		"names without UIDs":       {[]janus.Decision{{User: "bob"}, {User: "carol"}}, 2},
		"a name seen by its UID":   {[]janus.Decision{{User: "bob", UID: "1"}, {User: "robert", UID: "1"}, {User: "robert", UID: "3"}}, 1},
		"an empty name is nobody":  {[]janus.Decision{{UID: "1"}}, 0},
		"a UID-less repeat of bob": {[]janus.Decision{{User: "bob", UID: "1"}, {User: "bob"}}, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := DistinctApprovers(tc.approvals); got != tc.want {
				t.Errorf("DistinctApprovers = %d, want %d", got, tc.want)
			}
		})
	}
}
