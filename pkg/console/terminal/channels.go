package terminal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
)

// Protocol is the channel protocol the browser and the API speak.
const Protocol = "v5.channel.k8s.io"

// The channels of v5.channel.k8s.io: the first byte of every message.
const (
	channelStdin  byte = 0
	channelStdout byte = 1
	channelStderr byte = 2
	channelStatus byte = 3
	channelResize byte = 4
	channelClose  byte = 255
)

// Bounds of what a browser may send and of a terminal's size.
const (
	// maxMessage bounds one message from the browser: a paste of 32 KiB
	// is a lot of typing; xterm.js sends keystrokes one by one.
	maxMessage = 32 << 10
	maxColumns = 1000
	maxRows    = 1000
)

// browser is the browser's side of one terminal: what it types becomes the
// command's stdin, its resize messages the terminal's sizes, and the
// command's output goes back on channels 1 and 2.
type browser struct {
	conn *websocket.Conn

	writeMu sync.Mutex
	// writeWait bounds one write to a browser that stopped reading.
	writeWait time.Duration

	stdin      *io.PipeReader
	stdinWrite *io.PipeWriter
	sizes      *sizeQueue
}

func newBrowser(conn *websocket.Conn, writeWait time.Duration) *browser {
	r, w := io.Pipe()
	return &browser{conn: conn, writeWait: writeWait, stdin: r, stdinWrite: w, sizes: newSizeQueue()}
}

// errProtocol is a message from the browser that breaks the protocol.
var errProtocol = errors.New("the browser broke the channel protocol")

// readLoop reads the browser's messages until it closes or breaks the
// protocol; then stdin ends and no more sizes come.
func (b *browser) readLoop() error {
	defer b.sizes.close()
	defer b.stdinWrite.Close()
	for {
		kind, msg, err := b.conn.ReadMessage()
		if err != nil {
			return err
		}
		if kind != websocket.BinaryMessage || len(msg) == 0 {
			return fmt.Errorf("%w: a message must be binary and start with its channel", errProtocol)
		}
		switch msg[0] {
		case channelStdin:
			if _, err := b.stdinWrite.Write(msg[1:]); err != nil {
				// The command no longer reads: the session is ending.
				return nil
			}
		case channelResize:
			size, err := parseSize(msg[1:])
			if err != nil {
				return err
			}
			b.sizes.push(size)
		case channelClose:
			if len(msg) == 2 && msg[1] == channelStdin {
				_ = b.stdinWrite.Close()
				continue
			}
			return fmt.Errorf("%w: only stdin can be closed", errProtocol)
		default:
			return fmt.Errorf("%w: a browser may not write to channel %d", errProtocol, msg[0])
		}
	}
}

// parseSize reads a resize message: {"Width": columns, "Height": rows}.
func parseSize(raw []byte) (remotecommand.TerminalSize, error) {
	var size remotecommand.TerminalSize
	if err := json.Unmarshal(raw, &size); err != nil {
		return size, fmt.Errorf("%w: a resize message is {\"Width\":columns,\"Height\":rows}: %v", errProtocol, err)
	}
	if size.Width == 0 || size.Height == 0 || size.Width > maxColumns || size.Height > maxRows {
		return size, fmt.Errorf("%w: a terminal of %dx%d: columns and rows must be 1 to %d", errProtocol, size.Width, size.Height, maxColumns)
	}
	return size, nil
}

// write sends data on channel.
func (b *browser) write(channel byte, data []byte) error {
	msg := make([]byte, 1+len(data))
	msg[0] = channel
	copy(msg[1:], data)
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	_ = b.conn.SetWriteDeadline(time.Now().Add(b.writeWait))
	return b.conn.WriteMessage(websocket.BinaryMessage, msg)
}

// finish sends the final Status and closes the websocket normally.
func (b *browser) finish(status *metav1.Status) {
	raw, _ := json.Marshal(status)
	_ = b.write(channelStatus, raw)
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	_ = b.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(b.writeWait))
}

// channelWriter is the io.Writer of one output channel.
type channelWriter struct {
	b       *browser
	channel byte
}

func (w channelWriter) Write(p []byte) (int, error) {
	if err := w.b.write(w.channel, p); err != nil {
		return 0, fmt.Errorf("writing to the browser: %w", err)
	}
	return len(p), nil
}

// sizeQueue hands the browser's terminal sizes to the executor; only the
// latest size not yet taken is kept.
type sizeQueue struct {
	ch   chan remotecommand.TerminalSize
	done chan struct{}
	once sync.Once
}

func newSizeQueue() *sizeQueue {
	return &sizeQueue{ch: make(chan remotecommand.TerminalSize, 1), done: make(chan struct{})}
}

func (q *sizeQueue) push(size remotecommand.TerminalSize) {
	for {
		select {
		case q.ch <- size:
			return
		default:
		}
		select {
		case <-q.ch: // a newer size replaces the one not yet taken
		default:
		}
	}
}

func (q *sizeQueue) close() { q.once.Do(func() { close(q.done) }) }

// Next blocks until the browser resizes its terminal; nil ends the queue.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case size := <-q.ch:
		return &size
	case <-q.done:
		return nil
	}
}
