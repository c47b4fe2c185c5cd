package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/console/cookie"
	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/live"
	"github.com/infroware/janus/pkg/console/pages"
	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/pkg/console/signouts"
	"github.com/infroware/janus/pkg/console/terminal"
	"github.com/infroware/janus/web"
)

// Config is an assembled console, ready to serve.
type Config struct {
	opts     *Options
	handler  http.Handler
	signouts *signouts.Store
	// live ends the pages' streams when the server shuts down.
	live *live.Handler
}

// ContentSecurityPolicy allows scripts, styles and forms from the console
// itself only: no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Config discovers the issuer and assembles the console; base, when not
// nil, replaces the client configuration --kubeconfig gives.
func (o *Options) Config(ctx context.Context, base *rest.Config) (*Config, error) {
	keys, err := cookie.ReadKeys(o.CookieKeysFile)
	if err != nil {
		return nil, err
	}
	sealer, err := cookie.NewSealer(keys)
	if err != nil {
		return nil, err
	}
	if base == nil {
		if base, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("loading the console's own client configuration: %w", err)
		}
	}
	signinCfg := signin.Config{
		IssuerURL: o.IssuerURL, ClientID: o.ClientID, ClientSecret: o.clientSecret,
		PublicURL: o.PublicURL, ExtraScopes: o.ExtraScopes,
		Claims: signin.ClaimMapping{
			UsernameClaim: o.UsernameClaim, UsernamePrefix: o.UsernamePrefix,
			GroupsClaim: o.GroupsClaim, GroupsPrefix: o.GroupsPrefix, UIDClaim: o.UIDClaim,
		},
		AllowedEmailDomains: o.AllowedEmailDomains, SessionLifetime: o.SessionLifetime, Sealer: sealer,
		KeepIDToken: o.KubeAuth == KubeAuthToken,
	}
	if o.GitHubClientID != "" {
		signinCfg.ClientID = o.GitHubClientID
		signinCfg.GitHub = &signin.GitHubConfig{
			URL: o.GitHubURL, APIURL: o.GitHubAPIURL, Orgs: o.GitHubOrgs,
			UsernamePrefix: o.GitHubUsernamePrefix, GroupsPrefix: o.GitHubGroupsPrefix,
		}
	}
	var shared *signouts.Store
	if o.SignoutConfigMap != "" {
		// The console's own credentials, not a person's.
		kube, err := kubernetes.NewForConfig(base)
		if err != nil {
			return nil, fmt.Errorf("building the client of the sign-out ConfigMap: %w", err)
		}
		ns, name, _ := strings.Cut(o.SignoutConfigMap, "/")
		shared = signouts.New(kube, ns, name)
		signinCfg.Revocations = shared
	}
	if o.IssuerCAFile != "" {
		if signinCfg.HTTPClient, err = issuerClient(o.IssuerCAFile); err != nil {
			return nil, err
		}
	}
	auth, err := signin.New(ctx, signinCfg)
	if err != nil {
		return nil, err
	}
	factory := kubeclient.NewFactory(base)
	if o.KubeAuth == KubeAuthToken {
		factory = kubeclient.NewTokenFactory(base)
	}
	p, err := pages.New(web.FS, factory.For, nil)
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(web.FS, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	mux := http.NewServeMux()
	auth.Register(mux)
	p.Register(mux, auth.Require)
	streams := live.New(factory.For, live.Options{SignedIn: auth.SignedIn})
	streams.Register(mux, auth.Require)
	terminals, err := terminal.New(web.FS, factory.ConfigFor, factory.For, terminal.Options{PublicURL: o.PublicURL})
	if err != nil {
		return nil, err
	}
	terminals.Register(mux, auth.Require)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return &Config{opts: o, handler: Protect(mux), signouts: shared, live: streams}, nil
}

// issuerClient talks to the issuer, trusting the CAs in caFile.
func issuerClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading --oidc-ca-file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--oidc-ca-file %s holds no PEM certificate", caFile)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// Protect adds the security headers and refuses cross-origin
// state-changing requests (net/http's CrossOriginProtection: 403).
func Protect(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		protected.ServeHTTP(w, r)
	})
}

// Handler is the console's HTTP handler.
func (c *Config) Handler() http.Handler { return c.handler }

// Run listens as the options say and serves until ctx ends.
func (c *Config) Run(ctx context.Context) error {
	port, tls := c.opts.SecurePort, true
	if c.opts.HTTPPort != 0 {
		port, tls = c.opts.HTTPPort, false
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.opts.BindAddress, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	return c.Serve(ctx, ln, tls)
}

// Serve serves on ln until ctx ends, with TLS from the options if tls.
func (c *Config) Serve(ctx context.Context, ln net.Listener, tls bool) error {
	if c.signouts != nil {
		// Serving before the shared sign-outs are read would let a
		// signed-out cookie back in.
		if err := c.signouts.Run(ctx); err != nil {
			_ = ln.Close()
			return err
		}
	}
	srv := &http.Server{Handler: c.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	srv.RegisterOnShutdown(c.live.Shutdown)
	done := make(chan error, 1)
	go func() {
		if tls {
			done <- srv.ServeTLS(ln, c.opts.TLSCertFile, c.opts.TLSKeyFile)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	klog.InfoS("janus-console serving", "address", ln.Addr().String(), "tls", tls, "publicURL", c.opts.PublicURL)
	select {
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ShutdownWait)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
