package kubectljanus

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/infroware/janus/pkg/version"
)

func runPlugin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := NewCommand(streams)
	cmd.SetArgs(args)
	code := Run(context.Background(), cmd, &errOut)
	if errOut.Len() > 0 {
		t.Logf("kubectl janus %s: stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	return out.String(), code
}

func TestVersionClientPrintsThePluginsBuildWithoutACluster(t *testing.T) {
	// A kubeconfig that cannot be read: --client must not need one.
	t.Setenv("KUBECONFIG", t.TempDir()+"/missing")

	out, code := runPlugin(t, "version", "--client")
	if code != 0 || out != "Client Version: "+version.String()+"\n" {
		t.Errorf("version --client = %d %q, want 0 and the client line alone", code, out)
	}

	out, code = runPlugin(t, "version", "--client", "-o", "json")
	var got versions
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("version --client -o json = %d %q (%v)", code, out, err)
	}
	if got.ClientVersion != version.Get() || got.ServerVersion != nil || got.KubernetesVersion != nil {
		t.Errorf("version --client -o json = %+v, want the client's build only", got)
	}

	if out, code := runPlugin(t, "--version"); code != 0 || out != "kubectl janus "+version.String()+"\n" {
		t.Errorf("kubectl janus --version = %d %q", code, out)
	}
	if _, code := runPlugin(t, "version", "--client", "-o", "wide"); code == 0 {
		t.Error("version -o wide succeeded; only json and yaml are offered")
	}
}

func TestVersionWithoutAClusterPrintsTheClientAndFails(t *testing.T) {
	t.Setenv("KUBECONFIG", t.TempDir()+"/missing")
	out, code := runPlugin(t, "version", "--server", "https://127.0.0.1:1")
	if code == 0 {
		t.Errorf("version against nothing exited 0")
	}
	if !strings.HasPrefix(out, "Client Version: ") || strings.Contains(out, "Server Version") {
		t.Errorf("version against nothing printed %q, want the client line only", out)
	}
}
