package signouts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// MaxEntries bounds the sign-outs the ConfigMap holds at once (each about
// 60 bytes, well inside a ConfigMap's 1 MiB); they expire with the
// sessions they end.
const MaxEntries = 15000

// ErrFull is returned when MaxEntries unexpired sign-outs are recorded.
var ErrFull = errors.New("the shared sign-out list is full")

// Store is the shared sign-out list of one ConfigMap.
type Store struct {
	client          kubernetes.Interface
	namespace, name string
	now             func() time.Time

	mu      sync.RWMutex
	revoked map[string]time.Time // hash of a session ID → when it ends anyway
	synced  cache.InformerSynced
}

// New returns the Store of the ConfigMap namespace/name; Run starts
// following it.
func New(client kubernetes.Interface, namespace, name string) *Store {
	return &Store{client: client, namespace: namespace, name: name, now: time.Now, revoked: map[string]time.Time{}}
}

// Run follows the ConfigMap until ctx ends; it returns once the first
// list has been read, or with the error that kept it from being read.
func (s *Store) Run(ctx context.Context) error {
	lw := cache.NewListWatchFromClient(s.client.CoreV1().RESTClient(), "configmaps", s.namespace,
		fields.OneTermEqualSelector("metadata.name", s.name))
	informer := cache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 10*time.Minute, cache.Indexers{})
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.load(obj) },
		UpdateFunc: func(_, obj any) { s.load(obj) },
		DeleteFunc: func(any) { s.replace(map[string]time.Time{}) },
	}); err != nil {
		return fmt.Errorf("following ConfigMap %s/%s: %w", s.namespace, s.name, err)
	}
	s.synced = informer.HasSynced
	go informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return fmt.Errorf("reading the sign-outs in ConfigMap %s/%s: %w", s.namespace, s.name, context.Cause(ctx))
	}
	return nil
}

func (s *Store) load(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return
	}
	s.replace(decode(cm.Data))
}

// replace takes what the ConfigMap says, keeping this replica's own
// sign-outs that have not reached it yet.
func (s *Store) replace(shared map[string]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, until := range s.revoked {
		if _, there := shared[k]; !there && until.After(now) {
			shared[k] = until
		}
	}
	s.revoked = shared
}

func key(sessionID string) string {
	sum := sha256.Sum256([]byte("janus-console-session:" + sessionID))
	return hex.EncodeToString(sum[:16])
}

// Revoked says whether the session was signed out on any replica.
func (s *Store) Revoked(sessionID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, revoked := s.revoked[key(sessionID)]
	return revoked
}

// Revoke records that the session ended; until is when it would have
// ended anyway. This replica refuses it at once, the others once their
// informers see the update.
func (s *Store) Revoke(ctx context.Context, sessionID string, until time.Time) error {
	k := key(sessionID)
	s.mu.Lock()
	s.revoked[k] = until
	s.mu.Unlock()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading ConfigMap %s/%s: %w", s.namespace, s.name, err)
		}
		entries := decode(cm.Data)
		now := s.now()
		for k, t := range entries {
			if !t.After(now) {
				delete(entries, k)
			}
		}
		entries[k] = until
		if len(entries) > MaxEntries {
			return ErrFull
		}
		cm = cm.DeepCopy()
		cm.Data = encode(entries)
		_, err = s.client.CoreV1().ConfigMaps(s.namespace).Update(ctx, cm, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("recording a sign-out in ConfigMap %s/%s: %w", s.namespace, s.name, err)
		}
		return err
	})
}

func decode(data map[string]string) map[string]time.Time {
	out := make(map[string]time.Time, len(data))
	for k, v := range data {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			klog.InfoS("Ignoring an unreadable sign-out entry", "key", k)
			continue
		}
		out[k] = t
	}
	return out
}

func encode(entries map[string]time.Time) map[string]string {
	out := make(map[string]string, len(entries))
	for k, t := range entries {
		out[k] = t.UTC().Format(time.RFC3339)
	}
	return out
}
