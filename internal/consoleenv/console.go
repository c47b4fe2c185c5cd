package consoleenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/cookie"
	"github.com/infroware/janus/pkg/console/server"
	"github.com/infroware/janus/pkg/console/testprovider"
)

// ClientID is the console's client registration at the provider.
const ClientID = "janus-console"

// Config says where the console and its provider listen.
type Config struct {
	// RepoRoot holds artifacts/console.
	RepoRoot string
	// WorkDir receives the console's files, readable by the owner only:
	// its cookie key, client secret and ServiceAccount token.
	WorkDir string
	// ConsoleAddr and ProviderAddr are loopback host:port addresses;
	// empty means a free port of 127.0.0.1.
	ConsoleAddr  string
	ProviderAddr string
	// FallBackToFreePort makes a taken ConsoleAddr or ProviderAddr no
	// error: a free port is used instead, and Console.Notices say so.
	FallBackToFreePort bool
	// TokenLifetime is that of the console's ServiceAccount tokens, which
	// are renewed as they age; an hour if zero.
	TokenLifetime time.Duration
	// KubeAuth is the console's --kube-auth; empty for impersonation. With
	// server.KubeAuthToken the provider serves HTTPS, the central
	// kube-apiserver is made to trust it, and the console runs with no
	// credentials of its own.
	KubeAuth string
	// ReplicaOf, when set, starts another replica of that console: the
	// same provider, client registration, cookie keys and shared
	// sign-outs, its own address and ServiceAccount token.
	ReplicaOf *Console
}

// SignoutConfigMap is where the consoles share sign-outs
// (artifacts/console/signouts.yaml).
const SignoutConfigMap = "janus/janus-console-signouts"

// Console is a running console and its OpenID provider.
type Console struct {
	// URL is where browsers open the console: http://localhost:<port>.
	// localhost is a secure context, so Chromium keeps the console's
	// Secure __Host- cookies over plain HTTP.
	URL string
	// Provider is the OpenID provider people sign in at.
	Provider *testprovider.Provider
	// Users are the people who may sign in, with their demo passwords.
	Users []testprovider.User
	// Notices say where a component listens other than asked.
	Notices []string

	// secret and keysFile are shared with replicas; a replica does not
	// own the provider.
	secret         string
	keysFile       string
	sharedProvider bool

	stop     context.CancelFunc
	served   chan struct{}
	serveErr error
	stopOnce sync.Once
	stopErr  error
}

// Start starts the provider and the console over tb; Stop ends both.
func Start(ctx context.Context, tb *testenv.Testbed, cfg Config) (*Console, error) {
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.TokenLifetime < 10*time.Minute {
		// The kube-apiserver's minimum for a TokenRequest.
		return nil, fmt.Errorf("the console's token lifetime %s is below the minimum of 10m", cfg.TokenLifetime)
	}
	tokenMode := cfg.KubeAuth == server.KubeAuthToken
	if tokenMode && cfg.ReplicaOf != nil {
		return nil, errors.New("replicas of a token-mode console are not supported here")
	}
	var (
		id   *identity
		base *rest.Config
		err  error
	)
	if tokenMode {
		// Where kube-apiserver is and its CA: nothing to authenticate with.
		admin, err := tb.RESTConfigFor("admin")
		if err != nil {
			return nil, err
		}
		base = rest.AnonymousClientConfig(admin)
	} else if id, base, err = newIdentity(ctx, tb, cfg.RepoRoot, cfg.WorkDir, cfg.TokenLifetime); err != nil {
		return nil, err
	}
	c := &Console{Users: DemoUsers(), served: make(chan struct{})}
	ln, notice, err := listenLoopback("the console", cfg.ConsoleAddr, cfg.FallBackToFreePort)
	if err != nil {
		return nil, err
	}
	c.addNotice(notice)
	c.URL = fmt.Sprintf("http://localhost:%d", port(ln))

	if r := cfg.ReplicaOf; r != nil {
		c.secret, c.keysFile, c.Provider, c.sharedProvider = r.secret, r.keysFile, r.Provider, true
	} else if c.secret, err = randomSecret(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	secret := c.secret
	var tlsFiles *providerTLS
	if tokenMode {
		if tlsFiles, err = newProviderTLS(cfg.WorkDir); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	if c.Provider == nil {
		if c.Provider, err = startProvider(cfg, c, secret, tlsFiles); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	if tokenMode {
		if err := trustProvider(ctx, tb, c, secret, tlsFiles); err != nil {
			_ = ln.Close()
			_ = c.Provider.Close()
			return nil, err
		}
	}
	console, err := configure(ctx, cfg, c, secret, port(ln), base, tlsFiles)
	if err != nil {
		_ = ln.Close()
		c.closeProvider()
		return nil, err
	}

	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	if id != nil {
		go id.keepRenewing(serveCtx)
	}
	go func() {
		defer close(c.served)
		c.serveErr = console.Serve(serveCtx, ln, false)
	}()
	if err := c.awaitHealthy(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// startProvider starts the provider with the demo users and the console
// as its one client.
func startProvider(cfg Config, c *Console, secret string, tlsFiles *providerTLS) (*testprovider.Provider, error) {
	pc := testprovider.Config{
		Users:   c.Users,
		Clients: []testprovider.Client{{ID: ClientID, Secret: secret, RedirectURIs: []string{c.URL + "/auth/callback"}}},
		Addr:    cfg.ProviderAddr,
	}
	if tlsFiles != nil {
		pc.TLSCertPEM, pc.TLSKeyPEM = tlsFiles.certPEM, tlsFiles.keyPEM
	}
	if pc.Addr == "" {
		pc.Addr = anyLoopbackPort
	}
	if err := checkLoopback(pc.Addr); err != nil {
		return nil, fmt.Errorf("the OpenID provider: %w", err)
	}
	p, err := testprovider.Start(pc)
	if err != nil && cfg.FallBackToFreePort && errors.Is(err, syscall.EADDRINUSE) {
		asked := pc.Addr
		pc.Addr = anyLoopbackPort
		if p, err = testprovider.Start(pc); err == nil {
			c.addNotice(fmt.Sprintf("the OpenID provider: %s is taken, so it is at %s instead", asked, p.Issuer))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("starting the OpenID provider: %w", err)
	}
	return p, nil
}

// configure assembles the console as janus-console's flags would: the
// provider's groups claim, no username prefix (the demo users' names are
// their Kubernetes names), only the demo e-mail domain.
func configure(ctx context.Context, cfg Config, c *Console, secret string, httpPort int, base *rest.Config, tlsFiles *providerTLS) (*server.Config, error) {
	workDir := cfg.WorkDir
	if c.keysFile == "" {
		key, err := cookie.NewKey()
		if err != nil {
			return nil, fmt.Errorf("making the console's cookie key: %w", err)
		}
		c.keysFile = filepath.Join(workDir, "console-cookie-keys")
		if err := writeSecretFile(c.keysFile, key); err != nil {
			return nil, fmt.Errorf("writing the console's cookie key: %w", err)
		}
	}
	keysFile := c.keysFile
	secretFile := filepath.Join(workDir, "console-client-secret")
	if err := writeSecretFile(secretFile, secret); err != nil {
		return nil, fmt.Errorf("writing the console's client secret: %w", err)
	}
	o := server.NewOptions()
	o.IssuerURL = c.Provider.Issuer
	o.ClientID = ClientID
	o.ClientSecretFile = secretFile
	o.UsernameClaim = "preferred_username"
	o.UsernamePrefix = "-"
	o.GroupsClaim = "groups"
	o.ExtraScopes = []string{testprovider.GroupsScope}
	o.AllowedEmailDomains = []string{EmailDomain}
	o.CookieKeysFile = keysFile
	o.PublicURL = c.URL
	o.HTTPPort = httpPort
	if cfg.KubeAuth != "" {
		o.KubeAuth = cfg.KubeAuth
	}
	if o.KubeAuth != server.KubeAuthToken {
		// A token-mode console has no credentials to read it with.
		o.SignoutConfigMap = SignoutConfigMap
	}
	if tlsFiles != nil {
		o.IssuerCAFile = tlsFiles.caFile
	}
	if err := o.Complete(); err != nil {
		return nil, fmt.Errorf("completing the console's options: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("validating the console's options: %w", err)
	}
	assembled, err := o.Config(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("assembling the console: %w", err)
	}
	return assembled, nil
}

func (c *Console) addNotice(n string) {
	if n != "" {
		c.Notices = append(c.Notices, n)
	}
}

// awaitHealthy polls the console's /healthz until it answers, it stops
// serving, or ctx ends.
func (c *Console) awaitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return testenv.WaitUntil(ctx, "the console answering "+c.URL+"/healthz", nil, func(ctx context.Context) error {
		if err := c.Exited(); err != nil {
			return testenv.Permanent(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/healthz", nil)
		if err != nil {
			return testenv.Permanent(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz answered %s", resp.Status)
		}
		return nil
	})
}

// Exited is nil while the console serves, and why it stopped otherwise.
func (c *Console) Exited() error {
	select {
	case <-c.served:
		if c.serveErr != nil {
			return fmt.Errorf("the console stopped serving: %w", c.serveErr)
		}
		return errors.New("the console stopped serving")
	default:
		return nil
	}
}

// Stop stops the console, then the provider; it may be called again.
func (c *Console) Stop() error {
	c.stopOnce.Do(func() {
		c.stop()
		<-c.served
		var errs []error
		if c.serveErr != nil && !errors.Is(c.serveErr, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("serving the console: %w", c.serveErr))
		}
		if !c.sharedProvider {
			if err := c.Provider.Close(); err != nil {
				errs = append(errs, fmt.Errorf("stopping the OpenID provider: %w", err))
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

func (c *Console) closeProvider() {
	if !c.sharedProvider {
		_ = c.Provider.Close()
	}
}

func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the console's client secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
