package testenv

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// startEtcd runs a single-member etcd on loopback ports for the
// kube-apiserver.
func (tb *Testbed) startEtcd(ctx context.Context) error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=testbed",
		"--data-dir=" + filepath.Join(tb.cfg.WorkDir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testbed=" + peerURL,
		"--log-level=warn",
		// The data of a testbed is thrown away; fsync would only slow it.
		"--unsafe-no-fsync",
	}
	p, err := tb.launch("etcd", tb.cfg.Binaries.Etcd, args)
	if err != nil {
		return err
	}
	tb.etcdURL = clientURL
	client := &http.Client{Timeout: 2 * time.Second}
	return waitUntil(ctx, "etcd /health", p, func(ctx context.Context) error {
		return getOK(ctx, client, clientURL+"/health")
	})
}
