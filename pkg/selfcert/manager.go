package selfcert

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// APIServicesResource is where APIServices are served.
var APIServicesResource = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// Config says which Secret and APIService to keep, and how.
type Config struct {
	// Client reaches the central cluster, for the Secret.
	Client kubernetes.Interface
	// Dynamic reaches the central cluster, for the APIService (the
	// aggregator's typed client is not among Janus's dependencies).
	Dynamic dynamic.Interface
	// Namespace and Name name the Secret.
	Namespace, Name string
	// APIServiceName is the APIService whose spec.caBundle is kept.
	APIServiceName string
	// DNSNames go into the serving certificate; the aggregator checks
	// <service>.<namespace>.svc.
	DNSNames []string
	// Lifetimes defaults to DefaultLifetimes.
	Lifetimes Lifetimes
	// Resync is how often everything is checked even without an event.
	Resync time.Duration
	// Clock defaults to the real one.
	Clock clock.WithTicker
}

// Manager keeps the Secret and the APIService and serves the Secret's
// serving certificate. It is a dynamiccertificates.CertKeyContentProvider
// and ControllerRunner: the generic API server primes it with RunOnce
// before it listens and then runs it.
type Manager struct {
	cfg   Config
	queue workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	certPEM   []byte
	keyPEM    []byte
	caPEM     []byte
	listeners []dynamiccertificates.Listener
}

var (
	_ dynamiccertificates.CertKeyContentProvider = &Manager{}
	_ dynamiccertificates.ControllerRunner       = &Manager{}
)

const queueKey = "certificates"

// New checks cfg and returns a Manager that has done nothing yet.
func New(cfg Config) (*Manager, error) {
	if cfg.Lifetimes == (Lifetimes{}) {
		cfg.Lifetimes = DefaultLifetimes
	}
	if cfg.Resync == 0 {
		cfg.Resync = 10 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	var errs []error
	if cfg.Client == nil || cfg.Dynamic == nil {
		errs = append(errs, errors.New("self-managed certificates need a client of the central cluster (--kubeconfig or in-cluster config)"))
	}
	if cfg.Namespace == "" || cfg.Name == "" || cfg.APIServiceName == "" {
		errs = append(errs, errors.New("self-managed certificates need a Secret namespace and name and an APIService name"))
	}
	if len(cfg.DNSNames) == 0 {
		errs = append(errs, errors.New("self-managed certificates need at least one DNS name"))
	}
	if err := cfg.Lifetimes.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Manager{
		cfg: cfg,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "selfcert", Clock: cfg.Clock}),
	}, nil
}

// Name identifies the certificate in the generic server's logs.
func (m *Manager) Name() string {
	return "self-managed-serving-cert::" + m.cfg.Namespace + "/" + m.cfg.Name
}

// CurrentCertKeyContent is the serving certificate and key last read from
// the Secret; empty until the first Sync succeeded, which makes the server
// refuse TLS handshakes rather than serve something else.
func (m *Manager) CurrentCertKeyContent() ([]byte, []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.certPEM, m.keyPEM
}

// CABundle is the Secret's bundle of CAs to trust (ca.crt) last read,
// which verifies every replica's serving certificate; empty until the
// first Sync succeeded.
func (m *Manager) CABundle() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caPEM
}

// AddListener is told when the certificate changes.
func (m *Manager) AddListener(l dynamiccertificates.Listener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners = append(m.listeners, l)
}

// primeTimeout bounds the wait for the central cluster before the server
// listens; after it the server starts without a certificate and Run keeps
// trying.
const primeTimeout = 30 * time.Second

// RunOnce makes sure a certificate is there to serve.
func (m *Manager) RunOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, primeTimeout)
	defer cancel()
	_, err := m.Sync(ctx)
	return err
}

// Run watches the Secret and the APIService and syncs on every change, on
// every resync, and when a certificate is due, until ctx is done.
func (m *Manager) Run(ctx context.Context, _ int) {
	defer m.queue.ShutDown()
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { m.queue.Add(queueKey) },
		UpdateFunc: func(any, any) { m.queue.Add(queueKey) },
		DeleteFunc: func(any) { m.queue.Add(queueKey) },
	}
	secrets := informers.NewSharedInformerFactoryWithOptions(m.cfg.Client, m.cfg.Resync,
		informers.WithNamespace(m.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", m.cfg.Name).String()
		}))
	apiServices := dynamicinformer.NewFilteredDynamicSharedInformerFactory(m.cfg.Dynamic, m.cfg.Resync, metav1.NamespaceAll,
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", m.cfg.APIServiceName).String()
		})
	if _, err := secrets.Core().V1().Secrets().Informer().AddEventHandler(enqueue); err != nil {
		klog.ErrorS(err, "Watching the self-managed certificate Secret")
	}
	if _, err := apiServices.ForResource(APIServicesResource).Informer().AddEventHandler(enqueue); err != nil {
		klog.ErrorS(err, "Watching the APIService")
	}
	secrets.Start(ctx.Done())
	apiServices.Start(ctx.Done())
	defer secrets.Shutdown()
	defer apiServices.Shutdown()

	m.queue.Add(queueKey)
	go func() {
		<-ctx.Done()
		m.queue.ShutDown()
	}()
	for m.processNext(ctx) {
	}
}

func (m *Manager) processNext(ctx context.Context) bool {
	key, quit := m.queue.Get()
	if quit {
		return false
	}
	defer m.queue.Done(key)
	due, err := m.Sync(ctx)
	if err != nil {
		klog.ErrorS(err, "Keeping the self-managed serving certificate", "secret", klog.KRef(m.cfg.Namespace, m.cfg.Name), "apiService", m.cfg.APIServiceName)
		m.queue.AddRateLimited(key)
		return true
	}
	m.queue.Forget(key)
	wait := min(due.Sub(m.cfg.Clock.Now()), m.cfg.Resync)
	m.queue.AddAfter(key, max(wait, time.Second))
	return true
}

// Sync brings the Secret up to date, serves its certificate and brings the
// APIService's caBundle to the Secret's bundle. It returns when the
// certificates must be looked at again at the latest.
func (m *Manager) Sync(ctx context.Context) (time.Time, error) {
	secret, due, err := m.syncSecret(ctx)
	if err != nil {
		return time.Time{}, err
	}
	m.serve(secret.Data[ServingCertKey], secret.Data[ServingKeyKey])
	m.mu.Lock()
	m.caPEM = secret.Data[CABundleKey]
	m.mu.Unlock()
	if err := m.syncAPIService(ctx, secret); err != nil {
		return time.Time{}, err
	}
	return due, nil
}

// syncSecret creates, adopts or renews the Secret. Replicas racing on it
// meet in a conflict: the loser reads what the winner wrote, finds it
// good, and keeps it.
func (m *Manager) syncSecret(ctx context.Context) (*corev1.Secret, time.Time, error) {
	secrets := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace)
	now := m.cfg.Clock.Now()
	secret, err := secrets.Get(ctx, m.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, due, reasons, err := plan(nil, now, m.cfg.Lifetimes, m.cfg.DNSNames)
		if err != nil {
			return nil, time.Time{}, err
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: m.cfg.Name, Namespace: m.cfg.Namespace,
				Labels: map[string]string{ManagedByLabel: ManagedByValue, "app.kubernetes.io/part-of": "janus"},
			},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		created, err := secrets.Create(ctx, secret, metav1.CreateOptions{})
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("creating Secret %s/%s: %w", m.cfg.Namespace, m.cfg.Name, err)
		}
		klog.InfoS("Created the self-managed certificate Secret", "secret", klog.KObj(created), "reasons", reasons)
		return created, due, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading Secret %s/%s: %w", m.cfg.Namespace, m.cfg.Name, err)
	}
	if err := adoptable(secret); err != nil {
		return nil, time.Time{}, err
	}
	ours, due, reasons, err := plan(secret.Data, now, m.cfg.Lifetimes, m.cfg.DNSNames)
	if err != nil {
		return nil, time.Time{}, err
	}
	// Keys this package does not know are kept.
	data := maps.Clone(secret.Data)
	for _, k := range ownKeys {
		delete(data, k)
	}
	if data == nil {
		data = map[string][]byte{}
	}
	maps.Copy(data, ours)
	if sameData(data, secret.Data) {
		return secret, due, nil
	}
	updated := secret.DeepCopy()
	updated.Data = data
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	updated.Labels[ManagedByLabel] = ManagedByValue
	// The resourceVersion read above is the precondition.
	updated, err = secrets.Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("updating Secret %s/%s: %w", m.cfg.Namespace, m.cfg.Name, err)
	}
	klog.InfoS("Updated the self-managed certificate Secret", "secret", klog.KObj(updated), "reasons", reasons)
	return updated, due, nil
}

var ownKeys = []string{ServingCertKey, ServingKeyKey, CABundleKey, SigningCertKey, SigningKeyKey, NextCertKey, NextKeyKey, PreviousCertKey, previousUntilKey}

// adoptable refuses a Secret somebody else keeps (cert-manager's, say): it
// must carry this package's label, be empty, or hold a CA with its key to
// sign with.
func adoptable(secret *corev1.Secret) error {
	if secret.Labels[ManagedByLabel] == ManagedByValue || len(secret.Data) == 0 {
		return nil
	}
	if _, err := parsePair(secret.Data[SigningCertKey], secret.Data[SigningKeyKey]); err == nil && len(secret.Data[SigningKeyKey]) > 0 {
		return nil
	}
	return fmt.Errorf("refusing to overwrite Secret %s/%s: it holds data but neither the label %s=%s nor a CA in %s and %s (choose another --tls-self-managed-secret, or delete it)",
		secret.Namespace, secret.Name, ManagedByLabel, ManagedByValue, SigningCertKey, SigningKeyKey)
}

func (m *Manager) serve(certPEM, keyPEM []byte) {
	m.mu.Lock()
	if bytes.Equal(certPEM, m.certPEM) && bytes.Equal(keyPEM, m.keyPEM) {
		m.mu.Unlock()
		return
	}
	m.certPEM, m.keyPEM = certPEM, keyPEM
	listeners := append([]dynamiccertificates.Listener(nil), m.listeners...)
	m.mu.Unlock()
	klog.InfoS("Serving a new self-managed certificate", "secret", klog.KRef(m.cfg.Namespace, m.cfg.Name))
	for _, l := range listeners {
		l.Enqueue()
	}
}

// syncAPIService patches spec.caBundle, and nothing else, to the Secret's
// bundle. A replica that read an older Secret must not put its older
// bundle back: it reads the APIService, then checks the Secret is still
// the one it read, and patches with the APIService's resourceVersion as
// precondition. A replica that renews the Secret does so before it reads
// the APIService, so whichever patch lands last carries the newest bundle.
func (m *Manager) syncAPIService(ctx context.Context, secret *corev1.Secret) error {
	client := m.cfg.Dynamic.Resource(APIServicesResource)
	svc, err := client.Get(ctx, m.cfg.APIServiceName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Not registered yet: the watch brings it.
		klog.V(2).InfoS("APIService not there yet", "apiService", m.cfg.APIServiceName)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading APIService %s: %w", m.cfg.APIServiceName, err)
	}
	want := base64.StdEncoding.EncodeToString(secret.Data[CABundleKey])
	if have, _, _ := unstructured.NestedString(svc.Object, "spec", "caBundle"); have == want {
		return nil
	}
	again, err := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace).Get(ctx, m.cfg.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Secret %s/%s again: %w", m.cfg.Namespace, m.cfg.Name, err)
	}
	if again.ResourceVersion != secret.ResourceVersion {
		return fmt.Errorf("the Secret %s/%s changed while APIService %s was read; syncing again", m.cfg.Namespace, m.cfg.Name, m.cfg.APIServiceName)
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": svc.GetResourceVersion()},
		"spec":     map[string]any{"caBundle": want},
	})
	if err != nil {
		return err
	}
	if _, err := client.Patch(ctx, m.cfg.APIServiceName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "janus-apiserver-selfcert"}); err != nil {
		return fmt.Errorf("patching spec.caBundle of APIService %s: %w", m.cfg.APIServiceName, err)
	}
	klog.InfoS("Set the APIService's caBundle to the self-managed CAs", "apiService", m.cfg.APIServiceName, "secret", klog.KObj(secret))
	return nil
}
