package selfcert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/cert"
	testingclock "k8s.io/utils/clock/testing"
)

const (
	testNamespace  = "janus"
	testSecret     = "janus-apiserver-selfcert"
	testAPIService = "v1alpha1.janus.infroware.io"
	testDNSName    = "janus-apiserver.janus.svc"
)

// testbed is one central cluster (fake clients) that replicas share.
type testbed struct {
	t       *testing.T
	clock   *testingclock.FakeClock
	client  *fake.Clientset
	dynamic *dynamicfake.FakeDynamicClient
}

func newTestbed(t *testing.T, objects ...runtime.Object) *testbed {
	t.Helper()
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": testAPIService, "resourceVersion": "1"},
		"spec": map[string]any{
			"group": "janus.infroware.io", "version": "v1alpha1",
			"service": map[string]any{"name": "janus-apiserver", "namespace": testNamespace, "port": int64(443)},
		},
	}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{APIServicesResource: "APIServiceList"}, apiService)
	return &testbed{
		t:       t,
		clock:   testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		client:  fake.NewClientset(objects...),
		dynamic: dyn,
	}
}

// replica is one janus-apiserver's Manager on the testbed.
func (b *testbed) replica() *Manager {
	b.t.Helper()
	m, err := New(Config{
		Client: b.client, Dynamic: b.dynamic,
		Namespace: testNamespace, Name: testSecret, APIServiceName: testAPIService,
		DNSNames: []string{testDNSName}, Clock: b.clock,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return m
}

func (b *testbed) sync(m *Manager) {
	b.t.Helper()
	if _, err := m.Sync(context.Background()); err != nil {
		b.t.Fatalf("sync at %s: %v", b.clock.Now(), err)
	}
}

func (b *testbed) secret() *corev1.Secret {
	b.t.Helper()
	s, err := b.client.CoreV1().Secrets(testNamespace).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *testbed) caBundle() []*x509.Certificate {
	b.t.Helper()
	obj, err := b.dynamic.Resource(APIServicesResource).Get(context.Background(), testAPIService, metav1.GetOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	encoded, _, _ := unstructured.NestedString(obj.Object, "spec", "caBundle")
	pemBytes, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		b.t.Fatalf("caBundle is not base64: %v", err)
	}
	certs, err := cert.ParseCertsPEM(pemBytes)
	if err != nil {
		b.t.Fatalf("caBundle %q: %v", encoded, err)
	}
	return certs
}

func (b *testbed) writes() int {
	n := 0
	for _, a := range b.client.Actions() {
		if a.GetResource().Resource == "secrets" && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			n++
		}
	}
	return n
}

// served parses what the Manager serves and checks the APIService's
// bundle verifies it for testDNSName at the fake clock's time.
func (b *testbed) served(m *Manager) *x509.Certificate {
	b.t.Helper()
	certPEM, keyPEM := m.CurrentCertKeyContent()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.t.Fatalf("served certificate and key: %v", err)
	}
	leaf := pair.Leaf
	roots := x509.NewCertPool()
	for _, ca := range b.caBundle() {
		roots.AddCert(ca)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: testDNSName, CurrentTime: b.clock.Now()}); err != nil {
		b.t.Fatalf("the APIService's caBundle does not verify the served certificate at %s: %v", b.clock.Now(), err)
	}
	return leaf
}

type countingListener struct{ n int }

func (l *countingListener) Enqueue() { l.n++ }

func TestFirstReplicaCreatesTheSecretAndSetsTheCABundle(t *testing.T) {
	b := newTestbed(t)
	m := b.replica()
	if got := m.CABundle(); len(got) != 0 {
		t.Errorf("CABundle before the first Sync: %q", got)
	}
	b.sync(m)
	s := b.secret()
	if got := string(m.CABundle()); got != string(s.Data[CABundleKey]) {
		t.Errorf("CABundle %q, want the Secret's %s %q", got, CABundleKey, s.Data[CABundleKey])
	}
	if s.Type != corev1.SecretTypeTLS || s.Labels[ManagedByLabel] != ManagedByValue {
		t.Errorf("Secret type %q labels %v, want kubernetes.io/tls managed by %s", s.Type, s.Labels, ManagedByValue)
	}
	if got := b.caBundle(); len(got) != 1 || string(s.Data[CABundleKey]) != string(s.Data[SigningCertKey]) {
		t.Errorf("caBundle holds %d CAs; want the one signing CA", len(got))
	}
	leaf := b.served(m)
	if life := leaf.NotAfter.Sub(b.clock.Now()); life != DefaultLifetimes.Serving {
		t.Errorf("serving certificate lives %s, want %s", life, DefaultLifetimes.Serving)
	}
}

func TestServingCertificateIsRotatedAtTwoThirdsOfItsLife(t *testing.T) {
	b := newTestbed(t)
	m := b.replica()
	var l countingListener
	m.AddListener(&l)
	b.sync(m)
	first := b.served(m)
	ca := string(b.secret().Data[SigningCertKey])
	renewAt := first.NotBefore.Add(first.NotAfter.Sub(first.NotBefore) * 2 / 3)

	b.clock.SetTime(renewAt.Add(-time.Minute))
	b.sync(m)
	if got := b.served(m); !got.Equal(first) {
		t.Fatalf("serving certificate renewed a minute before two thirds of its life")
	}
	b.clock.SetTime(renewAt)
	due, err := m.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second := b.served(m)
	if second.Equal(first) {
		t.Fatalf("serving certificate not renewed at two thirds of its life (%s)", renewAt)
	}
	if string(b.secret().Data[SigningCertKey]) != ca {
		t.Errorf("the CA changed with the serving certificate")
	}
	if l.n != 2 {
		t.Errorf("listeners told %d times, want 2 (first certificate, renewal)", l.n)
	}
	if want := renewalTime(second); !due.Equal(want) {
		t.Errorf("next sync due %s, want the new certificate's renewal %s", due, want)
	}
}

func TestCARotationTrustsBothCAsDuringTheOverlap(t *testing.T) {
	b := newTestbed(t)
	m := b.replica()
	b.sync(m)
	oldCA := b.caBundle()[0]

	// Two thirds into the CA's life a new CA is trusted, but not used.
	b.clock.SetTime(renewalTime(oldCA))
	b.sync(m)
	bundle := b.caBundle()
	if len(bundle) != 2 || !bundle[0].Equal(oldCA) {
		t.Fatalf("at the CA's renewal the caBundle holds %d CAs (first is old: %v), want old and new", len(bundle), bundle[0].Equal(oldCA))
	}
	newCA := bundle[1]
	if got := string(m.CABundle()); got != string(b.secret().Data[CABundleKey]) {
		t.Errorf("CABundle during the overlap does not follow the Secret's %s", CABundleKey)
	}
	if leaf := b.served(m); !signedBy(leaf, oldCA) {
		t.Fatalf("during the overlap the serving certificate is signed by the new CA")
	}

	// After the overlap the new CA signs; the old one is still trusted.
	b.clock.SetTime(newCA.NotBefore.Add(backdate + DefaultLifetimes.CAOverlap))
	b.sync(m)
	bundle = b.caBundle()
	if len(bundle) != 2 || !bundle[0].Equal(newCA) || !bundle[1].Equal(oldCA) {
		t.Fatalf("after the overlap the caBundle holds %d CAs, want new then old", len(bundle))
	}
	leaf := b.served(m)
	if !signedBy(leaf, newCA) {
		t.Fatalf("after the overlap the serving certificate is not signed by the new CA")
	}
	if b.secret().Data[NextCertKey] != nil {
		t.Errorf("next-ca.crt left in the Secret after the switch")
	}

	// Once nothing the old CA signed can be valid, it is dropped.
	b.clock.SetTime(b.clock.Now().Add(DefaultLifetimes.Serving))
	b.sync(m)
	if bundle = b.caBundle(); len(bundle) != 1 || !bundle[0].Equal(newCA) {
		t.Fatalf("a serving lifetime after the switch the caBundle holds %d CAs, want only the new one", len(bundle))
	}
	if got := string(m.CABundle()); got != string(b.secret().Data[CABundleKey]) {
		t.Errorf("CABundle after the old CA is dropped does not follow the Secret's %s", CABundleKey)
	}
	b.served(m)
}

func TestSecondReplicaAdoptsTheSecretWithoutRegenerating(t *testing.T) {
	b := newTestbed(t)
	first := b.replica()
	b.sync(first)
	before := b.secret()
	writes := b.writes()

	b.clock.Step(time.Hour)
	second := b.replica()
	b.sync(second)
	if b.writes() != writes {
		t.Fatalf("the second replica wrote the Secret (%d writes, was %d)", b.writes(), writes)
	}
	if !sameData(b.secret().Data, before.Data) {
		t.Fatalf("the Secret changed")
	}
	c1, _ := first.CurrentCertKeyContent()
	c2, _ := second.CurrentCertKeyContent()
	if string(c1) != string(c2) {
		t.Fatalf("the replicas serve different certificates")
	}
	b.served(second)
}

func TestSecondReplicaWithAnotherNameAddsItOnce(t *testing.T) {
	b := newTestbed(t)
	first := b.replica()
	b.sync(first)
	second := b.replica()
	second.cfg.DNSNames = []string{"janus.example.com"}
	b.sync(second)
	writes := b.writes()
	b.sync(first)
	b.sync(second)
	if b.writes() != writes {
		t.Fatalf("replicas with different --alternate-dns took turns rewriting the Secret")
	}
	leaf := b.served(first)
	if !hasNames(leaf, []string{testDNSName, "janus.example.com"}) {
		t.Errorf("serving certificate names %v, want both replicas' names", leaf.DNSNames)
	}
}

func TestAdoptsACAOfTheOperatorsOwn(t *testing.T) {
	own, err := newCA(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 5*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestbed(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSecret},
		Data:       map[string][]byte{SigningCertKey: own.certPEM, SigningKeyKey: own.keyPEM, "note": []byte("kept")},
	})
	m := b.replica()
	b.sync(m)
	if leaf := b.served(m); !signedBy(leaf, own.cert) {
		t.Fatalf("serving certificate not signed by the operator's CA")
	}
	if string(b.secret().Data["note"]) != "kept" {
		t.Errorf("a key the package does not know was dropped")
	}
}

func TestRefusesASecretSomebodyElseKeeps(t *testing.T) {
	b := newTestbed(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSecret, Labels: map[string]string{ManagedByLabel: "cert-manager"}},
		Data:       map[string][]byte{corev1.TLSCertKey: []byte("x"), corev1.TLSPrivateKeyKey: []byte("y")},
	})
	m := b.replica()
	_, err := m.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("Sync = %v, want a refusal", err)
	}
	if b.writes() != 0 {
		t.Errorf("the Secret was written")
	}
}

func TestAPIServiceRegisteredLaterGetsTheBundle(t *testing.T) {
	b := newTestbed(t)
	if err := b.dynamic.Resource(APIServicesResource).Delete(context.Background(), testAPIService, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	m := b.replica()
	b.sync(m) // no APIService: not an error
	if _, err := b.dynamic.Resource(APIServicesResource).Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": testAPIService},
		"spec":     map[string]any{"group": "janus.infroware.io", "version": "v1alpha1"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.sync(m)
	b.served(m)
}

func TestLifetimesMustLeaveRoomForTheSwitch(t *testing.T) {
	if err := (Lifetimes{CA: 182 * 24 * time.Hour, Serving: 90 * 24 * time.Hour, CAOverlap: 30 * 24 * time.Hour}).validate(); err == nil {
		t.Errorf("a six-month CA with 90-day serving certificates and 30 days of overlap was accepted")
	}
	if err := DefaultLifetimes.validate(); err != nil {
		t.Errorf("DefaultLifetimes: %v", err)
	}
}
