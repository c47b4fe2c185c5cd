package selfmanaged

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/keyutil"

	"github.com/infroware/janus/internal/testenv"
	janusclient "github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/selfcert"
)

const apiServiceName = "v1alpha1.janus.infroware.io"

var bed *testenv.Testbed

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	repoRoot, err := testenv.FindRepoRoot(".")
	if err != nil {
		fmt.Fprintf(os.Stderr, "selfmanaged: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bins, err := testenv.BuildBinaries(ctx, repoRoot, filepath.Join(repoRoot, "_output", "selfmanaged", "bin"), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "selfmanaged: building binaries: %v\n", err)
		return 1
	}
	workDir, err := os.MkdirTemp("", "janus-selfmanaged-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "selfmanaged: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	bed, err = testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: bins, Progress: os.Stderr,
		SelfManagedTLS: true,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "selfmanaged: starting the testbed: %v\n", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "selfmanaged: janus-apiserver's log:\n%s\n", testenv.TailFile(filepath.Join(bed.LogDir(), "janus-apiserver.log"), 60))
	}
	if err := bed.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "selfmanaged: stopping the testbed: %v\n", err)
		code = 1
	}
	return code
}

type clients struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	janus   janusclient.Interface
}

func adminClients(t *testing.T) clients {
	t.Helper()
	cfg, err := bed.RESTConfigFor("admin")
	if err != nil {
		t.Fatal(err)
	}
	return clients{kube: kubernetes.NewForConfigOrDie(cfg), dynamic: dynamic.NewForConfigOrDie(cfg), janus: janusclient.NewForConfigOrDie(cfg)}
}

func (c clients) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s, err := c.kube.CoreV1().Secrets("janus").Get(context.Background(), testenv.SelfManagedTLSSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// apiServiceState is nil when the APIService is Available with a caBundle
// equal to want, and otherwise says what it is instead.
func (c clients) apiServiceState(ctx context.Context, want []byte) error {
	obj, err := c.dynamic.Resource(selfcert.APIServicesResource).Get(ctx, apiServiceName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if skip, _, _ := unstructured.NestedBool(obj.Object, "spec", "insecureSkipTLSVerify"); skip {
		return testenv.Permanent(errors.New("spec.insecureSkipTLSVerify is set"))
	}
	encoded, _, _ := unstructured.NestedString(obj.Object, "spec", "caBundle")
	got, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("spec.caBundle is not the Secret's ca.crt (%d bytes, want %d)", len(got), len(want))
	}
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] == "Available" {
			if cond["status"] == "True" {
				return nil
			}
			return fmt.Errorf("Available is %v: %v: %v", cond["status"], cond["reason"], cond["message"])
		}
	}
	return errors.New("no Available condition")
}

// served is the certificate janus-apiserver presents for its Service name.
func served(ctx context.Context, caPEM []byte) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	dialer := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: testenv.JanusServerName, MinVersion: tls.VersionTLS12}}
	conn, err := dialer.DialContext(ctx, "tcp", bed.JanusAddress())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func TestAPIServiceIsAvailableWithTheCABundleJanusWrote(t *testing.T) {
	c := adminClients(t)
	s := c.secret(t)
	if s.Labels[selfcert.ManagedByLabel] != selfcert.ManagedByValue || s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret labels %v type %q, want a kubernetes.io/tls Secret managed by janus-apiserver", s.Labels, s.Type)
	}
	if err := c.apiServiceState(context.Background(), s.Data[selfcert.CABundleKey]); err != nil {
		t.Fatal(err)
	}
	// Through the aggregator, which verified Janus with that bundle.
	if _, err := c.janus.JanusV1alpha1().Clusters().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("listing Clusters through kube-apiserver: %v", err)
	}
	leaf, err := served(context.Background(), s.Data[selfcert.CABundleKey])
	if err != nil {
		t.Fatalf("janus-apiserver's certificate for %s: %v", testenv.JanusServerName, err)
	}
	if !bytes.Equal(leaf.Raw, pemBlock(t, s.Data[corev1.TLSCertKey])) {
		t.Errorf("janus-apiserver serves another certificate than the Secret's")
	}
}

func TestJanusServesANewCertificateFromTheSecretWithoutRestarting(t *testing.T) {
	c := adminClients(t)
	s := c.secret(t)
	certPEM, keyPEM := signServing(t, s.Data[selfcert.SigningCertKey], s.Data[selfcert.SigningKeyKey])
	s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey] = certPEM, keyPEM
	if _, err := c.kube.CoreV1().Secrets("janus").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := pemBlock(t, certPEM)
	err := testenv.WaitUntil(context.Background(), "janus-apiserver to serve the certificate put into the Secret", nil, func(ctx context.Context) error {
		leaf, err := served(ctx, s.Data[selfcert.CABundleKey])
		if err != nil {
			return err
		}
		if !bytes.Equal(leaf.Raw, want) {
			return fmt.Errorf("still serving serial %s", leaf.SerialNumber)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if name := bed.Exited(); name != "" {
		t.Fatalf("%s exited", name)
	}
	if _, err := c.janus.JanusV1alpha1().Clusters().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("listing Clusters through kube-apiserver with the new certificate: %v", err)
	}
}

func TestJanusPutsTheCABundleBack(t *testing.T) {
	c := adminClients(t)
	other, err := testenv.NewCA("not-janus")
	if err != nil {
		t.Fatal(err)
	}
	patch := fmt.Sprintf(`{"spec":{"caBundle":%q}}`, base64.StdEncoding.EncodeToString(other.CertPEM))
	if _, err := c.dynamic.Resource(selfcert.APIServicesResource).Patch(context.Background(), apiServiceName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	want := c.secret(t).Data[selfcert.CABundleKey]
	if err := testenv.WaitUntil(context.Background(), "the caBundle to be Janus's again and Available", nil, func(ctx context.Context) error {
		return c.apiServiceState(ctx, want)
	}); err != nil {
		t.Fatal(err)
	}
}

func pemBlock(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM block in %q", data)
	}
	return block.Bytes
}

// signServing signs a serving certificate with the Secret's CA, as a
// rotation by another replica would have.
func signServing(t *testing.T, caCertPEM, caKeyPEM []byte) (certPEM, keyPEM []byte) {
	t.Helper()
	caCert, err := x509.ParseCertificate(pemBlock(t, caCertPEM))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := keyutil.ParsePrivateKeyPEM(caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: testenv.JanusServerName},
		DNSNames:     []string{testenv.JanusServerName},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM
}
