package tunnelserver

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/tunnel"
)

// presentTicket dials s's /connect as an agent's stream connection would,
// and returns the status and, on 101, the connection.
func presentTicket(t *testing.T, hs *httptest.Server, cluster, ticket string) (int, net.Conn) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", hs.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dialling the test server: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET " + tunnel.ConnectPath + " HTTP/1.1\r\nHost: janus\r\nConnection: Upgrade\r\nUpgrade: " + tunnel.StreamUpgrade +
		"\r\n" + tunnel.HeaderCluster + ": " + cluster + "\r\n" + tunnel.HeaderStreamTicket + ": " + ticket + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("writing the stream request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return resp.StatusCode, nil
	}
	t.Cleanup(func() { conn.Close() })
	return resp.StatusCode, conn
}

func TestStreamTicketsAreSingleUseAndBoundToTheirCluster(t *testing.T) {
	s := NewServer(&fakeClusters{}, time.Hour)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	pending := func(cluster string) (string, *pendingStream) {
		ticket, err := newTicket()
		if err != nil {
			t.Fatal(err)
		}
		p := &pendingStream{cluster: cluster, conns: make(chan net.Conn, 1)}
		s.streams.add(ticket, p)
		return ticket, p
	}

	t.Run("another cluster's ticket", func(t *testing.T) {
		ticket, _ := pending("dev")
		if code, _ := presentTicket(t, hs, "prod", ticket); code != http.StatusUnauthorized {
			t.Errorf("prod presenting dev's ticket: %d, want 401", code)
		}
		// Presenting it spent it, even though it was refused.
		if code, _ := presentTicket(t, hs, "dev", ticket); code != http.StatusUnauthorized {
			t.Errorf("dev presenting its ticket after prod did: %d, want 401", code)
		}
	})
	t.Run("an unknown ticket", func(t *testing.T) {
		if code, _ := presentTicket(t, hs, "dev", "made-up"); code != http.StatusUnauthorized {
			t.Errorf("an unknown ticket: %d, want 401", code)
		}
	})
	t.Run("a ticket used twice", func(t *testing.T) {
		ticket, p := pending("dev")
		code, conn := presentTicket(t, hs, "dev", ticket)
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("dev presenting its ticket: %d, want 101", code)
		}
		var delivered net.Conn
		select {
		case delivered = <-p.conns:
		case <-time.After(5 * time.Second):
			t.Fatal("the stream connection was not handed to its waiter")
		}
		defer delivered.Close()
		// The delivered connection is the agent's.
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		_ = delivered.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := delivered.Read(buf); err != nil || string(buf) != "ping" {
			t.Errorf("read %q, %v through the stream connection, want ping", buf, err)
		}
		if code, _ := presentTicket(t, hs, "dev", ticket); code != http.StatusUnauthorized {
			t.Errorf("the same ticket again: %d, want 401", code)
		}
	})
	t.Run("a ticket without the upgrade", func(t *testing.T) {
		ticket, _ := pending("dev")
		req := httptest.NewRequest(http.MethodGet, tunnel.ConnectPath, nil)
		req.Header.Set(tunnel.HeaderCluster, "dev")
		req.Header.Set(tunnel.HeaderStreamTicket, ticket)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("a stream request without Upgrade: %d, want 400", rec.Code)
		}
	})
}
