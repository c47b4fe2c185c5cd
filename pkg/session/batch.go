package session

import "io"

// maxRecordPayload is the most plaintext one TLS record carries.
const maxRecordPayload = 16 << 10

// batchWriter gathers small writes into TLS-record-sized ones: a write to
// a TLS connection is a record and a system call, and frames cut across
// records would otherwise cost two of each. It holds a pooled buffer only
// between the first write and the flush; the relay flushes before every
// read that may wait, so a quiet session holds none.
type batchWriter struct {
	dst io.Writer
	buf *[]byte
}

func (w *batchWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.buf == nil {
			if len(p) >= maxRecordPayload {
				// Whole records need no gathering.
				n := len(p) - len(p)%maxRecordPayload
				m, err := w.dst.Write(p[:n])
				written += m
				if err != nil {
					return written, err
				}
				p = p[n:]
				continue
			}
			w.buf = copyBuffers.Get().(*[]byte)
			*w.buf = (*w.buf)[:0]
		}
		b := *w.buf
		n := copy(b[len(b):maxRecordPayload], p)
		*w.buf = b[:len(b)+n]
		written += n
		p = p[n:]
		if len(*w.buf) == maxRecordPayload {
			if err := w.Flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Flush writes what is gathered and gives the buffer back.
func (w *batchWriter) Flush() error {
	if w.buf == nil {
		return nil
	}
	b := *w.buf
	w.buf = nil
	var err error
	if len(b) > 0 {
		_, err = w.dst.Write(b)
	}
	b = b[:cap(b)]
	copyBuffers.Put(&b)
	return err
}
