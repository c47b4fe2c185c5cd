package live

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The events a stream sends; the pages' htmx attributes name them.
const (
	eventChanged = "changed"
	eventTick    = "tick"
	eventEnded   = "ended"
)

// sender writes Server-Sent Events and flushes each one.
type sender struct {
	w     io.Writer
	flush func() error
}

func newSender(w http.ResponseWriter) *sender {
	rc := http.NewResponseController(w)
	return &sender{w: w, flush: rc.Flush}
}

// event sends one event; id, when not empty, is what the browser sends back
// as Last-Event-ID when it reconnects. Data must not be empty: browsers
// drop an event without data.
func (s *sender) event(name, id, data string) error {
	var b strings.Builder
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", oneLine(id))
	}
	fmt.Fprintf(&b, "event: %s\n", oneLine(name))
	// A lone CR ends a line too in the event stream format.
	for _, line := range strings.Split(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data), "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	return s.write(b.String())
}

// id moves the point the browser resumes from without dispatching an event
// (an event without data only sets the last event ID).
func (s *sender) id(id string) error {
	return s.write("id: " + oneLine(id) + "\n\n")
}

// comment sends a line browsers ignore, keeping proxies from closing an
// idle stream.
func (s *sender) comment(text string) error {
	return s.write(": " + oneLine(text) + "\n\n")
}

// retry tells the browser how long to wait before reconnecting.
func (s *sender) retry(ms int) error {
	return s.write(fmt.Sprintf("retry: %d\n\n", ms))
}

func (s *sender) write(frame string) error {
	if _, err := io.WriteString(s.w, frame); err != nil {
		return fmt.Errorf("writing to the browser: %w", err)
	}
	if err := s.flush(); err != nil {
		return fmt.Errorf("flushing to the browser: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
