package console

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/cookie"
	"github.com/infroware/janus/pkg/console/server"
	"github.com/infroware/janus/pkg/console/testprovider"
)

const (
	clientID     = "janus-console"
	clientSecret = "console-secret"
	// Every demo user's password at the test provider.
	passwordSuffix = "-password"
)

var (
	bed        *testenv.Testbed
	repoRoot   string
	consoleURL string
	provider   *testprovider.Provider
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	begin := time.Now()
	var err error
	if repoRoot, err = testenv.FindRepoRoot("."); err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		return 1
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "console: headless Chromium is missing (%v); run hack/ensure-chromium.sh\n", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	bins, err := testenv.BuildBinaries(ctx, repoRoot, filepath.Join(repoRoot, "_output", "console", "bin"), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: building the binaries: %v\n", err)
		return 1
	}
	workDir, err := os.MkdirTemp("", "janus-console-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)

	bed, err = testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: bins, Progress: os.Stderr,
		Targets: []testenv.TargetSpec{{Name: "dev"}},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: starting the testbed: %v\n", err)
		return 1
	}
	defer func() {
		if err := bed.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "console: stopping the testbed: %v\n", err)
		}
	}()

	stopConsole, err := startConsole(ctx, workDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		return 1
	}
	defer stopConsole()
	fmt.Fprintf(os.Stderr, "console: ready after %s (console %s, provider %s)\n", time.Since(begin).Round(10*time.Millisecond), consoleURL, provider.Issuer)
	code := m.Run()
	fmt.Fprintf(os.Stderr, "console: whole run %s\n", time.Since(begin).Round(10*time.Millisecond))
	return code
}

// consoleIdentity applies artifacts/console's ServiceAccount and
// impersonation ClusterRole and returns a client configuration holding a
// token of that ServiceAccount: the console's only own rights.
func consoleIdentity(ctx context.Context) (*rest.Config, error) {
	admin, err := bed.RESTConfigFor("admin")
	if err != nil {
		return nil, err
	}
	objs, err := testenv.ReadManifests(
		filepath.Join(repoRoot, "artifacts", "console", "serviceaccount.yaml"),
		filepath.Join(repoRoot, "artifacts", "console", "rbac.yaml"))
	if err != nil {
		return nil, err
	}
	applier, err := testenv.NewApplier(admin)
	if err != nil {
		return nil, err
	}
	if err := applier.Apply(ctx, objs); err != nil {
		return nil, fmt.Errorf("applying artifacts/console: %w", err)
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	expiry := int64(3600)
	tr, err := kube.CoreV1().ServiceAccounts("janus").CreateToken(ctx, "janus-console", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("issuing the console's token: %w", err)
	}
	cfg := &rest.Config{Host: admin.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}, QPS: -1}
	return cfg, nil
}

// demoUsers are the testbed's demo users as the provider knows them: the
// same names, UIDs (as sub) and groups.
func demoUsers() []testprovider.User {
	var users []testprovider.User
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		u, _ := testenv.UserNamed(name)
		users = append(users, testprovider.User{
			Username: u.Name, Password: u.Name + passwordSuffix, Subject: u.UID,
			Email: u.Name + "@janus.example", Groups: u.Groups,
		})
	}
	return users
}

func startConsole(ctx context.Context, workDir string) (func(), error) {
	base, err := consoleIdentity(ctx)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// localhost is a secure context, so Chromium keeps the Secure
	// __Host- cookies over plain HTTP.
	consoleURL = "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	provider, err = testprovider.Start(testprovider.Config{
		Users:   demoUsers(),
		Clients: []testprovider.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{consoleURL + "/auth/callback"}}},
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	key, err := cookie.NewKey()
	if err != nil {
		return nil, err
	}
	keysFile := filepath.Join(workDir, "console-cookie-keys")
	secretFile := filepath.Join(workDir, "console-client-secret")
	if err := os.WriteFile(keysFile, []byte(key+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		return nil, err
	}
	o := server.NewOptions()
	o.IssuerURL = provider.Issuer
	o.ClientID = clientID
	o.ClientSecretFile = secretFile
	o.UsernameClaim = "preferred_username"
	o.UsernamePrefix = "-"
	o.GroupsClaim = "groups"
	o.ExtraScopes = []string{testprovider.GroupsScope}
	o.AllowedEmailDomains = []string{"janus.example"}
	o.CookieKeysFile = keysFile
	o.PublicURL = consoleURL
	o.HTTPPort = ln.Addr().(*net.TCPAddr).Port
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg, err := o.Config(ctx, base)
	if err != nil {
		return nil, err
	}
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cfg.Serve(serveCtx, ln, false) }()
	return func() {
		stop()
		if err := <-done; err != nil && !strings.Contains(err.Error(), "closed") {
			fmt.Fprintf(os.Stderr, "console: serving: %v\n", err)
		}
		_ = provider.Close()
	}, nil
}
