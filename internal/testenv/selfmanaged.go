package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// SelfManagedTLSSecret is the Secret janus-apiserver keeps its own CA and
// serving certificate in when TestbedConfig.SelfManagedTLS is set: the
// one artifacts/central/apiserver-rbac.yaml lets it keep.
const SelfManagedTLSSecret = "janus-apiserver-selfcert"

// JanusServerName is the name the aggregator checks janus-apiserver's
// certificate for: its Service's.
const JanusServerName = janusServiceName + "." + janusNamespace + ".svc"

// selfManagedArgs replace the serving certificate files: janus-apiserver
// makes its certificate itself and the testbed learns the CA from the
// Secret.
func selfManagedArgs() []string {
	return []string{
		"--tls-self-managed-secret=" + janusNamespace + "/" + SelfManagedTLSSecret,
		"--apiservice-name=" + janusAPIServiceName,
		"--alternate-dns=" + JanusServerName,
	}
}

// waitSelfManagedServing waits for the Secret, then for /readyz over TLS
// verified against the Secret's CAs for the Service's name, and copies the
// CAs to JanusCAFile.
func (tb *Testbed) waitSelfManagedServing(ctx context.Context, p *Process) error {
	cs, err := kubernetes.NewForConfig(tb.bootstrapConfig())
	if err != nil {
		return fmt.Errorf("building client: %w", err)
	}
	var caPEM []byte
	err = WaitUntil(ctx, "Secret "+janusNamespace+"/"+SelfManagedTLSSecret+" with a CA", p, func(ctx context.Context) error {
		s, err := cs.CoreV1().Secrets(janusNamespace).Get(ctx, SelfManagedTLSSecret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if caPEM = s.Data["ca.crt"]; len(caPEM) == 0 {
			return errors.New("no ca.crt yet")
		}
		return nil
	})
	if err != nil {
		return err
	}
	client, err := SelfManagedClient(caPEM)
	if err != nil {
		return err
	}
	err = WaitUntil(ctx, p.Name+" /readyz", p, func(ctx context.Context) error {
		return getOK(ctx, client, "https://"+tb.JanusAddress()+"/readyz")
	})
	if err != nil {
		return err
	}
	return os.WriteFile(tb.JanusCAFile(), caPEM, 0o600)
}

// SelfManagedClient trusts only caPEM and checks the certificate for
// JanusServerName, as the aggregator does, whatever address it dials.
func SelfManagedClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in PEM data")
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, ServerName: JanusServerName, MinVersion: tls.VersionTLS12,
		}},
	}, nil
}
