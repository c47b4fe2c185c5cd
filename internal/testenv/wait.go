package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	pollInterval = 100 * time.Millisecond
	// readyTimeout is generous: on two busy cores (go test ./... builds and
	// runs other packages meanwhile) a kube-apiserver can take half a minute.
	readyTimeout = 2 * time.Minute
	logTailLines = 30
)

// Permanent marks an error of a check that retrying cannot fix.
func Permanent(err error) error { return permanent{err} }

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// WaitUntil polls check until it reports nil or a Permanent error, p (if
// any) exits, readyTimeout passes or ctx ends. Errors say what was awaited
// and, for a process, show the end of its log.
func WaitUntil(ctx context.Context, what string, p *Process, check func(context.Context) error) error {
	var last error
	var exitedErr error
	err := wait.PollUntilContextTimeout(ctx, pollInterval, readyTimeout, true, func(ctx context.Context) (bool, error) {
		if p != nil {
			if exited, exitErr := p.Exited(); exited {
				exitedErr = fmt.Errorf("%s exited before it was ready (%v)", p.Name, exitErr)
				return false, exitedErr
			}
		}
		last = check(ctx)
		if errors.As(last, new(permanent)) {
			return false, last
		}
		return last == nil, nil
	})
	if err == nil {
		return nil
	}
	switch {
	case exitedErr != nil:
	case errors.As(err, new(permanent)):
		exitedErr = fmt.Errorf("%s: %w", what, err)
	default:
		exitedErr = fmt.Errorf("waiting for %s: %w (last: %v)", what, err, last)
	}
	if p != nil {
		return fmt.Errorf("%w\n--- last lines of %s ---\n%s", exitedErr, p.LogFile, p.LogTail(logTailLines))
	}
	return exitedErr
}

// WaitServing waits (as WaitUntil does) until p answers GET base+path with
// 200 over TLS, its certificate signed by caPEM; certFile and keyFile, if
// given, authenticate the request.
func WaitServing(ctx context.Context, p *Process, base, path string, caPEM []byte, certFile, keyFile string) error {
	client, err := httpsClient(caPEM, certFile, keyFile)
	if err != nil {
		return err
	}
	return WaitUntil(ctx, p.Name+" "+path, p, func(ctx context.Context) error {
		return getOK(ctx, client, base+path)
	})
}

// httpsClient trusts only caPEM, and presents certFile/keyFile if given.
func httpsClient(caPEM []byte, certFile, keyFile string) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in PEM data")
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading client certificate %s: %w", certFile, err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig},
	}, nil
}

// getOK is nil when url answers 200, and otherwise says what it answered:
// for /readyz and /healthz, the checks that fail.
func getOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, failedChecks(string(body)))
	}
	return nil
}

// failedChecks keeps only the failing checks ("[-]...") of a /readyz or
// /healthz answer, which otherwise lists dozens that pass.
func failedChecks(body string) string {
	var failed []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "[-]") {
			failed = append(failed, line)
		}
	}
	if len(failed) == 0 {
		return strings.TrimSpace(body)
	}
	return strings.Join(failed, "; ")
}
