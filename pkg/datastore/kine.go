package datastore

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	"github.com/k3s-io/kine/pkg/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"

	// The only kine drivers Janus offers; kine's endpoint package would
	// link every one it has (NATS, MySQL, t4 with pebble and S3 clients)
	// and etcd's embedded server besides.
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql"
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
)

// kineConfig is what an embedded kine is started with.
type kineConfig struct {
	// Socket is the unix socket kine's etcd API listens on.
	Socket string
	// Endpoint is the database's DSN (sqlite://, postgres://).
	Endpoint string
	// SerializeWrites has the etcd API take one write at a time
	// (limits.go); for SQLite, which takes one writer at a time anyway.
	SerializeWrites bool
	// MaxConcurrentCalls caps the etcd API calls kine runs at once
	// (limits.go); 0 is no cap.
	MaxConcurrentCalls int
	// Poll is how often kine looks for writes it did not make itself.
	Poll time.Duration
	// WALCheckpoints is when an SQLite database's WAL is checkpointed
	// (checkpoint.go); for sqlite:// endpoints only.
	WALCheckpoints walCheckpoints
}

// defaultPgsqlPollInterval (--datastore-poll-interval) bounds how long a
// write through another replica takes to reach this replica's watches.
// kine wakes its poll at once for a write it made itself, and finds the
// writes of other kines on the same database only by polling: at kine's
// default of a second, a write through one replica reached another's
// watch 1.0 s later at the median and 2.0 s at worst (replicas_test.go),
// so an approval stored through one replica reached the leader's
// controller that late, and the Active status the leader wrote a watch
// through the other replica as late again; at 20 ms, 20 and 42 ms. A poll
// is one query on the primary key for the rows after the last revision
// seen, which finds none most of the time.
const defaultPgsqlPollInterval = 20 * time.Millisecond

// sqlitePollInterval is kine's default. SQLite is written by this
// process's kine alone, so its poll only backs up the wake-up of each
// write.
const sqlitePollInterval = time.Second

// These are kine's own defaults (its CLI's and endpoint package's); kine's
// Config has none of its own, and its zero values fail.
const (
	kineNotifyInterval      = 5 * time.Second
	kineEmulatedETCDVersion = "3.5.13"
	kineGracefulStop        = 2 * time.Second
	// etcd's gRPC defaults, which kine serves with.
	grpcKeepAliveMinTime  = 5 * time.Second
	grpcKeepAliveInterval = 2 * time.Hour
	grpcKeepAliveTimeout  = 20 * time.Second
	grpcMaxRequestBytes   = 1.5*1024*1024 + 512*1024
)

// listenKine starts kine on cfg's database and serves its etcd API on the
// socket until ctx is done; it returns the endpoint to store through.
func listenKine(ctx context.Context, cfg kineConfig) (string, error) {
	backendCtx, stopBackend := context.WithCancel(context.Background())
	started := false
	defer func() {
		if !started {
			stopBackend()
		}
	}()
	driverCfg := &drivers.Config{
		Endpoint:             cfg.Endpoint,
		ConnectionPoolConfig: generic.ConnectionPoolConfig{MaxIdle: 20, MaxIdleTime: 2 * time.Minute},
		CompactInterval:      0, // the API server compacts
		CompactTimeout:       5 * time.Second,
		CompactMinRetain:     1000,
		CompactBatchSize:     1000,
		PollBatchSize:        500,
		PollInterval:         cfg.Poll,
	}
	isSQLite := strings.HasPrefix(cfg.Endpoint, sqliteScheme)
	var backend server.Backend
	var err error
	if isSQLite {
		backend, _, err = newSQLiteBackend(backendCtx, driverCfg)
	} else {
		backend, err = newKineBackend(backendCtx, driverCfg)
	}
	if err != nil {
		// Never the DSN itself: it may hold a password.
		return "", fmt.Errorf("creating the kine driver: %w", err)
	}
	if backend == nil {
		return "", fmt.Errorf("the endpoint names no database kine can embed")
	}
	if err := startKineBackend(backendCtx, backend); err != nil {
		return "", fmt.Errorf("starting the kine backend: %w", err)
	}

	var writes sync.Mutex
	var serverOpts []grpc.ServerOption
	if cfg.SerializeWrites {
		serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(serializeWrites(&writes)))
	}
	if cfg.MaxConcurrentCalls > 0 {
		serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(limitCalls(cfg.MaxConcurrentCalls)))
	}
	grpcServer := grpc.NewServer(append(serverOpts,
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: grpcKeepAliveMinTime}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: grpcKeepAliveInterval, Timeout: grpcKeepAliveTimeout}),
		grpc.MaxConcurrentStreams(math.MaxUint32),
		grpc.MaxRecvMsgSize(grpcMaxRequestBytes),
		grpc.MaxSendMsgSize(math.MaxInt32),
	)...)
	server.New(checkedCreates{backend}, "unix", kineNotifyInterval, kineEmulatedETCDVersion).Register(grpcServer)

	if err := os.Remove(cfg.Socket); err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("removing the stale socket %s: %w", cfg.Socket, err)
	}
	var lc net.ListenConfig
	listener, err := lc.Listen(ctx, "unix", cfg.Socket)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", cfg.Socket, err)
	}
	if err := os.Chmod(cfg.Socket, 0o600); err != nil {
		listener.Close()
		return "", fmt.Errorf("restricting %s: %w", cfg.Socket, err)
	}
	var checkpointer *walCheckpointer
	if isSQLite {
		if checkpointer, err = newWALCheckpointer(ctx, sqliteDatabase(cfg.Endpoint), &writes, cfg.WALCheckpoints); err != nil {
			listener.Close()
			return "", err
		}
	}
	started = true
	checkpointed := make(chan struct{})
	go func() {
		defer close(checkpointed)
		if checkpointer != nil {
			checkpointer.run(ctx)
		}
	}()
	go func() {
		<-ctx.Done()
		stop := time.AfterFunc(kineGracefulStop, grpcServer.Stop)
		defer stop.Stop()
		grpcServer.GracefulStop()
		<-checkpointed
		stopBackend()
	}()
	go func() {
		if err := grpcServer.Serve(listener); err != nil {
			klog.ErrorS(err, "Embedded kine stopped serving")
		}
	}()
	return "unix://" + cfg.Socket, nil
}
