package agent

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMintedTokenNeverPrintsItsValue(t *testing.T) {
	token := mintedToken{value: "eyJhbGciOi.secret.value", expiresAt: time.Now()}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, token); strings.Contains(out, "secret") {
			t.Errorf("%s printed the token: %s", format, out)
		}
	}
}

func TestTokenStoreForgetsExpiredTokens(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	store := newTokenStore(func() time.Time { return now })
	store.put("alice-1", mintedToken{value: "t1", expiresAt: now.Add(time.Minute)})
	store.put("bob-2", mintedToken{value: "t2", expiresAt: now})

	if got, ok := store.get("alice-1"); !ok || got.value != "t1" {
		t.Errorf("get(alice-1) = %q, %v; want t1, true", got.value, ok)
	}
	if _, ok := store.get("bob-2"); ok {
		t.Error("get(bob-2) returned a token that expires now")
	}
	if got := store.requests(); !got.Has("bob-2") {
		t.Errorf("requests() = %v lacks the expired bob-2, which reconcile must still clean up", got)
	}
	store.forget("alice-1")
	if _, ok := store.get("alice-1"); ok {
		t.Error("get(alice-1) returned a forgotten token")
	}
}

func TestRequestLocksSerialiseOneRequestOnly(t *testing.T) {
	locks := newRequestLocks()
	var inside atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			defer locks.lock("alice-1")()
			if n := inside.Add(1); n != 1 {
				t.Errorf("%d goroutines inside the lock of one request", n)
			}
			inside.Add(-1)
		})
	}
	wg.Wait()

	// Another request is not held up by a held one.
	unlock := locks.lock("alice-1")
	locks.lock("bob-2")()
	unlock()
	if len(locks.locks) != 0 {
		t.Errorf("%d locks left behind", len(locks.locks))
	}
}
