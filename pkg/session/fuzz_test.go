package session

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrameHeader: whatever bytes a user or an agent sends, the frame
// reader answers a header or an error, never panics, and a header it
// accepts is the bytes it read.
func FuzzReadFrameHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x82, 0x03, 1, 'h', 'i'},
		{0x82, 0x83, 1, 2, 3, 4, 0, 'a', 'b'},
		{0x82, 0x7e, 0x01, 0x00},
		{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0},
		{0x88, 0x02, 0x03, 0xe8},
		{0xc2, 0x00},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := readFrameHeader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if !errors.Is(err, errProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.size > len(data) || !bytes.Equal(h.raw[:h.size], data[:h.size]) {
			t.Fatalf("header %+v is not the %d bytes read", h, h.size)
		}
		if h.length < 0 || (h.control() && h.length > maxControlPayload) {
			t.Fatalf("accepted length %d for opcode %#x", h.length, h.opcode)
		}
	})
}

// FuzzSanitize: nothing a terminal acts on survives sanitize.
func FuzzSanitize(f *testing.F) {
	f.Add("access revoked by carol: \x1b]0;pwned\x07")
	f.Add("ünïcödé \u202e \xff\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		out := sanitize(s)
		for _, r := range out {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("sanitize(%q) = %q keeps %U", s, out, r)
			}
		}
	})
}
