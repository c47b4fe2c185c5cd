package agent

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// spliceBufferSize is a full TLS record: a bulk stream moves one record
// per read and per write.
const spliceBufferSize = 16 << 10

var spliceBuffers = sync.Pool{New: func() any { b := make([]byte, spliceBufferSize); return &b }}

// splice copies between a and b, each read through its bufio.Reader, until
// either side ends; then it closes both.
func splice(a net.Conn, aR *bufio.Reader, b net.Conn, bR *bufio.Reader) {
	done := make(chan struct{}, 2)
	go func() { _ = leanCopy(b, aR); done <- struct{}{} }()
	go func() { _ = leanCopy(a, bR); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
	<-done
}

// leanCopy copies src to dst holding no buffer of its own while src is
// quiet: it waits in src's own small buffer, and writes what arrives
// straight from it. Only when that buffer fills up — a bulk stream — does
// it take a record-sized buffer from the pool and read into it directly,
// giving it back as soon as a read comes back short. Hundreds of idle
// sessions thus cost their bufio buffers, not 32 KiB each as io.Copy's.
func leanCopy(dst io.Writer, src *bufio.Reader) error {
	for {
		if _, err := src.Peek(1); err != nil {
			return err
		}
		full := src.Buffered() == src.Size()
		chunk, _ := src.Peek(src.Buffered())
		if _, err := dst.Write(chunk); err != nil {
			return err
		}
		_, _ = src.Discard(len(chunk))
		if !full {
			continue
		}
		if err := copyBulk(dst, src); err != nil {
			return err
		}
	}
}

// copyBulk copies while reads keep coming back at least src's buffer
// size: src's buffer is empty, so each read goes straight to the conn.
func copyBulk(dst io.Writer, src *bufio.Reader) error {
	bp := spliceBuffers.Get().(*[]byte)
	defer spliceBuffers.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
		if n < src.Size() {
			return nil
		}
	}
}
