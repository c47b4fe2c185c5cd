package recording

import (
	"encoding/json"
	"fmt"
	"time"
)

// HeaderLine is h as the first line of an asciicast v2 document, newline
// included, for a stream that is not a stored recording (a live follow).
func HeaderLine(h Header) ([]byte, error) {
	h.Version = 2
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = 80, 24
	}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding an asciicast header: %w", err)
	}
	return append(line, '\n'), nil
}

// AppendEventLine appends one event as an asciicast v2 line, newline
// included, encoded as recordings are: data that is not UTF-8 is kept as
// \udcXX, which ParseEvent turns back into its bytes.
func AppendEventLine(dst []byte, elapsed time.Duration, code string, data []byte) []byte {
	return appendEvent(dst, elapsed, code, data)
}
