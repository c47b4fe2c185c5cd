package connector

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// streamDialer is the agent's end of tunnel.PathStreams: it dials a stream
// connection back to janus-apiserver and serves the agent API on it.
type streamDialer struct {
	cluster  string
	address  string
	tls      *tls.Config
	listener *pipeListener
}

func newStreamDialer(cfg Config, listener *pipeListener) (*streamDialer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing the Janus URL: %w", err)
	}
	address := u.Host
	if u.Port() == "" {
		address = net.JoinHostPort(u.Hostname(), "443")
	}
	tlsConfig := &tls.Config{}
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = u.Hostname()
	}
	// The stream is taken over after one HTTP/1.1 exchange; HTTP/2 has
	// no such thing.
	tlsConfig.NextProtos = []string{"http/1.1"}
	return &streamDialer{cluster: cfg.Cluster, address: address, tls: tlsConfig, listener: listener}, nil
}

func (d *streamDialer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req tunnel.StreamRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req); err != nil || req.Ticket == "" {
		writeStreamError(w, http.StatusBadRequest, "a stream request needs a ticket")
		return
	}
	conn, err := d.dial(r.Context(), req.Ticket)
	if err != nil {
		klog.ErrorS(err, "Dialling a stream connection", "cluster", d.cluster)
		writeStreamError(w, http.StatusBadGateway, err.Error())
		return
	}
	if err := d.listener.deliver(r.Context(), conn); err != nil {
		conn.Close()
		writeStreamError(w, http.StatusServiceUnavailable, "the agent is shutting down")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dial opens the stream connection and presents the ticket.
func (d *streamDialer) dial(ctx context.Context, ticket string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, tunnel.StreamTimeout)
	defer cancel()
	dialer := tls.Dialer{Config: d.tls}
	conn, err := dialer.DialContext(ctx, "tcp", d.address)
	if err != nil {
		return nil, fmt.Errorf("dialling %s: %w", d.address, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	req := "GET " + tunnel.ConnectPath + " HTTP/1.1\r\nHost: " + d.address + "\r\nConnection: Upgrade\r\nUpgrade: " + tunnel.StreamUpgrade +
		"\r\n" + tunnel.HeaderCluster + ": " + d.cluster + "\r\n" + tunnel.HeaderStreamTicket + ": " + ticket + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("opening a stream connection: %w", err)
	}
	br := bufio.NewReaderSize(conn, 256)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the answer to a stream connection: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("janus-apiserver refused the stream connection: %s", resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return tunnel.WithBuffered(conn, br), nil
}

func writeStreamError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(tunnel.Error{Message: msg})
}
