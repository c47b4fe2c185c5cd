package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/utils/clock"
)

// Format is the recording format Janus writes.
const Format = "asciicast-v2"

const (
	// DefaultChunkBytes and DefaultChunkInterval bound a chunk: a crash
	// loses at most the last interval of a session. A quiet session
	// writes a chunk a second; bulk output is cut at 512 KiB of encoded
	// events, which keeps a store's per-object cost (a file created, a
	// PUT) off its rate.
	DefaultChunkBytes    = 512 << 10
	DefaultChunkInterval = time.Second
	// uploadQueue is how many cut chunks may wait for the store before
	// the session waits for it: the recording never drops a byte. With
	// the chunk being gathered and the one being stored, a session holds
	// at most 6 chunk buffers (3.5 MiB).
	uploadQueue = 4
	// putTimeout bounds one write to the store.
	putTimeout = 30 * time.Second
)

// Options tune a Writer; the zero value is the defaults.
type Options struct {
	ChunkBytes    int
	ChunkInterval time.Duration
	// Clock times the events; the real clock unless a test sets it.
	Clock clock.PassiveClock
}

// Summary is a closed (or failed) recording, for the Session's status.
type Summary struct {
	ID       string
	Format   string
	Location string
	// Chunks counts the chunks after the header; Size the bytes of the
	// whole document.
	Chunks int
	Size   int64
	// SHA256 is the digest of the whole document, hex: of the header and
	// every chunk after it, joined, which is what Read returns and what
	// `cat <dir>/*.cast | sha256sum` reads.
	SHA256 string
}

// Writer records one session. Its methods may be called from several
// goroutines; events are kept in the order the calls were made.
type Writer struct {
	store    Store
	id       string
	opts     Options
	started  time.Time
	stopTick chan struct{}
	uploads  chan []byte
	uploaded chan struct{}
	failed   chan struct{}
	failOnce sync.Once
	err      error
	// bufferSize is a full chunk buffer's capacity: a chunk and the
	// worst case of the event that ends it.
	bufferSize int

	// chunks, size and digest are the uploader's: the document is hashed
	// off the session's path, in chunk order.
	chunks int
	size   int64
	digest hash.Hash

	mu sync.Mutex
	// buf is the chunk being gathered, its events encoded as they come:
	// the session's path encodes (the frame is in its cache), the
	// uploader hashes and stores. pending is the start of a UTF-8
	// sequence that the next output may complete.
	buf     []byte
	pending []byte
	closed  bool
}

// Start writes the header of recording id to store and returns its
// writer. An error means nothing was recorded: a session must not start.
func Start(ctx context.Context, store Store, id string, h Header, opts Options) (*Writer, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	if opts.ChunkInterval <= 0 {
		opts.ChunkInterval = DefaultChunkInterval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	started := opts.Clock.Now()
	h.Version = 2
	h.Timestamp = started.Unix()
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = 80, 24
	}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding the header of recording %s: %w", id, err)
	}
	line = append(line, '\n')
	putCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), putTimeout)
	defer cancel()
	if err := store.Put(putCtx, chunkKey(id, 0), line); err != nil {
		return nil, fmt.Errorf("writing the header of recording %s: %w", id, err)
	}
	w := &Writer{
		store: store, id: id, opts: opts, started: started,
		stopTick: make(chan struct{}), uploads: make(chan []byte, uploadQueue),
		uploaded: make(chan struct{}), failed: make(chan struct{}),
		bufferSize: opts.ChunkBytes + maxEventBytes(largeEvent),
		size:       int64(len(line)), digest: sha256.New(),
	}
	w.digest.Write(line)
	go w.upload()
	go w.tick()
	return w, nil
}

// Failed is closed once a chunk could not be written; Err says why.
func (w *Writer) Failed() <-chan struct{} { return w.failed }

// Err is the first error writing a chunk, or nil.
func (w *Writer) Err() error {
	select {
	case <-w.failed:
		return w.err
	default:
		return nil
	}
}

func (w *Writer) fail(err error) {
	w.failOnce.Do(func() {
		w.err = err
		close(w.failed)
	})
}

// Output records bytes the client received, exactly.
func (w *Writer) Output(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) > 0 {
		p = append(w.pending, p...)
		w.pending = nil
	}
	if tail := incompleteTail(p); tail > 0 {
		w.pending = append([]byte(nil), p[len(p)-tail:]...)
		p = p[:len(p)-tail]
	}
	if len(p) == 0 {
		return w.Err()
	}
	return w.eventLocked(CodeOutput, p)
}

// Input records bytes the user sent.
func (w *Writer) Input(p []byte) error { return w.event(CodeInput, p) }

// Resize records a new terminal size.
func (w *Writer) Resize(cols, rows int) error { return w.event(CodeResize, ResizeData(cols, rows)) }

// Marker records a notice of Janus's own (an idle warning, a revocation).
func (w *Writer) Marker(label string) error { return w.event(CodeMarker, []byte(label)) }

func (w *Writer) event(code string, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.eventLocked(code, data)
}

func (w *Writer) eventLocked(code string, data []byte) error {
	if w.closed {
		return errors.New("the recording is closed")
	}
	w.appendLocked(code, data)
	return w.Err()
}

// appendLocked encodes an event into the chunk being gathered, and cuts
// the chunk before the event if the event would take it over ChunkBytes
// (a chunk is over it only when one event alone is), or after it if it
// reaches ChunkBytes.
func (w *Writer) appendLocked(code string, data []byte) {
	w.reserveLocked(maxEventBytes(len(data)))
	mark := len(w.buf)
	w.buf = appendEvent(w.buf, w.opts.Clock.Since(w.started), code, data)
	if len(w.buf) > w.opts.ChunkBytes && mark > 0 {
		next := w.newBuffer(len(w.buf) - mark)
		next = append(next, w.buf[mark:]...)
		w.buf = w.buf[:mark]
		w.cutLocked()
		w.buf = next
	}
	if len(w.buf) >= w.opts.ChunkBytes {
		w.cutLocked()
	}
}

// largeEvent is the most output the relay hands over at once (a TLS
// record's payload), and smallBuffer the buffer a chunk starts in: a
// quiet session's chunk of a second fits, and only bulk output takes a
// full chunk buffer.
const (
	largeEvent  = 16 << 10
	smallBuffer = 8 << 10
)

// maxEventBytes is the most an event of n bytes of data may take encoded.
func maxEventBytes(n int) int { return maxEscape*n + 64 }

// reserveLocked makes room for n more bytes in the chunk being gathered:
// a small buffer outgrown moves to a full one; a full one too short for
// an event larger than the relay hands over is cut first, rather than
// grown and copied.
func (w *Writer) reserveLocked(n int) {
	if w.buf != nil && cap(w.buf)-len(w.buf) < n {
		if cap(w.buf) < w.bufferSize {
			full := w.newBuffer(len(w.buf) + n)
			w.buf = append(full, w.buf...)
			return
		}
		w.cutLocked()
	}
	if w.buf == nil {
		w.buf = w.newBuffer(n)
	}
}

// newBuffer is an empty chunk buffer with room for n bytes: a small one
// if that will do, or a full one, reused if any is spare.
func (w *Writer) newBuffer(n int) []byte {
	if n <= smallBuffer && w.bufferSize > smallBuffer {
		return make([]byte, 0, smallBuffer)
	}
	select {
	case b := <-spareBuffers:
		if cap(b) >= max(n, w.bufferSize) {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(n, w.bufferSize))
}

// spareBuffers are full chunk buffers the uploaders are done with, kept
// for the next chunk of any session (a sync.Pool would lose them at
// every GC, and a chunk buffer is big enough to make the GC run more
// often): a bulk session cuts a chunk every few milliseconds.
var spareBuffers = make(chan []byte, 8)

func spareBuffer(b []byte) {
	if cap(b) < DefaultChunkBytes {
		return
	}
	select {
	case spareBuffers <- b:
	default:
	}
}

// incompleteTail is how many bytes at the end of p begin a UTF-8
// sequence that is not complete yet.
func incompleteTail(p []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(p); k++ {
		if utf8.RuneStart(p[len(p)-k]) {
			if !utf8.FullRune(p[len(p)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// cutLocked ends the chunk being gathered and hands it to the uploader,
// waiting while the store is uploadQueue chunks behind.
func (w *Writer) cutLocked() {
	if len(w.buf) == 0 {
		return
	}
	chunk := w.buf
	w.buf = nil
	select {
	case w.uploads <- chunk:
	case <-w.failed:
	}
}

// flushLocked writes out everything recorded so far, a held-back partial
// UTF-8 sequence included.
func (w *Writer) flushLocked() {
	if len(w.pending) > 0 {
		w.appendLocked(CodeOutput, w.pending)
		w.pending = nil
	}
	w.cutLocked()
}

func (w *Writer) tick() {
	t := time.NewTicker(w.opts.ChunkInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.mu.Lock()
			if !w.closed {
				w.flushLocked()
			}
			w.mu.Unlock()
		case <-w.stopTick:
			return
		}
	}
}

func (w *Writer) upload() {
	defer close(w.uploaded)
	for chunk := range w.uploads {
		if w.Err() != nil {
			continue
		}
		n := w.chunks + 1
		ctx, cancel := context.WithTimeout(context.Background(), putTimeout)
		err := w.store.Put(ctx, chunkKey(w.id, n), chunk)
		cancel()
		if err != nil {
			w.fail(fmt.Errorf("writing chunk %d of recording %s: %w", n, w.id, err))
			continue
		}
		w.chunks = n
		w.size += int64(len(chunk))
		w.digest.Write(chunk)
		spareBuffer(chunk)
	}
}

// Close writes out the rest, waits for the store and seals the recording
// with its digest. The summary is filled in even on error.
func (w *Writer) Close() (Summary, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.summary(), errors.New("the recording is already closed")
	}
	w.flushLocked()
	w.closed = true
	close(w.stopTick)
	close(w.uploads)
	w.mu.Unlock()
	<-w.uploaded
	// The summary is read only once the uploader is done with it.
	s := w.summary()
	if err := w.Err(); err != nil {
		return s, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), putTimeout)
	defer cancel()
	if err := seal(ctx, w.store, s); err != nil {
		return s, err
	}
	return s, nil
}

func (w *Writer) summary() Summary {
	return Summary{
		ID: w.id, Format: Format, Location: w.store.Location(w.id),
		Chunks: w.chunks, Size: w.size, SHA256: hex.EncodeToString(w.digest.Sum(nil)),
	}
}

// sealRecord is the last object of a closed recording. It lets Verify
// notice a recording cut short, but it lives beside the chunks: only the
// digest kept elsewhere (the Session's status) proves them untouched.
type sealRecord struct {
	Format string `json:"format"`
	Chunks int    `json:"chunks"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func seal(ctx context.Context, store Store, s Summary) error {
	data, _ := json.Marshal(sealRecord{Format: s.Format, Chunks: s.Chunks, Size: s.Size, SHA256: s.SHA256})
	if err := store.Put(ctx, sealKey(s.ID), data); err != nil {
		return fmt.Errorf("sealing recording %s: %w", s.ID, err)
	}
	return nil
}

func chunkKey(id string, n int) string { return fmt.Sprintf("%s/%08d.cast", id, n) }
func sealKey(id string) string         { return id + "/seal.json" }
