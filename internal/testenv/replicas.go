package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// replica is one janus-apiserver of a testbed with SecondReplica.
type replica struct {
	name string
	ip   net.IP
	lock *os.File
	proc *Process
}

// Names of the two replicas, their --replica-name and Lease identity.
const (
	ReplicaA = "janus-a"
	ReplicaB = "janus-b"
)

// peerServerName is the name in the tunnel certificate the replicas
// verify each other for.
const peerServerName = "janus-tunnel.janus.test"

func (r *replica) address() string {
	return net.JoinHostPort(r.ip.String(), fmt.Sprint(janusServicePort))
}

func (r *replica) tunnelAddress() string {
	return net.JoinHostPort(r.ip.String(), fmt.Sprint(janusTunnelPort))
}

// process is the name it runs under: A is "janus-apiserver", as the one
// janus-apiserver of other testbeds, so their helpers find it.
func (r *replica) process() string {
	if r.name == ReplicaA {
		return "janus-apiserver"
	}
	return "janus-apiserver-" + strings.TrimPrefix(r.name, "janus-")
}

// reserveReplicas takes a loopback address for each replica.
func (tb *Testbed) reserveReplicas() error {
	if !tb.cfg.SecondReplica {
		return nil
	}
	if tb.cfg.SelfManagedTLS || tb.cfg.JanusCommand != nil {
		return errors.New("testbed: SecondReplica runs the janus-apiserver binary with files for its certificates")
	}
	for _, name := range []string{ReplicaA, ReplicaB} {
		ip, lock, err := freeServiceIP()
		if err != nil {
			return fmt.Errorf("reserving an address for replica %s: %w", name, err)
		}
		tb.replicas = append(tb.replicas, &replica{name: name, ip: ip, lock: lock})
	}
	return nil
}

func (tb *Testbed) replicaIPs() []net.IP {
	var ips []net.IP
	for _, r := range tb.replicas {
		ips = append(ips, r.ip)
	}
	return ips
}

func (tb *Testbed) releaseReplicas() {
	if tb.balancer != nil {
		tb.balancer.Close()
	}
	for _, r := range tb.replicas {
		r.lock.Close()
	}
	if tb.dropDatabase != nil {
		tb.dropDatabase()
	}
}

// startReplicas starts the replicas that do not run, then the balancer on
// the Service's ClusterIP in front of them.
func (tb *Testbed) startReplicas(ctx context.Context, extraArgs ...string) error {
	datastoreArgs, err := tb.sharedArgs(ctx)
	if err != nil {
		return err
	}
	// Each is waited for only until it is healthy (its datastore schema
	// made: kine's creating it races on a fresh database) before the next
	// starts, and for ready once all run: a replica is not ready until its
	// peers have linked to it, or a grace of 15 s passed.
	var started []*replica
	for _, r := range tb.replicas {
		if r.proc != nil {
			if exited, _ := r.proc.Exited(); !exited {
				continue
			}
		}
		if err := tb.launchReplica(ctx, r, append(datastoreArgs, extraArgs...)...); err != nil {
			return err
		}
		if err := WaitServing(ctx, r.proc, "https://"+r.address(), "/healthz", tb.pki.janusCA.CertPEM, "", ""); err != nil {
			return err
		}
		started = append(started, r)
	}
	for _, r := range started {
		if err := tb.waitReplica(ctx, r); err != nil {
			return err
		}
	}
	if tb.balancer == nil {
		var backends []string
		for _, r := range tb.replicas {
			backends = append(backends, r.address())
		}
		if tb.balancer, err = StartBalancer(tb.JanusAddress(), backends...); err != nil {
			return err
		}
	}
	return nil
}

// startReplica starts r and waits until it is ready.
func (tb *Testbed) startReplica(ctx context.Context, r *replica, extraArgs ...string) error {
	if err := tb.launchReplica(ctx, r, extraArgs...); err != nil {
		return err
	}
	return tb.waitReplica(ctx, r)
}

// waitReplica waits until r's /readyz answers 200.
func (tb *Testbed) waitReplica(ctx context.Context, r *replica) error {
	return WaitServing(ctx, r.proc, "https://"+r.address(), "/readyz", tb.pki.janusCA.CertPEM, "", "")
}

// launchReplica starts r's process.
func (tb *Testbed) launchReplica(ctx context.Context, r *replica, extraArgs ...string) error {
	kubeconfig, err := tb.writeJanusKubeconfig(ctx)
	if err != nil {
		return err
	}
	tokenFile, err := tb.peerTokenFile()
	if err != nil {
		return err
	}
	p := tb.pki
	args := tb.janusArgs(r.ip, kubeconfig, filepath.Join(tb.cfg.WorkDir, "janus-data-"+r.name), filepath.Join(tb.logDir, r.process()+"-audit.log"))
	var peers []string
	for _, other := range tb.replicas {
		peers = append(peers, other.name+"="+other.tunnelAddress())
	}
	args = append(args,
		"--tls-cert-file="+p.janusCertFile, "--tls-private-key-file="+p.janusKeyFile,
		"--replica-name="+r.name,
		"--leader-elect=true",
		"--peers="+strings.Join(peers, ","),
		"--peer-token-file="+tokenFile,
		"--peer-ca-file="+tb.TunnelCAFile(),
		"--peer-server-name="+peerServerName,
	)
	args = append(args, tb.cfg.JanusArgs...)
	args = append(args, extraArgs...)
	r.proc, err = tb.procs.Start(r.process(), tb.cfg.Binaries.JanusAPIServer, args)
	return err
}

// peerTokenFile writes, once, the secret the replicas share.
func (tb *Testbed) peerTokenFile() (string, error) {
	path := filepath.Join(tb.pki.dir, "peer-token")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the peer token: %w", err)
	}
	return path, os.WriteFile(path, []byte(hex.EncodeToString(b)), 0o600)
}

// sharedArgs are the flags pointing the replicas at what they share: the
// datastore and the recording store.
func (tb *Testbed) sharedArgs(ctx context.Context) ([]string, error) {
	datastore, err := tb.sharedDatastore(ctx)
	if err != nil {
		return nil, err
	}
	recordings, err := tb.sharedRecordings(ctx)
	if err != nil {
		return nil, err
	}
	return append(datastore, recordings...), nil
}

// RecordingBucket is the bucket of the S3-compatible server the replicas of
// a testbed with SecondReplica record sessions into, under the prefix
// RecordingPrefix.
const (
	RecordingBucket = "janus-recordings"
	RecordingPrefix = "replicas"
)

// sharedRecordings are the flags recording the replicas' sessions into one
// S3 bucket (a versitygw of this testbed, started once), as
// docs/recordings.md asks of several replicas, so that a recording one
// replica made plays through the other; none if JanusArgs name a
// --recording-store.
func (tb *Testbed) sharedRecordings(ctx context.Context) ([]string, error) {
	for _, a := range tb.cfg.JanusArgs {
		if strings.HasPrefix(a, "--recording-store") {
			return nil, nil
		}
	}
	if tb.recordingS3 == nil {
		s3, err := tb.StartS3(ctx, RecordingBucket)
		if err != nil {
			return nil, fmt.Errorf("two replicas share an S3 bucket for recordings: %w", err)
		}
		tb.recordingS3 = s3
	}
	return []string{
		"--recording-store=s3://" + RecordingBucket + "/" + RecordingPrefix,
		"--recording-s3-endpoint=" + tb.recordingS3.Endpoint,
		"--recording-s3-credentials-file=" + tb.recordingS3.CredentialsFile,
	}, nil
}

// RecordingS3 is the S3-compatible server the replicas of a testbed with
// SecondReplica record into (bucket RecordingBucket, prefix
// RecordingPrefix); nil for other testbeds and when JanusArgs name a
// --recording-store.
func (tb *Testbed) RecordingS3() *S3 { return tb.recordingS3 }

// sharedDatastore is the flag pointing the replicas at one datastore: a
// fresh PostgreSQL database of this testbed on TestbedConfig.PostgresURL's
// server, dropped at Stop, unless JanusArgs name one.
func (tb *Testbed) sharedDatastore(ctx context.Context) ([]string, error) {
	for _, a := range tb.cfg.JanusArgs {
		if strings.HasPrefix(a, "--datastore-endpoint") || strings.HasPrefix(a, "--etcd-servers") {
			return nil, nil
		}
	}
	endpointFile := filepath.Join(tb.pki.dir, "datastore-endpoint")
	if _, err := os.Stat(endpointFile); err == nil {
		return []string{"--datastore-endpoint-file=" + endpointFile}, nil
	}
	server := tb.cfg.PostgresURL
	if server == "" {
		server = PostgresURL()
	}
	createCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dsn, drop, err := CreatePostgresDatabase(createCtx, server, "janus_replicas_"+strings.ToLower(hex.EncodeToString([]byte(tb.janusIP.To4()))))
	if err != nil {
		return nil, fmt.Errorf("two replicas share a PostgreSQL database: %w", err)
	}
	tb.dropDatabase = drop
	if err := os.WriteFile(endpointFile, []byte(dsn), 0o600); err != nil {
		return nil, err
	}
	return []string{"--datastore-endpoint-file=" + endpointFile}, nil
}

// PostgresURL is the PostgreSQL server testbeds create their databases
// on: JANUS_TEST_POSTGRES_URL, or hack/ensure-postgres.sh's.
func PostgresURL() string {
	if u := os.Getenv("JANUS_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://janus:janus@127.0.0.1:5432/postgres?sslmode=disable"
}

func redacted(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparseable URL>"
}

// Replicas names the janus-apiservers of a testbed with SecondReplica.
func (tb *Testbed) Replicas() []string {
	var names []string
	for _, r := range tb.replicas {
		names = append(names, r.name)
	}
	return names
}

func (tb *Testbed) replica(name string) (*replica, error) {
	i := slices.IndexFunc(tb.replicas, func(r *replica) bool { return r.name == name })
	if i < 0 {
		return nil, fmt.Errorf("testbed has no replica %q (SecondReplica has %v)", name, tb.Replicas())
	}
	return tb.replicas[i], nil
}

// ReplicaAddress is where replica name serves its API: host:port.
func (tb *Testbed) ReplicaAddress(name string) (string, error) {
	r, err := tb.replica(name)
	if err != nil {
		return "", err
	}
	return r.address(), nil
}

// ReplicaTunnelAddress is where replica name serves its tunnel port, the
// one its peers dial: host:port.
func (tb *Testbed) ReplicaTunnelAddress(name string) (string, error) {
	r, err := tb.replica(name)
	if err != nil {
		return "", err
	}
	return r.tunnelAddress(), nil
}

// RouteAPIService sends the connections to the Service's ClusterIP, the
// aggregator's, to the replicas named only, cutting those open to the
// others; with no names, to every replica.
func (tb *Testbed) RouteAPIService(names ...string) error {
	if tb.balancer == nil {
		return errors.New("testbed: RouteAPIService needs SecondReplica")
	}
	if len(names) == 0 {
		names = tb.Replicas()
	}
	var backends []string
	for _, name := range names {
		r, err := tb.replica(name)
		if err != nil {
			return err
		}
		backends = append(backends, r.address())
	}
	tb.balancer.Route(backends...)
	return nil
}

// KeepAPIServiceConnections has the connections to the Service's
// ClusterIP opened from now on, until the function it returns is called,
// survive RouteAPIService (Balancer.Keep): open an exec session on one
// replica meanwhile, and it stays there while the API goes to the other.
func (tb *Testbed) KeepAPIServiceConnections() (stop func(), err error) {
	if tb.balancer == nil {
		return nil, errors.New("testbed: KeepAPIServiceConnections needs SecondReplica")
	}
	return tb.balancer.Keep(), nil
}

// KillReplica ends replica name with SIGKILL, as a crash would.
func (tb *Testbed) KillReplica(name string) error {
	r, err := tb.replica(name)
	if err != nil {
		return err
	}
	if r.proc == nil {
		return fmt.Errorf("replica %s was never started", name)
	}
	return r.proc.Kill()
}

// StartReplica starts replica name again on the shared stores, as a
// restarted Pod would, and waits until it is ready.
func (tb *Testbed) StartReplica(ctx context.Context, name string) error {
	r, err := tb.replica(name)
	if err != nil {
		return err
	}
	args, err := tb.sharedArgs(ctx)
	if err != nil {
		return err
	}
	return tb.startReplica(ctx, r, args...)
}
