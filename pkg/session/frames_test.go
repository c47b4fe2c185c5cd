package session

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

func TestReadFrameHeaderRejectsWhatRFC6455Forbids(t *testing.T) {
	cases := map[string][]byte{
		"reserved bits":            {0xc2, 0x00},
		"unknown opcode":           {0x83, 0x00},
		"fragmented control frame": {0x09, 0x00},
		"oversized control frame":  {0x89, 0x7e, 0x00, 0x80},
		"a length over 2^62":       {0x82, 0x7f, 0xff, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, raw := range cases {
		if _, err := readFrameHeader(bufio.NewReader(bytes.NewReader(raw))); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v, want a protocol error", name, err)
		}
	}
}

func TestFrameHeaderRoundTrips(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		frame := appendFrame(nil, opBinary, make([]byte, n))
		h, err := readFrameHeader(bufio.NewReader(bytes.NewReader(frame)))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if h.length != int64(n) || !h.fin || h.opcode != opBinary || h.masked || h.size+n != len(frame) || !bytes.Equal(h.raw[:h.size], frame[:h.size]) {
			t.Errorf("%d bytes: header %+v", n, h)
		}
	}
}

func TestCheckMessageBoundsFragmentedMessages(t *testing.T) {
	var length int64
	inMessage := false
	frames := []frameHeader{{opcode: opBinary, length: 40}, {opcode: opContinuation, length: 40}, {opcode: opContinuation, fin: true, length: 40}}
	var err error
	for i := range frames {
		if err = checkMessage(&frames[i], &inMessage, &length, 100); err != nil {
			break
		}
	}
	if err == nil || errors.Is(err, errProtocol) {
		t.Errorf("three fragments of 40 bytes under a bound of 100: %v, want a limit error", err)
	}
	inMessage, length = false, 0
	if err := checkMessage(&frameHeader{opcode: opContinuation, fin: true}, &inMessage, &length, 100); !errors.Is(err, errProtocol) {
		t.Errorf("a continuation outside a message: %v", err)
	}
}
