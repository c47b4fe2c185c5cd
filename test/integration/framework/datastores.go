package framework

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Backend names a storage backend the server runs on.
type Backend string

const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
	Etcd     Backend = "etcd"
)

// Backends are all the storage backends, for tests that run on each.
var Backends = []Backend{SQLite, Postgres, Etcd}

// PostgresURL is the server the Postgres tests use; hack/ensure-postgres.sh
// installs and starts one on a fresh machine.
func PostgresURL() string {
	if u := os.Getenv("JANUS_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://janus:janus@127.0.0.1:5432/postgres?sslmode=disable"
}

// newPostgresDatabase returns the endpoint of a fresh database that is
// dropped when the test ends. kine creates its tables on first use.
func newPostgresDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL is needed for the postgres backend tests and is not reachable at %s: %v (run hack/ensure-postgres.sh, or set JANUS_TEST_POSTGRES_URL)", redactURL(PostgresURL()), err)
	}
	defer admin.Close(context.Background())
	name := "janus_test_" + rand.String(10)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			t.Logf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(PostgresURL())
	u.Path = "/" + name
	return u.String()
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparseable URL>"
}

// startEmbeddedEtcd runs a single-member etcd in the test process and
// returns its client URL.
func startEmbeddedEtcd(t testing.TB) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	clientURL, peerURL := freeLocalURL(t), freeLocalURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peerURL.String())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("starting embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatalf("embedded etcd did not become ready within 30s")
	}
	return clientURL.Host
}

func freeLocalURL(t testing.TB) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
