package consoleenv

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// anyLoopbackPort is where a component listens when no address is given.
const anyLoopbackPort = "127.0.0.1:0"

// listenLoopback listens on addr, which must be a loopback address; ""
// means any free port of 127.0.0.1. If the port is taken and fallBack is
// set, it listens on a free port instead and says so in notice.
func listenLoopback(what, addr string, fallBack bool) (ln net.Listener, notice string, err error) {
	if addr == "" {
		addr = anyLoopbackPort
	}
	if err := checkLoopback(addr); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	ln, err = net.Listen("tcp", addr)
	if err == nil {
		return ln, "", nil
	}
	if !fallBack || !errors.Is(err, syscall.EADDRINUSE) {
		return nil, "", fmt.Errorf("%s: listening on %s: %w", what, addr, err)
	}
	ln, fbErr := net.Listen("tcp", anyLoopbackPort)
	if fbErr != nil {
		return nil, "", fmt.Errorf("%s: listening on %s: %w; on a free port: %w", what, addr, err, fbErr)
	}
	return ln, fmt.Sprintf("%s: %s is taken, so it listens on port %d instead", what, addr, port(ln)), nil
}

// checkLoopback refuses an address that is not on loopback.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not on loopback (127.0.0.0/8, ::1 or localhost)", addr)
	}
	return nil
}

func port(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }
