package testenv

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// StartEtcd runs a single-member etcd on loopback ports, as the process
// "etcd" of s, with its data in dataDir, and returns its client URL once
// it is healthy.
func StartEtcd(ctx context.Context, s *Supervisor, binary, dataDir string) (string, error) {
	clientPort, err := FreePort()
	if err != nil {
		return "", err
	}
	peerPort, err := FreePort()
	if err != nil {
		return "", err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=testenv",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testenv=" + peerURL,
		"--log-level=warn",
		// Test data is thrown away; fsync would only slow it down.
		"--unsafe-no-fsync",
	}
	p, err := s.Start("etcd", binary, args)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	err = WaitUntil(ctx, "etcd /health", p, func(ctx context.Context) error {
		return getOK(ctx, client, clientURL+"/health")
	})
	return clientURL, err
}
