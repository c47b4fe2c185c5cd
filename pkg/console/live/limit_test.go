package live

import "testing"

func TestLimiter(t *testing.T) {
	l := newLimiter(2)
	r1, ok1 := l.acquire("alice")
	_, ok2 := l.acquire("alice")
	if !ok1 || !ok2 {
		t.Fatal("alice may not open two streams")
	}
	if _, ok := l.acquire("alice"); ok {
		t.Fatal("alice opened a third stream")
	}
	if _, ok := l.acquire("bob"); !ok {
		t.Fatal("alice's streams count against bob")
	}
	r1()
	r1() // releasing twice gives back one stream only
	if _, ok := l.acquire("alice"); !ok {
		t.Fatal("alice may not open a stream after closing one")
	}
	if _, ok := l.acquire("alice"); ok {
		t.Fatal("a double release gave alice an extra stream")
	}
}
