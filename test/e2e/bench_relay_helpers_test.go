package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"

	"github.com/infroware/janus/internal/testenv"
)

// The floor of the exec benchmark is the direct path through as many
// extra TLS hops as Janus adds (aggregator, janus-apiserver, agent), each
// a relay that does nothing but terminate TLS and copy bytes: what no
// proxy can beat. The relays are the test binary itself, run again with
// benchRelayEnv set, so that each is a process whose CPU can be read.

// benchRelayEnv holds a relay's benchRelayConfig as JSON; when it is set,
// TestMain runs the relay instead of the tests.
const benchRelayEnv = "JANUS_BENCH_RELAY"

// floorHops is how many relays stand in for the aggregator,
// janus-apiserver and the agent.
const floorHops = 3

// benchRelayConfig is one relay: it accepts TLS on the listener it
// inherits as file descriptor 3 and dials Upstream with TLS.
type benchRelayConfig struct {
	CertFile, KeyFile string
	Upstream          string
	UpstreamCAFile    string
	// UpstreamCertFile and UpstreamKeyFile, if set, are presented to
	// Upstream: terminating TLS drops the client's own certificate.
	UpstreamCertFile, UpstreamKeyFile string
}

// runBenchRelay is the whole life of a relay process.
func runBenchRelay(spec string) int {
	if err := relayUntilKilled(spec); err != nil {
		fmt.Fprintf(os.Stderr, "bench relay: %v\n", err)
		return 1
	}
	return 0
}

func relayUntilKilled(spec string) error {
	var c benchRelayConfig
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		return fmt.Errorf("decoding $%s: %w", benchRelayEnv, err)
	}
	serving, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return fmt.Errorf("loading the serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(c.UpstreamCAFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", c.UpstreamCAFile)
	}
	upstream := &tls.Config{RootCAs: roots}
	if c.UpstreamCertFile != "" {
		client, err := tls.LoadX509KeyPair(c.UpstreamCertFile, c.UpstreamKeyFile)
		if err != nil {
			return fmt.Errorf("loading the upstream client certificate: %w", err)
		}
		upstream.Certificates = []tls.Certificate{client}
	}
	inherited, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("using the inherited listener: %w", err)
	}
	l := tls.NewListener(inherited, &tls.Config{Certificates: []tls.Certificate{serving}})
	for {
		down, err := l.Accept()
		if err != nil {
			return fmt.Errorf("accepting: %w", err)
		}
		go relayConn(down.(*tls.Conn), c.Upstream, upstream)
	}
}

// relayConn copies bytes both ways until both directions have ended.
func relayConn(down *tls.Conn, address string, config *tls.Config) {
	defer down.Close()
	up, err := tls.Dial("tcp", address, config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench relay: dialing %s: %v\n", address, err)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	copyThenClose := func(dst, src *tls.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.CloseWrite()
		done <- struct{}{}
	}
	go copyThenClose(up, down)
	go copyThenClose(down, up)
	<-done
	<-done
}

// relayChain is the floor path's relays, first (the one the client dials)
// first.
type relayChain struct {
	// config reaches the target's kube-apiserver through the chain; it
	// carries no credentials, the last relay does.
	config *rest.Config
	procs  []testenv.ProcessInfo
}

// startRelayChain starts floorHops relay processes in front of target's
// kube-apiserver. They are killed when b ends; their logs go next to the
// testbed's, so they are kept when a test fails.
func startRelayChain(b *testing.B, target *testenv.Target) relayChain {
	b.Helper()
	dir := b.TempDir()
	admin := target.AdminConfig()
	upstreamCAFile := filepath.Join(dir, "target-ca.crt")
	if err := os.WriteFile(upstreamCAFile, admin.CAData, 0o600); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	next := benchRelayConfig{
		Upstream:         hostOf(b, admin.Host),
		UpstreamCAFile:   upstreamCAFile,
		UpstreamCertFile: admin.CertFile,
		UpstreamKeyFile:  admin.KeyFile,
	}
	chain := relayChain{procs: make([]testenv.ProcessInfo, floorHops)}
	var firstCA []byte
	// From the last hop back, so that each relay knows the address and CA
	// of the one after it.
	for i := floorHops; i >= 1; i-- {
		ip := net.IPv4(127, 2, 0, byte(i))
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			b.Fatal(err)
		}
		// The certificate is followed by its CA; as a trust bundle, the
		// pair verifies the certificate.
		certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(ip.String(), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		c := next
		c.CertFile, c.KeyFile = filepath.Join(dir, fmt.Sprintf("relay-%d.crt", i)), filepath.Join(dir, fmt.Sprintf("relay-%d.key", i))
		if err := os.WriteFile(c.CertFile, certPEM, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("floor-relay-%d", i)
		chain.procs[i-1] = startRelay(b, name, self, c, l.(*net.TCPListener))
		next = benchRelayConfig{Upstream: l.Addr().String(), UpstreamCAFile: c.CertFile}
		firstCA = certPEM
	}
	chain.config = &rest.Config{
		Host:            "https://" + next.Upstream,
		TLSClientConfig: rest.TLSClientConfig{CAData: firstCA},
		QPS:             -1,
		WarningHandler:  rest.NoWarnings{},
	}
	return chain
}

// startRelay runs one relay on l, which it inherits: the listener exists
// before the process does, so there is nothing to wait for.
func startRelay(b *testing.B, name, self string, c benchRelayConfig, l *net.TCPListener) testenv.ProcessInfo {
	b.Helper()
	spec, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	f, err := l.File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer l.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), benchRelayEnv+"="+string(spec))
	cmd.ExtraFiles = []*os.File{f}
	p, err := testenv.StartCommand(name, bed.LogDir(), cmd)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Kill() })
	return p.ProcessInfo
}

// hostOf is the host:port of an https URL.
func hostOf(b *testing.B, rawURL string) string {
	b.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	return u.Host
}
