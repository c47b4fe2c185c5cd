package agent

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// mintedToken is a grant's bearer token. It lives only in the agent's
// memory: it is never stored, logged or sent to janus-apiserver.
type mintedToken struct {
	value     string
	expiresAt time.Time
	mintedAt  time.Time
}

// String keeps the token out of any log line that formats it by accident.
func (t mintedToken) String() string { return "<token redacted>" }

// GoString does the same for %#v.
func (t mintedToken) GoString() string { return "mintedToken{<redacted>}" }

// tokenStore holds the token of every live grant, by request.
type tokenStore struct {
	now    func() time.Time
	mu     sync.RWMutex
	tokens map[string]mintedToken
}

func newTokenStore(now func() time.Time) *tokenStore {
	return &tokenStore{now: now, tokens: map[string]mintedToken{}}
}

func (s *tokenStore) put(request string, t mintedToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[request] = t
}

func (s *tokenStore) forget(request string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, request)
}

// get returns the request's token while it has not expired.
func (s *tokenStore) get(request string) (mintedToken, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[request]
	if !ok || !s.now().Before(t.expiresAt) {
		return mintedToken{}, false
	}
	return t, true
}

// requests lists every request with a token, expired or not.
func (s *tokenStore) requests() sets.Set[string] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sets.KeySet(s.tokens)
}

// requestLocks serialises the work on each request, so that a grant and
// its removal never interleave; different requests proceed in parallel.
type requestLocks struct {
	mu    sync.Mutex
	locks map[string]*requestLock
}

type requestLock struct {
	sync.Mutex
	users int
}

func newRequestLocks() *requestLocks {
	return &requestLocks{locks: map[string]*requestLock{}}
}

// lock blocks until the caller is the only one working on request, and
// returns the function that lets the next one in.
func (l *requestLocks) lock(request string) (unlock func()) {
	l.mu.Lock()
	rl, ok := l.locks[request]
	if !ok {
		rl = &requestLock{}
		l.locks[request] = rl
	}
	rl.users++
	l.mu.Unlock()

	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		defer l.mu.Unlock()
		rl.users--
		if rl.users == 0 {
			delete(l.locks, request)
		}
	}
}
