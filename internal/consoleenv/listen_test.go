package consoleenv

import (
	"strings"
	"testing"
)

func TestListenLoopbackRefusesAddressesOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8400", ":8400", "10.0.0.1:8400", "example.com:8400", "[::]:8400"} {
		if ln, _, err := listenLoopback("the console", addr, true); err == nil {
			ln.Close()
			t.Errorf("listenLoopback(%q) listened; want it refused as off loopback", addr)
		} else if !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "address") {
			t.Errorf("listenLoopback(%q) = %v; want an error naming the address", addr, err)
		}
	}
}

func TestListenLoopbackFallsBackToAFreePortOnlyWhenAsked(t *testing.T) {
	taken, _, err := listenLoopback("the first", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	if ln, _, err := listenLoopback("the console", addr, false); err == nil {
		ln.Close()
		t.Fatalf("listening on the taken %s without fall-back succeeded", addr)
	} else if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the taken address %s", err, addr)
	}

	ln, notice, err := listenLoopback("the console", addr, true)
	if err != nil {
		t.Fatalf("falling back from the taken %s: %v", addr, err)
	}
	defer ln.Close()
	if port(ln) == port(taken) {
		t.Errorf("fell back to the taken port %d", port(ln))
	}
	if !strings.Contains(notice, addr) || !strings.Contains(notice, "taken") {
		t.Errorf("notice %q does not say that %s is taken", notice, addr)
	}
}
