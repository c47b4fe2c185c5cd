package tunnelserver

import (
	"net"
	"os"
	"sync"
	"time"
)

// tunnelConn is a connection through remotedialer with write deadlines
// that mean what net.Conn says. remotedialer's own Write arms a timer at
// the write deadline that closes the connection when it fires, even after
// the write finished and the deadline was cleared: a websocket or HTTP
// handshake that sets a deadline and clears it afterwards killed the
// connection that long later (every exec session ended at 30 s). Here a
// write deadline is checked when a write starts and never reaches
// remotedialer; read deadlines, which remotedialer honours, pass through.
type tunnelConn struct {
	net.Conn

	mu            sync.Mutex
	writeDeadline time.Time
}

func newTunnelConn(c net.Conn) net.Conn { return &tunnelConn{Conn: c} }

func (c *tunnelConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	deadline := c.writeDeadline
	c.mu.Unlock()
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	return c.Conn.Write(b)
}

func (c *tunnelConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *tunnelConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeDeadline = t
	return nil
}
