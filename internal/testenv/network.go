package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

const (
	// serviceClusterIPRange is on loopback: with aggregator routing off, the
	// aggregator dials a Service's ClusterIP itself, so a ClusterIP in
	// 127.0.0.0/8 reaches a process listening there.
	serviceClusterIPRange = "127.1.0.0/16"
	// janusServicePort is the Service port the APIService names; the
	// aggregator dials ClusterIP:port, so janus-apiserver listens on it.
	janusServicePort = 443
	// placeholderEndpoint is a documentation address (RFC 5737). The
	// aggregator's availability check wants the Service to have endpoints;
	// with routing off it never dials them.
	placeholderEndpoint = "192.0.2.1"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeServiceIP picks an address in 127.1.0.10-254 whose janusServicePort is
// free, so that several testbeds (a playground and test runs) can live
// side by side: each janus-apiserver listens on its own ClusterIP. The
// address is reserved by a lock file the returned file holds, which other
// testbeds on this machine try too: two starting at once (make test runs
// the e2e and console packages in parallel) cannot both pick it between
// checking the port and binding it. Closing the file frees it.
func freeServiceIP() (net.IP, *os.File, error) {
	var lastErr error
	for _, last := range rand.Perm(245) {
		ip := net.IPv4(127, 1, 0, byte(last+10))
		lock, err := reserveServiceIP(ip)
		if err != nil {
			lastErr = err
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(janusServicePort)))
		if errors.Is(err, syscall.EACCES) {
			lock.Close()
			return nil, nil, fmt.Errorf("janus-apiserver must listen on port %d, where the aggregator dials its Service's ClusterIP; that needs root, CAP_NET_BIND_SERVICE, or sysctl net.ipv4.ip_unprivileged_port_start=0: %w", janusServicePort, err)
		}
		if err != nil {
			lock.Close()
			lastErr = err
			continue
		}
		l.Close()
		return ip, lock, nil
	}
	return nil, nil, fmt.Errorf("no free address in 127.1.0.10-254 for port %d: %w", janusServicePort, lastErr)
}

// reserveServiceIP takes the machine-wide lock of ip, or fails at once if
// another testbed holds it.
func reserveServiceIP(ip net.IP) (*os.File, error) {
	path := filepath.Join(os.TempDir(), "janus-testbed-"+ip.String()+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("address %s is reserved by another testbed: %w", ip, err)
	}
	return f, nil
}
