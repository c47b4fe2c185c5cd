package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Websocket opcodes (RFC 6455 §5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xa
)

// maxControlPayload is RFC 6455's bound on a control frame's payload.
const maxControlPayload = 125

// errProtocol marks a frame that breaks RFC 6455 or Janus's bounds.
var errProtocol = errors.New("websocket protocol violation")

// frameHeader is one websocket frame's header as it was read. The relay
// forwards raw unchanged: the mask of a client frame stays the client's,
// so a frame is copied, never re-framed.
type frameHeader struct {
	fin    bool
	opcode byte
	masked bool
	mask   [4]byte
	length int64

	raw  [14]byte
	size int
}

func (h *frameHeader) control() bool { return h.opcode >= opClose }

// readFrameHeader reads the next header from r.
func readFrameHeader(r *bufio.Reader) (frameHeader, error) {
	var h frameHeader
	if _, err := io.ReadFull(r, h.raw[:2]); err != nil {
		return h, err
	}
	b0, b1 := h.raw[0], h.raw[1]
	h.fin = b0&0x80 != 0
	h.opcode = b0 & 0x0f
	h.masked = b1&0x80 != 0
	h.size = 2
	if b0&0x70 != 0 {
		// No extension is ever negotiated through Janus.
		return h, fmt.Errorf("%w: reserved bits set", errProtocol)
	}
	switch n := b1 & 0x7f; n {
	case 126:
		if _, err := io.ReadFull(r, h.raw[2:4]); err != nil {
			return h, err
		}
		h.length = int64(binary.BigEndian.Uint16(h.raw[2:4]))
		h.size = 4
	case 127:
		if _, err := io.ReadFull(r, h.raw[2:10]); err != nil {
			return h, err
		}
		l := binary.BigEndian.Uint64(h.raw[2:10])
		if l > 1<<62 {
			return h, fmt.Errorf("%w: frame length %d", errProtocol, l)
		}
		h.length = int64(l)
		h.size = 10
	default:
		h.length = int64(n)
	}
	if h.masked {
		if _, err := io.ReadFull(r, h.raw[h.size:h.size+4]); err != nil {
			return h, err
		}
		copy(h.mask[:], h.raw[h.size:h.size+4])
		h.size += 4
	}
	switch h.opcode {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || h.length > maxControlPayload {
			return h, fmt.Errorf("%w: fragmented or oversized control frame", errProtocol)
		}
	default:
		return h, fmt.Errorf("%w: opcode %#x", errProtocol, h.opcode)
	}
	return h, nil
}

// appendFrame appends an unmasked frame (server to client) holding payload.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closeFrame is a close frame with a status code (RFC 6455 §7.4).
func closeFrame(code uint16) []byte {
	return appendFrame(nil, opClose, binary.BigEndian.AppendUint16(nil, code))
}

// Close codes.
const (
	closeNormal        uint16 = 1000
	closeProtocolError uint16 = 1002
	closeTooBig        uint16 = 1009
)
