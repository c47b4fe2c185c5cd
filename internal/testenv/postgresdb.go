package testenv

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreatePostgresDatabase creates a database named prefix plus a unique
// suffix on the PostgreSQL server at server (a postgres:// URL), and
// returns its URL and a drop that removes it, connections and all. Errors
// never show the server's password.
func CreatePostgresDatabase(ctx context.Context, server, prefix string) (dsn string, drop func(), err error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, fmt.Errorf("parsing the PostgreSQL URL: %w", err)
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", nil, fmt.Errorf("no PostgreSQL server is reachable at %s (run hack/ensure-postgres.sh, or set JANUS_TEST_POSTGRES_URL): %w", redacted(server), err)
	}
	defer admin.Close(context.Background())
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, server); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
