package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/infroware/janus/pkg/selfcert"
)

// SelfManagedTLSOptions are the flags of the self-managed serving
// certificate: a CA and certificate janus-apiserver keeps in a Secret of
// the central cluster, with the APIService's caBundle kept to match.
type SelfManagedTLSOptions struct {
	// Secret is --tls-self-managed-secret, namespace/name; empty for off.
	Secret string
	// APIServiceName is the APIService whose spec.caBundle is kept.
	APIServiceName string

	manager *selfcert.Manager
}

// CABundle is the CAs in the Secret as last read, which verify every
// replica's serving certificate; nil before ApplyTo.
func (o *SelfManagedTLSOptions) CABundle() []byte {
	if o.manager == nil {
		return nil
	}
	return o.manager.CABundle()
}

// NewSelfManagedTLSOptions returns the defaults: off.
func NewSelfManagedTLSOptions() *SelfManagedTLSOptions {
	return &SelfManagedTLSOptions{APIServiceName: "v1alpha1.janus.infroware.io"}
}

// AddFlags registers the self-managed certificate flags.
func (o *SelfManagedTLSOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Secret, "tls-self-managed-secret", o.Secret, "Namespace/name of a Secret in the central cluster where janus-apiserver keeps its own CA and serving certificate (for the names in --alternate-dns), creating it if missing, renewing both before they expire and serving the new certificate without a restart. It also keeps spec.caBundle of --apiservice-name equal to the CAs in the Secret. Replicas share the Secret. Excludes --tls-cert-file.")
	fs.StringVar(&o.APIServiceName, "apiservice-name", o.APIServiceName, "The APIService whose spec.caBundle --tls-self-managed-secret keeps.")
}

// Enabled is true with --tls-self-managed-secret.
func (o *SelfManagedTLSOptions) Enabled() bool { return o.Secret != "" }

func (o *SelfManagedTLSOptions) secretRef() (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(o.Secret, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("--tls-self-managed-secret must be namespace/name, not %q", o.Secret)
	}
	return namespace, name, nil
}

// Validate reports problems with the flags; certFile is --tls-cert-file.
func (o *SelfManagedTLSOptions) Validate(certFile string, dnsNames []string) []error {
	if !o.Enabled() {
		return nil
	}
	var errs []error
	if _, _, err := o.secretRef(); err != nil {
		errs = append(errs, err)
	}
	if certFile != "" {
		errs = append(errs, errors.New("--tls-self-managed-secret and --tls-cert-file are mutually exclusive"))
	}
	if len(dnsNames) == 0 {
		errs = append(errs, errors.New("--tls-self-managed-secret needs --alternate-dns with the names the aggregator dials, at least <service>.<namespace>.svc (janus-apiserver.janus.svc)"))
	}
	if o.APIServiceName == "" {
		errs = append(errs, errors.New("--apiservice-name must not be empty"))
	}
	return errs
}

// ApplyTo makes the server serve the Secret's certificate. The generic
// server primes it before it listens and runs it while it serves.
func (o *SelfManagedTLSOptions) ApplyTo(config *genericapiserver.RecommendedConfig, dnsNames []string) error {
	if !o.Enabled() {
		return nil
	}
	if config.ClientConfig == nil || config.SecureServing == nil {
		return errors.New("--tls-self-managed-secret needs a client of the central cluster (--kubeconfig or in-cluster config) and secure serving")
	}
	namespace, name, err := o.secretRef()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config.ClientConfig)
	if err != nil {
		return fmt.Errorf("building client for the self-managed certificate: %w", err)
	}
	dyn, err := dynamic.NewForConfig(config.ClientConfig)
	if err != nil {
		return fmt.Errorf("building client for the APIService: %w", err)
	}
	manager, err := selfcert.New(selfcert.Config{
		Client: client, Dynamic: dyn,
		Namespace: namespace, Name: name, APIServiceName: o.APIServiceName,
		DNSNames: dnsNames,
	})
	if err != nil {
		return err
	}
	config.SecureServing.Cert = manager
	o.manager = manager
	return nil
}
