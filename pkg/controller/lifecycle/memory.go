package lifecycle

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

var everything = labels.Everything()

// expiryMemory maps request names to the expiry their grant was minted for.
type expiryMemory struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func newExpiryMemory() *expiryMemory { return &expiryMemory{m: map[string]time.Time{}} }

func (e *expiryMemory) get(name string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.m[name]
	return t, ok
}

func (e *expiryMemory) set(name string, t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[name] = t
}

func (e *expiryMemory) forget(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, name)
}
