package recording

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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
	// events, which keeps a store's per-object cost (a PUT) off its
	// rate. A chunk is held whole before it is stored, except in a store
	// that takes it in pieces (a directory): there the chunk is written
	// as it is encoded, pieceBytes at a time, and cut at
	// DefaultFileChunkBytes, since creating a file costs the kernel as
	// much as writing a few hundred KiB to it.
	DefaultChunkBytes     = 512 << 10
	DefaultFileChunkBytes = 8 << 20
	DefaultChunkInterval  = time.Second
	pieceBytes            = 128 << 10
	// uploadQueue is how many batches (64 KiB of output each) may wait
	// for the uploader before the session waits for it: the recording
	// never drops a byte. A bulk session holds at most 10 batches and a
	// chunk (1.4 MiB).
	uploadQueue = 8
	// putTimeout bounds one write to the store.
	putTimeout = 30 * time.Second
)

// Options tune a Writer; the zero value is the defaults.
type Options struct {
	// ChunkBytes bounds a chunk, encoded: DefaultChunkBytes, or
	// DefaultFileChunkBytes for a store that takes chunks in pieces.
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
	uploads  chan batch
	uploaded chan struct{}
	failed   chan struct{}
	failOnce sync.Once
	err      error
	// batchBytes is how much raw output the session's path gathers
	// before it hands it over; less than a chunk, so that the uploader
	// encodes it while the session goes on, in pieces that stay in the
	// cache.
	batchBytes int
	rawBuffers buffers

	// The uploader's: the chunk being encoded, and the figures of the
	// document so far. The document is hashed event by event as it is
	// encoded, in document order, wherever the chunks are cut.
	chunk        []byte
	chunkBuffers buffers
	chunks       int
	size         int64
	digest       hash.Hash
	// With a store that takes a chunk in pieces, file is the chunk being
	// written and written how much of it is there: chunk holds only the
	// piece not yet written.
	pieces    pieceStore
	file      chunkFile
	committed chunkFile
	written   int

	mu sync.Mutex
	// raw is the batch being gathered: the events as they came (see
	// appendRaw), so that the session's path only copies bytes. pending
	// is the start of a UTF-8 sequence that the next output may complete.
	raw     []byte
	pending []byte
	closed  bool
}

// batch is raw events for the uploader; flush asks it to store what it
// has encoded without waiting for a full chunk.
type batch struct {
	raw   []byte
	flush bool
}

// Start writes the header of recording id to store and returns its
// writer. An error means nothing was recorded: a session must not start.
func Start(ctx context.Context, store Store, id string, h Header, opts Options) (*Writer, error) {
	if err := checkID(id); err != nil {
		return nil, err
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
	pieces, _ := store.(pieceStore)
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
		if pieces != nil {
			opts.ChunkBytes = DefaultFileChunkBytes
		}
	}
	batchBytes := min(opts.ChunkBytes, defaultBatchBytes)
	chunkBuffer := opts.ChunkBytes
	if pieces != nil {
		chunkBuffer = min(chunkBuffer, pieceBytes)
	}
	w := &Writer{
		store: store, id: id, opts: opts, started: started,
		stopTick: make(chan struct{}), uploads: make(chan batch, uploadQueue),
		uploaded: make(chan struct{}), failed: make(chan struct{}),
		batchBytes:   batchBytes,
		rawBuffers:   buffers{full: batchBytes + rawEventBytes(largeEvent), spare: spareRawBuffers},
		chunkBuffers: buffers{full: chunkBuffer + maxEventBytes(largeEvent), spare: spareChunkBuffers},
		size:         int64(len(line)), digest: sha256.New(), pieces: pieces,
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
	w.raw = w.rawBuffers.reserve(w.raw, rawEventBytes(len(data)))
	w.raw = appendRaw(w.raw, w.opts.Clock.Since(w.started), code, data)
	if len(w.raw) >= w.batchBytes {
		w.cutLocked(false)
	}
	return w.Err()
}

const (
	// defaultBatchBytes is the raw output a batch gathers at most.
	defaultBatchBytes = 64 << 10
	// largeEvent is the most output the relay hands over at once (a TLS
	// record's payload), and smallBuffer the buffer a batch or a chunk
	// starts in: a quiet session's second fits, and only bulk output
	// takes a full buffer.
	largeEvent  = 16 << 10
	smallBuffer = 8 << 10
	// rawHeader is an event's code, time and length in a batch.
	rawHeader = 1 + 8 + 4
)

// rawEventBytes and maxEventBytes are what an event of n bytes of data
// takes in a batch, and at most once encoded.
func rawEventBytes(n int) int { return rawHeader + n }
func maxEventBytes(n int) int { return maxEscape*n + 64 }

// buffers hands out the buffers of batches or chunks: small ones first,
// full ones (full bytes) reused from spare.
type buffers struct {
	full  int
	spare chan []byte
}

// reserve returns b with room for n more bytes: a new buffer if b is
// nil, a full one if b is small and outgrown. A full buffer is cut
// before it is outgrown, but for an event larger than the relay hands
// over, for which append grows it.
func (bs buffers) reserve(b []byte, n int) []byte {
	switch {
	case b == nil:
		return bs.get(n)
	case cap(b)-len(b) < n && cap(b) < bs.full:
		return append(bs.get(len(b)+n), b...)
	}
	return b
}

func (bs buffers) get(n int) []byte {
	if n <= smallBuffer && bs.full > smallBuffer {
		return make([]byte, 0, smallBuffer)
	}
	select {
	case b := <-bs.spare:
		if cap(b) >= max(n, bs.full) {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, max(n, bs.full))
}

// put keeps a full buffer for the next batch or chunk of any session.
func (bs buffers) put(b []byte) {
	if cap(b) < bs.full {
		return
	}
	select {
	case bs.spare <- b:
	default:
	}
}

// spareRawBuffers and spareChunkBuffers are the full buffers writers are
// done with (a sync.Pool would lose them at every GC, and they are big
// enough to make the GC run more often): a bulk session fills a batch
// every 64 KiB and a chunk every 512 KiB.
var (
	spareRawBuffers   = make(chan []byte, 16)
	spareChunkBuffers = make(chan []byte, 4)
)

// appendRaw appends an event as it came: its code, its time in
// nanoseconds and its data, length-prefixed.
func appendRaw(dst []byte, elapsed time.Duration, code string, data []byte) []byte {
	dst = append(dst, code[0])
	dst = binary.LittleEndian.AppendUint64(dst, uint64(elapsed))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(data)))
	return append(dst, data...)
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

// cutLocked hands the batch being gathered to the uploader, waiting
// while the uploader is uploadQueue batches behind.
func (w *Writer) cutLocked(flush bool) {
	if len(w.raw) == 0 && !flush {
		return
	}
	b := batch{raw: w.raw, flush: flush}
	w.raw = nil
	select {
	case w.uploads <- b:
	case <-w.failed:
	}
}

// flushLocked writes out everything recorded so far, a held-back partial
// UTF-8 sequence included.
func (w *Writer) flushLocked() {
	if len(w.pending) > 0 {
		w.raw = w.rawBuffers.reserve(w.raw, rawEventBytes(len(w.pending)))
		w.raw = appendRaw(w.raw, w.opts.Clock.Since(w.started), CodeOutput, w.pending)
		w.pending = nil
	}
	w.cutLocked(true)
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

// upload encodes the batches into chunks of at most ChunkBytes (more
// only for one event alone), hashing each event as it is encoded, and
// stores a chunk when it is full or a flush asks for it.
func (w *Writer) upload() {
	defer close(w.uploaded)
	for b := range w.uploads {
		if w.Err() == nil {
			w.encode(b.raw)
			if b.flush {
				// A quiet session holds no buffer between its chunks,
				// and no file a second after its last.
				stored := w.chunks
				if w.storeChunk(); w.chunks == stored {
					w.release()
				}
				w.chunkBuffers.put(w.chunk)
				w.chunk = nil
			}
		}
		w.rawBuffers.put(b.raw)
	}
	w.storeChunk()
	if w.file != nil {
		w.file.abort()
	}
	w.release()
}

// release releases the chunk committed before the one just committed.
func (w *Writer) release() {
	if w.committed == nil {
		return
	}
	if err := w.committed.release(); err != nil {
		w.fail(fmt.Errorf("writing a chunk of recording %s: %w", w.id, err))
	}
	w.committed = nil
}

// encode turns raw events into asciicast lines in the chunk.
func (w *Writer) encode(raw []byte) {
	for len(raw) >= rawHeader && w.Err() == nil {
		code := raw[:1]
		elapsed := time.Duration(binary.LittleEndian.Uint64(raw[1:9]))
		n := int(binary.LittleEndian.Uint32(raw[9:13]))
		data := raw[rawHeader : rawHeader+n]
		raw = raw[rawHeader+n:]

		w.chunk = w.chunkBuffers.reserve(w.chunk, maxEventBytes(n))
		mark := len(w.chunk)
		w.chunk = appendEvent(w.chunk, elapsed, string(code), data)
		w.digest.Write(w.chunk[mark:])
		if w.written+len(w.chunk) > w.opts.ChunkBytes && w.written+mark > 0 {
			// The event goes to the next chunk.
			next := w.chunkBuffers.get(len(w.chunk) - mark)
			next = append(next, w.chunk[mark:]...)
			w.chunk = w.chunk[:mark]
			w.storeChunk()
			w.chunkBuffers.put(w.chunk)
			w.chunk = next
		}
		switch {
		case w.written+len(w.chunk) >= w.opts.ChunkBytes:
			w.storeChunk()
		case w.pieces != nil && len(w.chunk) >= pieceBytes:
			w.writePiece()
		}
	}
}

// writePiece writes the chunk's encoded piece to its file, which it
// creates for the chunk's first piece.
func (w *Writer) writePiece() {
	n := w.chunks + 1
	if w.file == nil {
		f, err := w.pieces.create(chunkKey(w.id, n))
		if err != nil {
			w.fail(fmt.Errorf("writing chunk %d of recording %s: %w", n, w.id, err))
			return
		}
		w.file = f
	}
	if _, err := w.file.Write(w.chunk); err != nil {
		w.file.abort()
		w.file = nil
		w.fail(fmt.Errorf("writing chunk %d of recording %s: %w", n, w.id, err))
		return
	}
	w.written += len(w.chunk)
	w.chunk = w.chunk[:0]
}

// storeChunk stores the chunk being encoded, if any, as the next chunk.
func (w *Writer) storeChunk() {
	if w.written+len(w.chunk) == 0 || w.Err() != nil {
		return
	}
	n := w.chunks + 1
	size := w.written + len(w.chunk)
	var err error
	if w.pieces != nil {
		if w.writePiece(); w.Err() != nil {
			return
		}
		if err = w.file.commit(); err == nil {
			w.release()
			w.committed = w.file
		}
		w.file, w.written = nil, 0
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), putTimeout)
		err = w.store.Put(ctx, chunkKey(w.id, n), w.chunk)
		cancel()
	}
	if err != nil {
		w.fail(fmt.Errorf("writing chunk %d of recording %s: %w", n, w.id, err))
		return
	}
	w.chunks = n
	w.size += int64(size)
	w.chunk = w.chunk[:0]
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
