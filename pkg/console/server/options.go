package server

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Options are the flags of janus-console.
type Options struct {
	IssuerURL        string
	IssuerCAFile     string
	ClientID         string
	ClientSecretFile string
	UsernameClaim    string
	UsernamePrefix   string
	GroupsClaim      string
	GroupsPrefix     string
	UIDClaim         string
	ExtraScopes      []string

	// GitHub sign-in, instead of an OpenID Connect issuer.
	GitHubClientID         string
	GitHubClientSecretFile string
	GitHubURL              string
	GitHubAPIURL           string
	GitHubOrgs             []string
	GitHubUsernamePrefix   string
	GitHubGroupsPrefix     string

	AllowedEmailDomains []string
	SessionLifetime     time.Duration
	CookieKeysFile      string

	// Kubeconfig is the console's own identity, which may only impersonate;
	// empty for the in-cluster ServiceAccount.
	Kubeconfig string
	// SignoutConfigMap is namespace/name of the ConfigMap the replicas
	// share sign-outs through; empty for this replica only.
	SignoutConfigMap string
	// KubeAuth is how the console acts as a person: KubeAuthImpersonate or
	// KubeAuthToken.
	KubeAuth string

	PublicURL    string
	BindAddress  string
	SecurePort   int
	TLSCertFile  string
	TLSKeyFile   string
	HTTPPort     int
	ShutdownWait time.Duration

	// Set by Complete.
	clientSecret string
}

// The ways the console acts as the signed-in person.
const (
	// KubeAuthImpersonate: the console's own credentials plus impersonation
	// headers built from the verified identity.
	KubeAuthImpersonate = "impersonate"
	// KubeAuthToken: the person's own ID token, for a kube-apiserver that
	// trusts the same issuer; the console needs no rights of its own.
	KubeAuthToken = "token"
)

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		UsernameClaim:        "email",
		KubeAuth:             KubeAuthImpersonate,
		GitHubURL:            "https://github.com",
		GitHubUsernamePrefix: "github:",
		GitHubGroupsPrefix:   "github:",
		SessionLifetime:      8 * time.Hour,
		BindAddress:          "0.0.0.0",
		SecurePort:           8443,
		ShutdownWait:         5 * time.Second,
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.IssuerURL, "oidc-issuer-url", o.IssuerURL, "URL of the OpenID Connect issuer people sign in with (https; discovery at <url>/.well-known/openid-configuration).")
	fs.StringVar(&o.IssuerCAFile, "oidc-ca-file", o.IssuerCAFile, "CA bundle (PEM) verifying the issuer's serving certificate, as kube-apiserver's flag of the same name; empty for the system's roots.")
	fs.StringVar(&o.ClientID, "oidc-client-id", o.ClientID, "Client ID the console is registered with at the issuer; ID tokens must be issued to it (aud).")
	fs.StringVar(&o.ClientSecretFile, "oidc-client-secret-file", o.ClientSecretFile, "File holding the client secret (mount it from a Secret; it never goes in the command line). Read once at start: a new secret takes a restart.")
	fs.StringVar(&o.UsernameClaim, "oidc-username-claim", o.UsernameClaim, "ID token claim used as the Kubernetes username, as kube-apiserver's flag of the same name.")
	fs.StringVar(&o.UsernamePrefix, "oidc-username-prefix", o.UsernamePrefix, "Prefix of usernames; empty for kube-apiserver's default (none for email, '<issuer>#' otherwise), '-' for none.")
	fs.StringVar(&o.GroupsClaim, "oidc-groups-claim", o.GroupsClaim, "ID token claim holding the user's groups (a string or a list of strings).")
	fs.StringVar(&o.GroupsPrefix, "oidc-groups-prefix", o.GroupsPrefix, "Prefix of every group.")
	fs.StringVar(&o.UIDClaim, "oidc-uid-claim", "sub", "ID token claim used as the user's UID; '-' for none.")
	fs.StringSliceVar(&o.ExtraScopes, "oidc-extra-scopes", o.ExtraScopes, "Scopes asked for besides openid, email and profile (e.g. groups).")
	fs.StringVar(&o.GitHubClientID, "github-client-id", o.GitHubClientID, "Sign people in with GitHub (an OAuth App, callback <public-url>/auth/callback) instead of an OpenID Connect issuer: the app's client ID.")
	fs.StringVar(&o.GitHubClientSecretFile, "github-client-secret-file", o.GitHubClientSecretFile, "File holding the GitHub OAuth App's client secret. Read once at start: a new secret takes a restart.")
	fs.StringVar(&o.GitHubURL, "github-url", o.GitHubURL, "GitHub's address, or a GitHub Enterprise Server's.")
	fs.StringVar(&o.GitHubAPIURL, "github-api-url", o.GitHubAPIURL, "GitHub's REST API; empty for https://api.github.com with github.com, <github-url>/api/v3 otherwise.")
	fs.StringSliceVar(&o.GitHubOrgs, "github-orgs", o.GitHubOrgs, "If set, only members of one of these GitHub organizations may sign in, and only these organizations and their teams become groups.")
	fs.StringVar(&o.GitHubUsernamePrefix, "github-username-prefix", o.GitHubUsernamePrefix, "Prefix of GitHub logins as Kubernetes usernames; '-' for none.")
	fs.StringVar(&o.GitHubGroupsPrefix, "github-groups-prefix", o.GitHubGroupsPrefix, "Prefix of the groups made of GitHub organizations (org) and teams (org:team); '-' for none.")
	fs.StringSliceVar(&o.AllowedEmailDomains, "allowed-email-domains", o.AllowedEmailDomains, "If set, only people whose ID token email is in one of these domains may sign in.")
	fs.DurationVar(&o.SessionLifetime, "session-lifetime", o.SessionLifetime, "How long a sign-in lasts.")
	fs.StringVar(&o.CookieKeysFile, "cookie-keys-file", o.CookieKeysFile, "File of 32-byte keys (hex or base64, one a line) sealing the cookies; the first seals, all open, so keys rotate.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the console's own identity, which needs only the impersonate rights of artifacts/console/rbac.yaml; empty for in-cluster.")
	fs.StringVar(&o.SignoutConfigMap, "signout-configmap", o.SignoutConfigMap, "namespace/name of a ConfigMap through which replicas share sign-outs (artifacts/console/signouts.yaml; the console's own credentials need get, list, watch and update on it); empty keeps sign-outs in this replica only.")
	fs.StringVar(&o.KubeAuth, "kube-auth", o.KubeAuth, "How the console acts as the signed-in person: 'impersonate' (its own credentials plus impersonation headers) or 'token' (the person's own ID token, for a kube-apiserver whose --authentication-config trusts the same issuer and client ID; the console then needs no rights, and a sign-in ends when the ID token expires).")
	fs.StringVar(&o.PublicURL, "public-url", o.PublicURL, "URL browsers reach the console at; <public-url>/auth/callback is the redirect URL to register at the issuer.")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "Address to listen on.")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "HTTPS port (with --tls-cert-file and --tls-private-key-file).")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", o.TLSCertFile, "Serving certificate (PEM).")
	fs.StringVar(&o.TLSKeyFile, "tls-private-key-file", o.TLSKeyFile, "Serving certificate's private key (PEM).")
	fs.IntVar(&o.HTTPPort, "http-port", o.HTTPPort, "Serve plain HTTP on this port instead of HTTPS, behind a proxy that terminates TLS for --public-url (cookies stay Secure); 0 for HTTPS only.")
}

// Complete reads the client secret.
func (o *Options) Complete() error {
	o.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
	flag, file := "--oidc-client-secret-file", o.ClientSecretFile
	if o.GitHubClientID != "" {
		flag, file = "--github-client-secret-file", o.GitHubClientSecretFile
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("reading %s: %w", flag, err)
		}
		o.clientSecret = strings.TrimSpace(string(b))
	}
	return nil
}

// Validate reports every invalid flag.
func (o *Options) Validate() error {
	var errs []error
	switch {
	case o.GitHubClientID != "" && o.IssuerURL != "":
		errs = append(errs, errors.New("--oidc-issuer-url and --github-client-id are exclusive: sign people in with one"))
	case o.GitHubClientID != "":
		if o.GitHubClientSecretFile == "" {
			errs = append(errs, errors.New("--github-client-secret-file is required with --github-client-id"))
		} else if o.clientSecret == "" {
			errs = append(errs, errors.New("--github-client-secret-file holds no secret"))
		}
		if u, err := url.Parse(o.GitHubURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("--github-url %q must be an absolute http(s) URL", o.GitHubURL))
		}
	default:
		if o.IssuerURL == "" {
			errs = append(errs, errors.New("--oidc-issuer-url (or --github-client-id) is required"))
		}
		if o.ClientID == "" {
			errs = append(errs, errors.New("--oidc-client-id is required"))
		}
		if o.ClientSecretFile == "" {
			errs = append(errs, errors.New("--oidc-client-secret-file is required"))
		} else if o.clientSecret == "" {
			errs = append(errs, errors.New("--oidc-client-secret-file holds no secret"))
		}
	}
	switch o.KubeAuth {
	case KubeAuthImpersonate:
	case KubeAuthToken:
		if o.GitHubClientID != "" {
			errs = append(errs, errors.New("--kube-auth=token needs an OpenID Connect issuer: GitHub issues no ID token"))
		}
	default:
		errs = append(errs, fmt.Errorf("--kube-auth %q is neither %q nor %q", o.KubeAuth, KubeAuthImpersonate, KubeAuthToken))
	}
	if o.SignoutConfigMap != "" {
		ns, name, ok := strings.Cut(o.SignoutConfigMap, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			errs = append(errs, fmt.Errorf("--signout-configmap %q is not namespace/name", o.SignoutConfigMap))
		}
	}
	if o.CookieKeysFile == "" {
		errs = append(errs, errors.New("--cookie-keys-file is required"))
	}
	if o.SessionLifetime < time.Minute {
		errs = append(errs, fmt.Errorf("--session-lifetime (%s) must be at least 1m", o.SessionLifetime))
	}
	if u, err := url.Parse(o.PublicURL); o.PublicURL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("--public-url %q must be an absolute http(s) URL", o.PublicURL))
	}
	if o.HTTPPort == 0 {
		if o.TLSCertFile == "" || o.TLSKeyFile == "" {
			errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file are required for HTTPS; or serve plain HTTP behind a TLS proxy with --http-port"))
		}
		if o.SecurePort <= 0 || o.SecurePort > 65535 {
			errs = append(errs, fmt.Errorf("--secure-port %d is not a port", o.SecurePort))
		}
	} else if o.HTTPPort < 0 || o.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("--http-port %d is not a port", o.HTTPPort))
	}
	return errors.Join(errs...)
}
