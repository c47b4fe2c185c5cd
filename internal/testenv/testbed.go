package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// TestbedConfig says where a testbed lives and what it runs.
type TestbedConfig struct {
	// WorkDir holds everything of one testbed: pki/, etcd/, janus-data/,
	// logs/ and a kubeconfig per demo user (<user>.kubeconfig). It may exist,
	// but must not hold a previous testbed.
	WorkDir string
	// RepoRoot is the Janus repository; the manifests under artifacts/ are
	// read from it.
	RepoRoot string
	// Binaries are the programs to run.
	Binaries Binaries
	// JanusArgs are extra flags for janus-apiserver.
	JanusArgs []string
	// JanusCommand, if set, runs janus-apiserver instead of
	// Binaries.JanusAPIServer: it gets the flags the binary would and
	// returns the command to start in its place, which must serve as the
	// binary would (hack/image's test runs the image in a container).
	JanusCommand func(args []string) (*exec.Cmd, error)
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Targets are target clusters to start, each with a connected agent.
	Targets []TargetSpec
	// SelfManagedTLS runs janus-apiserver with --tls-self-managed-secret
	// and registers the APIService without a caBundle: it becomes
	// Available only once janus-apiserver wrote its CA into it.
	SelfManagedTLS bool
	// SecondReplica runs two janus-apiservers, A and B, each on a
	// loopback address of its own, sharing a fresh PostgreSQL database
	// (unless JanusArgs name a datastore) and an S3 bucket for recordings
	// on a versitygw of the testbed (unless JanusArgs name a
	// --recording-store; Testbed.RecordingS3), both leader-elected and
	// peered with --peers. The Service's ClusterIP is a TCP balancer over
	// both (RouteAPIService), and every agent connects to B.
	SecondReplica bool
	// PostgresURL is the PostgreSQL server SecondReplica creates the
	// replicas' database on (a superuser's URL, as PostgresServer.URL);
	// empty for PostgresURL(), the machine's.
	PostgresURL string
}

// Timing is how long one step of the start-up took.
type Timing struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Testbed is a running central control plane with Janus aggregated into it.
type Testbed struct {
	cfg     TestbedConfig
	pki     *pki
	logDir  string
	janusIP net.IP
	// janusIPLock reserves janusIP on this machine until Stop.
	janusIPLock *os.File
	// replicas, with SecondReplica, are A and B behind balancer.
	replicas []*replica
	balancer *Balancer
	// dropDatabase drops the PostgreSQL database the replicas share.
	dropDatabase func()
	// recordingS3 is the S3 server the replicas record into.
	recordingS3 *S3

	etcdURL   string
	serverURL string

	artifacts *centralArtifacts
	applier   *Applier

	procs *Supervisor

	mu      sync.Mutex
	timings []Timing
	targets []*Target
	// trustedIssuers are the OpenID issuers the central kube-apiserver
	// accepts ID tokens of (TrustIssuer).
	trustedIssuers []JWTIssuer

	stopOnce sync.Once
	stopErr  error
}

// StartTestbed brings the testbed up and returns once janus.infroware.io is
// served through the kube-apiserver and the demo users and clusters exist.
// If anything fails, or ctx ends first, whatever was started is stopped.
func StartTestbed(ctx context.Context, cfg TestbedConfig) (*Testbed, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tb := &Testbed{cfg: cfg, logDir: filepath.Join(cfg.WorkDir, "logs")}
	if err := tb.start(ctx); err != nil {
		if stopErr := tb.Stop(); stopErr != nil {
			err = fmt.Errorf("%w (and stopping what had started: %v)", err, stopErr)
		}
		return nil, err
	}
	return tb, nil
}

func (c *TestbedConfig) validate() error {
	var errs []error
	if c.WorkDir == "" {
		errs = append(errs, errors.New("testbed: WorkDir is required"))
	}
	if c.RepoRoot == "" {
		errs = append(errs, errors.New("testbed: RepoRoot is required"))
	}
	errs = append(errs, c.Binaries.validate())
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return errors.Join(errs...)
}

func (tb *Testbed) start(ctx context.Context) error {
	begin := time.Now()
	for _, previous := range []string{"pki", "etcd", "janus-data"} {
		if _, err := os.Stat(filepath.Join(tb.cfg.WorkDir, previous)); err == nil {
			return fmt.Errorf("work dir %s holds a previous testbed (%s/); remove it first", tb.cfg.WorkDir, previous)
		}
	}
	var err error
	if tb.procs, err = NewSupervisor(tb.logDir); err != nil {
		return err
	}

	err = tb.step("certificates", func() error {
		ip, lock, err := freeServiceIP()
		if err != nil {
			return err
		}
		tb.janusIP, tb.janusIPLock = ip, lock
		if err := tb.reserveReplicas(); err != nil {
			return err
		}
		tb.pki, err = newPKI(filepath.Join(tb.cfg.WorkDir, "pki"), ip, tb.replicaIPs()...)
		return err
	})
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	if err := tb.step("etcd", func() error { return tb.startEtcd(ctx) }); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	if err := tb.step("kube-apiserver", func() error { return tb.startKubeAPIServer(ctx) }); err != nil {
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	if err := tb.writeUserKubeconfigs(); err != nil {
		return err
	}

	// Janus needs nothing from the controller manager (TokenRequest works
	// without it), so both come up side by side.
	controllerManager := make(chan error, 1)
	go func() {
		controllerManager <- tb.step("kube-controller-manager", func() error { return tb.startControllerManager(ctx) })
	}()
	err = tb.startJanusAndRegister(ctx)
	if cmErr := <-controllerManager; cmErr != nil {
		err = errors.Join(err, fmt.Errorf("starting kube-controller-manager: %w", cmErr))
	}
	if err != nil {
		return err
	}
	for _, spec := range tb.cfg.Targets {
		target, err := tb.StartTarget(ctx, spec)
		if err != nil {
			return err
		}
		tb.mu.Lock()
		tb.targets = append(tb.targets, target)
		tb.mu.Unlock()
	}
	tb.record("total", time.Since(begin))
	fmt.Fprintf(tb.cfg.Progress, "testbed: ready in %s (kube-apiserver %s, janus-apiserver on %s)\n",
		time.Since(begin).Round(10*time.Millisecond), tb.serverURL, tb.JanusAddress())
	return nil
}

func (tb *Testbed) startJanusAndRegister(ctx context.Context) error {
	if err := tb.step("artifacts", func() error { return tb.applyArtifacts(ctx) }); err != nil {
		return fmt.Errorf("applying artifacts: %w", err)
	}
	if err := tb.step("janus-apiserver", func() error { return tb.startJanus(ctx) }); err != nil {
		return fmt.Errorf("starting janus-apiserver: %w", err)
	}
	if err := tb.step("aggregation", func() error { return tb.registerAPIService(ctx) }); err != nil {
		return fmt.Errorf("registering janus-apiserver with the aggregator: %w", err)
	}
	if err := tb.step("demo clusters", func() error { return tb.createDemoClusters(ctx) }); err != nil {
		return fmt.Errorf("creating demo clusters: %w", err)
	}
	return nil
}

// step runs one start-up step and records how long it took.
func (tb *Testbed) step(name string, run func() error) error {
	begin := time.Now()
	fmt.Fprintf(tb.cfg.Progress, "testbed: %s ...\n", name)
	err := run()
	if err == nil {
		tb.record(name, time.Since(begin))
		fmt.Fprintf(tb.cfg.Progress, "testbed: %s done in %s\n", name, time.Since(begin).Round(10*time.Millisecond))
	}
	return err
}

func (tb *Testbed) record(name string, d time.Duration) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.timings = append(tb.timings, Timing{Name: name, Duration: d})
}

// Stop ends every process by its PID: SIGTERM, then SIGKILL after 10s.
// Clients of the kube-apiserver go first, etcd last, so nothing logs
// errors about a vanished dependency. It is safe to call more than once.
func (tb *Testbed) Stop() error {
	tb.stopOnce.Do(func() {
		if tb.procs != nil {
			tb.stopErr = tb.procs.Stop()
		}
		if tb.janusIPLock != nil {
			tb.janusIPLock.Close()
		}
		tb.releaseReplicas()
	})
	return tb.stopErr
}

// Target returns the target cluster called name, or nil.
func (tb *Testbed) Target(name string) *Target {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, t := range tb.targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// JanusCAFile is the CA of janus-apiserver's serving certificate.
func (tb *Testbed) JanusCAFile() string {
	return filepath.Join(tb.pki.dir, "janus-serving-ca.crt")
}

// KillJanus ends janus-apiserver with SIGKILL, as a crash would.
func (tb *Testbed) KillJanus() error {
	janus, err := tb.procs.Latest("janus-apiserver")
	if err != nil {
		return err
	}
	return janus.Kill()
}

// RestartJanus stops janus-apiserver and starts it again on the same data
// with extraArgs after TestbedConfig.JanusArgs, for tests of a flag.
func (tb *Testbed) RestartJanus(ctx context.Context, extraArgs ...string) error {
	janus, err := tb.procs.Latest("janus-apiserver")
	if err != nil {
		return err
	}
	if err := janus.Stop(); err != nil {
		// Killed after the grace period: the restart is still wanted.
		fmt.Fprintf(tb.cfg.Progress, "testbed: %v\n", err)
	}
	if err := tb.startJanus(ctx, extraArgs...); err != nil {
		return err
	}
	return tb.waitAPIServiceAvailable(ctx)
}

// StartJanus starts janus-apiserver again on the same data directory, as
// a restarted Pod would, and waits until it is ready and the aggregator
// sends it requests.
func (tb *Testbed) StartJanus(ctx context.Context) error {
	if err := tb.startJanus(ctx); err != nil {
		return err
	}
	return tb.waitAPIServiceAvailable(ctx)
}

// Exited returns the name of a component that ended without Stop, or "".
func (tb *Testbed) Exited() string { return tb.procs.Exited() }

// Processes lists the running components.
func (tb *Testbed) Processes() []ProcessInfo { return tb.procs.Processes() }

// Timings are the durations of the start-up steps, "total" last.
func (tb *Testbed) Timings() []Timing {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]Timing(nil), tb.timings...)
}

// ServerURL is the central kube-apiserver.
func (tb *Testbed) ServerURL() string { return tb.serverURL }

// JanusAddress is where janus-apiserver listens: the ClusterIP and port of
// its Service.
func (tb *Testbed) JanusAddress() string {
	return net.JoinHostPort(tb.janusIP.String(), fmt.Sprint(janusServicePort))
}

// WorkDir is the directory the testbed lives in.
func (tb *Testbed) WorkDir() string { return tb.cfg.WorkDir }

// LogDir holds <component>.log for each process and the audit logs.
func (tb *Testbed) LogDir() string { return tb.logDir }

// AuditLogPath is the central kube-apiserver's audit log.
func (tb *Testbed) AuditLogPath() string {
	return filepath.Join(tb.logDir, "kube-apiserver-audit.log")
}

// JanusAuditLogPath is janus-apiserver's own audit log, which also records
// request and response bodies.
func (tb *Testbed) JanusAuditLogPath() string {
	return filepath.Join(tb.logDir, "janus-apiserver-audit.log")
}

// Kubectl is the kubectl binary matching the kube-apiserver.
func (tb *Testbed) Kubectl() string { return tb.cfg.Binaries.Kubectl }

// logPath is where the component's stdout and stderr go.
func (tb *Testbed) logPath(component string) string {
	return filepath.Join(tb.logDir, component+".log")
}
