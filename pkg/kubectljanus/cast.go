package kubectljanus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/infroware/janus/pkg/recording"
)

// castReader reads an asciicast v2 document a line at a time, as it
// arrives, so that follow shows each event when the server sends it.
type castReader struct {
	r    *bufio.Reader
	line int
}

func newCastReader(r io.Reader) *castReader {
	return &castReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// header reads the first line.
func (c *castReader) header() (recording.Header, error) {
	line, err := c.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return recording.Header{}, errors.New("the recording is empty: it has no asciicast header")
		}
		return recording.Header{}, err
	}
	// Parse of the header line alone reads and checks just the header.
	h, _, err := recording.Parse(line)
	return h, err
}

// event reads the next event; io.EOF at the document's end.
func (c *castReader) event() (recording.Event, error) {
	for {
		line, err := c.next()
		if err != nil {
			return recording.Event{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := recording.ParseEvent(line)
		if err != nil {
			return recording.Event{}, fmt.Errorf("line %d: %w", c.line, err)
		}
		return ev, nil
	}
}

// next is the next line without its newline; a last line without one
// counts too.
func (c *castReader) next() ([]byte, error) {
	line, err := c.r.ReadBytes('\n')
	if len(line) > 0 && (err == nil || errors.Is(err, io.EOF)) {
		c.line++
		return bytes.TrimSuffix(line, []byte("\n")), nil
	}
	return nil, err
}

// screen shows a session's events on the user's output as a player
// does: output as it was sent to the session's terminal, Janus's notices
// on lines of their own, nothing else. Keystrokes ("i") are never shown:
// they may hold what the session's terminal did not echo, passwords
// included. Resizes ("r") cannot be applied to the user's terminal.
type screen struct {
	out io.Writer
	// terminal is set when out is one: notices are dimmed and the
	// terminal's attributes are reset when the show ends.
	terminal bool
	// midLine is set when the last output did not end a line.
	midLine bool
}

// visible tells whether show writes anything for ev.
func visible(ev recording.Event) bool {
	return ev.Code == recording.CodeOutput || ev.Code == recording.CodeMarker
}

func (s *screen) show(ev recording.Event) error {
	switch ev.Code {
	case recording.CodeOutput:
		if len(ev.Data) == 0 {
			return nil
		}
		s.midLine = ev.Data[len(ev.Data)-1] != '\n'
		_, err := s.out.Write(ev.Data)
		return err
	case recording.CodeMarker:
		_, err := io.WriteString(s.out, s.notice(string(ev.Data)))
		return err
	}
	return nil
}

// notice is a marker as a line of its own: [janus: ...], with what it
// holds escaped (oneLine), since a notice quotes reasons people typed.
func (s *screen) notice(text string) string {
	var b strings.Builder
	if s.midLine {
		b.WriteString(s.newline())
		s.midLine = false
	}
	line := "[janus: " + strings.TrimPrefix(oneLine(text), "janus: ") + "]"
	if s.terminal {
		// Reset what the session's output left set, then dim.
		line = "\x1b[0;2m" + line + "\x1b[0m"
	}
	b.WriteString(line)
	b.WriteString(s.newline())
	return b.String()
}

// newline ends a line as the recorded terminal output does (CR LF) on a
// terminal, and plainly in a file.
func (s *screen) newline() string {
	if s.terminal {
		return "\r\n"
	}
	return "\n"
}

// finish leaves the user's terminal usable: on a fresh line, with plain
// attributes and a visible cursor, whatever the session's output (or an
// interrupted replay) left behind. A file keeps exactly what was shown.
func (s *screen) finish() {
	if !s.terminal {
		return
	}
	end := "\x1b[0m\x1b[?25h"
	if s.midLine {
		end += s.newline()
	}
	_, _ = io.WriteString(s.out, end)
}
