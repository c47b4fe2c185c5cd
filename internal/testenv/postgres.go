package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a PostgreSQL server of a test's own, in a temporary
// directory, on a free loopback port, with trust authentication on that
// port only: the soak restarts it while janus-apiserver writes to it,
// which the machine's server (hack/ensure-postgres.sh), shared by every
// test, must not be.
type PostgresServer struct {
	dir    string
	bin    string
	port   int
	logDir string
	cred   *syscall.Credential
	proc   *Process
}

// postgresUser is the superuser initdb creates, and the one in URL.
const postgresUser = "janus"

// postgresStopTimeout bounds a fast shutdown before it becomes a SIGKILL.
const postgresStopTimeout = 30 * time.Second

// StartPostgres creates a database cluster with Debian's initdb
// (/usr/lib/postgresql/<version>/bin, which hack/ensure-postgres.sh
// installs) and starts it, its log in logDir/postgres.log. PostgreSQL
// refuses to run as root, so as root it runs as the postgres user, which
// then owns the directory.
func StartPostgres(ctx context.Context, logDir string) (*PostgresServer, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "janus-postgres-")
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{dir: dir, bin: bin, logDir: logDir, cred: cred}
	if err := s.initdb(ctx); err != nil {
		s.removeDir()
		return nil, err
	}
	if s.port, err = FreePort(); err != nil {
		s.removeDir()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// postgresBinDir is the newest /usr/lib/postgresql/<version>/bin that
// holds initdb and postgres.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		_, errInit := os.Stat(filepath.Join(d, "initdb"))
		_, errServer := os.Stat(filepath.Join(d, "postgres"))
		if errInit == nil && errServer == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (run hack/ensure-postgres.sh)")
}

// postgresCredential is who the server runs as: the postgres user when
// we are root, ourselves otherwise (nil).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as (run hack/ensure-postgres.sh): %w", err)
	}
	uid, errUID := strconv.ParseUint(u.Uid, 10, 32)
	gid, errGID := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(errUID, errGID); err != nil {
		return nil, fmt.Errorf("reading the postgres user's ids: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *PostgresServer) dataDir() string { return filepath.Join(s.dir, "data") }

// command runs a program of the server's as the server's user.
func (s *PostgresServer) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Env = []string{"LANG=C", "LC_ALL=C", "PATH=/usr/bin:/bin"}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *PostgresServer) initdb(ctx context.Context) error {
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("giving %s to the postgres user: %w", s.dir, err)
		}
	}
	// --no-sync: a fresh cluster need not survive a power cut; what the
	// server writes afterwards is fsynced as usual.
	out, err := s.command(ctx, "initdb", "-D", s.dataDir(), "--auth=trust", "--username="+postgresUser,
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("creating a PostgreSQL cluster in %s: %w\n%s", s.dataDir(), err, lastLines(string(out), logTailLines))
	}
	return nil
}

// start runs the server on its port, TCP on loopback only, and waits
// until it takes connections.
func (s *PostgresServer) start(ctx context.Context) error {
	cmd := s.command(context.Background(), "postgres", "-D", s.dataDir(),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.port),
		"-c", "unix_socket_directories=", "-c", "max_connections=300")
	var err error
	if s.proc, err = StartCommand("postgres", s.logDir, cmd); err != nil {
		return err
	}
	return WaitUntil(ctx, "PostgreSQL on 127.0.0.1:"+strconv.Itoa(s.port), s.proc, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// URL is the server's postgres database as its superuser; testbeds
// create their own databases next to it.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", postgresUser, s.port)
}

// Restart stops the server with a fast shutdown, which ends every client
// connection, and starts it again on the same port and data, as an
// administrator's restart would; it returns once the server takes
// connections again.
func (s *PostgresServer) Restart(ctx context.Context) error {
	if err := s.stop(); err != nil {
		return err
	}
	return s.start(ctx)
}

// Crash kills every process of the server with SIGKILL at once, as a
// power cut or the OOM killer taking the node would, and starts it again
// on the same data: it comes up through crash recovery, replaying its
// write-ahead log, so a transaction it had acknowledged as committed is
// there again. It returns once the server takes connections.
func (s *PostgresServer) Crash(ctx context.Context) error {
	if s.proc == nil {
		return errors.New("PostgreSQL is not running")
	}
	s.proc.mu.Lock()
	s.proc.stopping = true
	s.proc.mu.Unlock()
	// The postmaster leads its own process group (StartCommand), and every
	// backend and worker it forks is in it.
	if err := syscall.Kill(-s.proc.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing PostgreSQL's processes (group %d): %w", s.proc.PID, err)
	}
	if !s.proc.waitExited(postgresStopTimeout) {
		return fmt.Errorf("PostgreSQL (pid %d) survived SIGKILL", s.proc.PID)
	}
	// A backend not yet gone still holds the shared memory, and the new
	// postmaster refuses to start beside it: try again for a while.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = s.start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
	return err
}

// stop asks for a fast shutdown (SIGINT): open transactions are rolled
// back, clients disconnected, and a checkpoint written.
func (s *PostgresServer) stop() error {
	if s.proc == nil {
		return nil
	}
	s.proc.mu.Lock()
	s.proc.stopping = true
	s.proc.mu.Unlock()
	if err := s.proc.signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stopping PostgreSQL (pid %d): %w", s.proc.PID, err)
	}
	if !s.proc.waitExited(postgresStopTimeout) {
		_ = s.proc.Kill()
		return fmt.Errorf("PostgreSQL (pid %d) did not shut down within %s and was killed", s.proc.PID, postgresStopTimeout)
	}
	return nil
}

// Stop shuts the server down and removes its directory.
func (s *PostgresServer) Stop() error {
	err := s.stop()
	s.removeDir()
	return err
}

func (s *PostgresServer) removeDir() {
	_ = os.RemoveAll(s.dir)
}
