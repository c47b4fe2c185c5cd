package testenv

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// namedBackend answers every connection with its name.
func namedBackend(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name + "\n"))
			go func() {
				defer c.Close()
				_, _ = bufio.NewReader(c).ReadString('\n') // held open until the client goes
			}()
		}
	}()
	return l.Addr().String()
}

func answer(t *testing.T, address string) (string, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading through the balancer: %v", err)
	}
	return line[:len(line)-1], c
}

func TestBalancerSkipsDeadBackendsAndFollowsRoutes(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddress := dead.Addr().String()
	dead.Close()
	lb, err := StartBalancer("127.0.0.1:0", a, deadAddress, b)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	address := lb.listener.Addr().String()

	seen := map[string]int{}
	for range 6 {
		name, c := answer(t, address)
		c.Close()
		seen[name]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || len(seen) != 2 {
		t.Errorf("answers %v, want both live backends and nothing else", seen)
	}

	// Routing to a alone cuts b's open connection and sends all to a.
	name, held := answer(t, address)
	for name != "b" {
		held.Close()
		name, held = answer(t, address)
	}
	lb.Route(a)
	_ = held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Error("the connection to b stayed open after b was routed out")
	}
	for range 4 {
		if name, c := answer(t, address); name != "a" {
			t.Errorf("routed to a only, %s answered", name)
		} else {
			c.Close()
		}
	}
}

// TestBalancerKeepsTheConnectionsOpenedWhileKeeping: Route cuts a routed-
// out backend's connections but those opened between Keep and its stop;
// Close cuts those too.
func TestBalancerKeepsTheConnectionsOpenedWhileKeeping(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	lb, err := StartBalancer("127.0.0.1:0", b)
	if err != nil {
		t.Fatal(err)
	}
	var closeOnce sync.Once
	closing := func() { closeOnce.Do(lb.Close) }
	defer closing()
	address := lb.listener.Addr().String()
	_, before := answer(t, address)
	stop := lb.Keep()
	_, kept := answer(t, address)
	stop()
	_, after := answer(t, address)
	lb.Route(a)
	closed := func(c net.Conn, wait time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	if !closed(before, 5*time.Second) || !closed(after, 5*time.Second) {
		t.Error("a connection to b opened before Keep or after its stop stayed open after b was routed out")
	}
	if closed(kept, 200*time.Millisecond) {
		t.Error("the connection opened while keeping was cut by Route")
	}
	if name, c := answer(t, address); name != "a" {
		t.Errorf("routed to a only, %s answered", name)
	} else {
		c.Close()
	}
	closing()
	if !closed(kept, 5*time.Second) {
		t.Error("Close left the kept connection open")
	}
}
