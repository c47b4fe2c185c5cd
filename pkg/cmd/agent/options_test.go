package agent

import (
	"strings"
	"testing"
)

func TestCompleteTakesTheNamespaceFromThePod(t *testing.T) {
	t.Setenv(PodNamespaceEnv, "janus-agent")
	o := NewAgentOptions()
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.Namespace != "janus-agent" {
		t.Errorf("namespace %q, want janus-agent from $%s", o.Namespace, PodNamespaceEnv)
	}

	t.Setenv(PodNamespaceEnv, "")
	o = NewAgentOptions()
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.Namespace != DefaultNamespace {
		t.Errorf("namespace %q, want %s", o.Namespace, DefaultNamespace)
	}

	o = NewAgentOptions()
	o.Namespace = "mine"
	if err := o.Complete(); err != nil || o.Namespace != "mine" {
		t.Errorf("--namespace mine became %q (%v)", o.Namespace, err)
	}
}

func TestValidateReportsEveryBadFlag(t *testing.T) {
	valid := func() *AgentOptions {
		o := NewAgentOptions()
		o.JanusURL = "https://janus.example.com:443"
		o.Cluster = "prod-eu"
		o.Namespace = "janus"
		return o
	}
	tests := []struct {
		name   string
		modify func(o *AgentOptions)
		want   []string
	}{
		{name: "valid", modify: func(*AgentOptions) {}},
		{name: "no janus url", modify: func(o *AgentOptions) { o.JanusURL = "" }, want: []string{"--janus-url is required"}},
		{name: "plain http", modify: func(o *AgentOptions) { o.JanusURL = "http://janus:80" }, want: []string{"--janus-url must be an https URL"}},
		{name: "no cluster", modify: func(o *AgentOptions) { o.Cluster = "" }, want: []string{"--cluster is required"}},
		{name: "bad cluster", modify: func(o *AgentOptions) { o.Cluster = "Prod EU" }, want: []string{"--cluster"}},
		{name: "no token file", modify: func(o *AgentOptions) { o.TokenFile = "" }, want: []string{"--token-file is required"}},
		{name: "bad namespace", modify: func(o *AgentOptions) { o.Namespace = "a.b" }, want: []string{"--namespace"}},
		{name: "bad excluded namespace", modify: func(o *AgentOptions) { o.ExcludedNamespaces = []string{"ok", "NOT_OK"} }, want: []string{`"NOT_OK"`}},
		{name: "health port off", modify: func(o *AgentOptions) { o.HealthBindAddress = "0" }},
		{name: "health port on loopback", modify: func(o *AgentOptions) { o.HealthBindAddress = "127.0.0.1:9090" }},
		{name: "bad health port", modify: func(o *AgentOptions) { o.HealthBindAddress = "8080" }, want: []string{"--health-bind-address"}},
		{
			name:   "several at once",
			modify: func(o *AgentOptions) { o.JanusURL, o.Cluster = "", "" },
			want:   []string{"--janus-url is required", "--cluster is required"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.modify(o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
