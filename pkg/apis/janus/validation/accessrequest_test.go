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
			next := old.DeepCopy()
			next.Status.Phase = to
			next.Status.ActivatedAt, next.Status.ExpiresAt = &now, &now
			errs := ValidateAccessRequestStatusUpdate(next, old)
			want := sets.New(allowed[from]...).Has(to)
			if (len(errs) == 0) != want {
				t.Errorf("%s → %s: allowed=%v, errors %v", from, to, want, errs)
			}
		}
	}
	// Active needs its clock.
	old := validRequest()
	old.ResourceVersion = "1"
	old.Status.Phase = janus.AccessRequestApproved
	next := old.DeepCopy()
	next.Status.Phase = janus.AccessRequestActive
	if got := fieldsOf(ValidateAccessRequestStatusUpdate(next, old)); strings.Join(got, ",") != "status.expiresAt" {
		t.Errorf("Active without expiresAt: errors on %v", got)
	}
}
