package consoleenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/internal/testenv"
)

// The console's ServiceAccount, as artifacts/console/serviceaccount.yaml
// names it.
const (
	serviceAccountNamespace = "janus"
	serviceAccountName      = "janus-console"
)

// identity is the console's own identity: a ServiceAccount token in a
// file, renewed before it expires, so that a playground left running for
// days keeps working (client-go re-reads BearerTokenFile every minute).
type identity struct {
	kube     kubernetes.Interface
	file     string
	lifetime time.Duration
}

// newIdentity applies artifacts/console's ServiceAccount and impersonation
// ClusterRole as admin, writes a first token into workDir and returns the
// client configuration that uses it: the console's only own rights.
func newIdentity(ctx context.Context, tb *testenv.Testbed, repoRoot, workDir string, lifetime time.Duration) (*identity, *rest.Config, error) {
	admin, err := tb.RESTConfigFor("admin")
	if err != nil {
		return nil, nil, err
	}
	objs, err := testenv.ReadManifests(
		filepath.Join(repoRoot, "artifacts", "console", "serviceaccount.yaml"),
		filepath.Join(repoRoot, "artifacts", "console", "rbac.yaml"),
		filepath.Join(repoRoot, "artifacts", "console", "signouts.yaml"))
	if err != nil {
		return nil, nil, err
	}
	applier, err := testenv.NewApplier(admin)
	if err != nil {
		return nil, nil, err
	}
	if err := applier.Apply(ctx, objs); err != nil {
		return nil, nil, fmt.Errorf("applying artifacts/console: %w", err)
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, nil, fmt.Errorf("building the admin client: %w", err)
	}
	id := &identity{kube: kube, file: filepath.Join(workDir, "console-token"), lifetime: lifetime}
	if err := id.renew(ctx); err != nil {
		return nil, nil, err
	}
	cfg := &rest.Config{
		Host:            admin.Host,
		BearerTokenFile: id.file,
		TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData},
		QPS:             -1,
	}
	return id, cfg, nil
}

// renew issues a fresh token and replaces the file with it.
func (id *identity) renew(ctx context.Context) error {
	seconds := int64(id.lifetime / time.Second)
	tr, err := id.kube.CoreV1().ServiceAccounts(serviceAccountNamespace).CreateToken(ctx, serviceAccountName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("issuing a token of ServiceAccount %s/%s: %w", serviceAccountNamespace, serviceAccountName, err)
	}
	if err := writeSecretFile(id.file, tr.Status.Token); err != nil {
		return fmt.Errorf("writing the console's token: %w", err)
	}
	return nil
}

// keepRenewing renews the token every third of its lifetime until ctx
// ends; a failed renewal is retried at the next turn, two of which still
// fall within the old token's life.
func (id *identity) keepRenewing(ctx context.Context) {
	tick := time.NewTicker(id.lifetime / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := id.renew(ctx); err != nil && ctx.Err() == nil {
				klog.ErrorS(err, "Renewing the console's ServiceAccount token; retrying later")
			}
		}
	}
}

// writeSecretFile makes path hold content (and a newline), readable by
// the owner only, complete or not at all.
func writeSecretFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
