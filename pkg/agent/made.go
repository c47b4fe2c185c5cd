package agent

import "sync"

// madeObjects remembers, by request, the objects of every grant this
// agent made whole, so that a removal can delete them at once by name and
// UID instead of waiting for a consistent list first, and need not sweep
// by label when those deletions are answered for sure. After a restart,
// when it is empty, and for a grant that failed half-way, which it never
// holds, the sweep does the work.
type madeObjects struct {
	mu      sync.Mutex
	objects map[string][]madeObject
}

func newMadeObjects() *madeObjects {
	return &madeObjects{objects: map[string][]madeObject{}}
}

func (m *madeObjects) put(request string, objs []madeObject) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[request] = objs
}

// take returns the request's objects and forgets them.
func (m *madeObjects) take(request string) []madeObject {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs := m.objects[request]
	delete(m.objects, request)
	return objs
}
