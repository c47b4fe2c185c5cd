package agent

import "sync"

// madeObjects remembers, by request, the objects of every grant this
// agent made, so that a removal can delete them at once by name and UID
// instead of waiting for a consistent list first. It is only a shortcut:
// a removal still sweeps everything labelled for the request, and after a
// restart, when it is empty, the sweep alone does the work.
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
