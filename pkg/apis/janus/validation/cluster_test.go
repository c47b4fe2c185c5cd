package validation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus"
)

func TestValidateCluster(t *testing.T) {
	valid := func() *janus.Cluster {
		return &janus.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: "prod-eu"},
			Spec: janus.ClusterSpec{
				Agent:    janus.ClusterAgent{Issuer: "https://kubernetes.default.svc.cluster.local", ServiceAccount: "janus/janus-agent"},
				Approval: janus.ApprovalPolicy{Required: 1},
			},
		}
	}
	cases := map[string]struct {
		mutate func(*janus.Cluster)
		want   []string
	}{
		"valid":                   {func(*janus.Cluster) {}, nil},
		"name with dots":          {func(c *janus.Cluster) { c.Name = "prod.eu" }, []string{"metadata.name"}},
		"http issuer":             {func(c *janus.Cluster) { c.Spec.Agent.Issuer = "http://issuer" }, []string{"spec.agent.issuer"}},
		"service account no ns":   {func(c *janus.Cluster) { c.Spec.Agent.ServiceAccount = "janus-agent" }, []string{"spec.agent.serviceAccount"}},
		"bad excluded namespace":  {func(c *janus.Cluster) { c.Spec.ExcludedNamespaces = []string{"Kube_System"} }, []string{"spec.excludedNamespaces[0]"}},
		"zero max duration":       {func(c *janus.Cluster) { c.Spec.MaxDuration = &metav1.Duration{} }, []string{"spec.maxDuration"}},
		"no approvers":            {func(c *janus.Cluster) { c.Spec.Approval.Required = 0 }, []string{"spec.approval.required"}},
		"eleven approvers":        {func(c *janus.Cluster) { c.Spec.Approval.Required = 11 }, []string{"spec.approval.required"}},
		"max duration of an hour": {func(c *janus.Cluster) { c.Spec.MaxDuration = &metav1.Duration{Duration: time.Hour} }, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := valid()
			tc.mutate(c)
			got := fieldsOf(ValidateCluster(c))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

// TestValidateClusterUpdateKeepsAgentTrustToItsSubresource: a plain update
// may change the policy of a Cluster but not whom it trusts as its agent;
// the clusters/agent subresource may.
func TestValidateClusterUpdateKeepsAgentTrustToItsSubresource(t *testing.T) {
	old := &janus.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "prod-eu", ResourceVersion: "1"},
		Spec: janus.ClusterSpec{
			Agent:    janus.ClusterAgent{Issuer: "https://kubernetes.default.svc.cluster.local", ServiceAccount: "janus/janus-agent"},
			Approval: janus.ApprovalPolicy{Required: 2},
		},
	}
	cases := map[string]struct {
		mutate       func(*janus.Cluster)
		plain, agent []string
	}{
		"display name":        {func(c *janus.Cluster) { c.Spec.DisplayName = "Prod" }, nil, nil},
		"approvals lowered":   {func(c *janus.Cluster) { c.Spec.Approval.Required = 1 }, nil, nil},
		"another issuer":      {func(c *janus.Cluster) { c.Spec.Agent.Issuer = "https://evil.example.com" }, []string{"spec.agent"}, nil},
		"other keys":          {func(c *janus.Cluster) { c.Spec.Agent.JWKS = `{"keys":[]}` }, []string{"spec.agent"}, nil},
		"another agent":       {func(c *janus.Cluster) { c.Spec.Agent.ServiceAccount = "kube-system/default" }, []string{"spec.agent"}, nil},
		"trust taken away":    {func(c *janus.Cluster) { c.Spec.Agent = janus.ClusterAgent{} }, []string{"spec.agent"}, nil},
		"an invalid issuer":   {func(c *janus.Cluster) { c.Spec.Agent.Issuer = "http://x" }, []string{"spec.agent", "spec.agent.issuer"}, []string{"spec.agent.issuer"}},
		"nothing at all":      {func(*janus.Cluster) {}, nil, nil},
		"an invalid approval": {func(c *janus.Cluster) { c.Spec.Approval.Required = 0 }, []string{"spec.approval.required"}, []string{"spec.approval.required"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			next := old.DeepCopy()
			tc.mutate(next)
			plain := ValidateClusterUpdate(next, old)
			if got := fieldsOf(plain); strings.Join(got, ",") != strings.Join(tc.plain, ",") {
				t.Errorf("plain update: errors on %v, want %v", got, tc.plain)
			}
			for _, err := range plain {
				if err.Field == "spec.agent" && !strings.Contains(err.Detail, AgentSubresource) {
					t.Errorf("the refusal does not name %s: %q", AgentSubresource, err.Detail)
				}
			}
			if got := fieldsOf(ValidateClusterAgentUpdate(next, old)); strings.Join(got, ",") != strings.Join(tc.agent, ",") {
				t.Errorf("clusters/agent: errors on %v, want %v", got, tc.agent)
			}
		})
	}
}
