package tunnel

import (
	"bufio"
	"net"
)

// WithBuffered returns conn reading first what r holds of it already: a
// stream connection is taken over after one HTTP/1.1 exchange, whose reader
// may have read past the answer into the stream. Both ends use it.
func WithBuffered(conn net.Conn, r *bufio.Reader) net.Conn {
	if r == nil || r.Buffered() == 0 {
		return conn
	}
	return &bufferedConn{Conn: conn, r: r}
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
