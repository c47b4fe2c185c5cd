package recording

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event codes of asciicast v2.
const (
	CodeOutput = "o"
	CodeInput  = "i"
	CodeResize = "r"
	CodeMarker = "m"
)

// Header is the first line of an asciicast v2 document.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Command   string            `json:"command,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// Janus ties the recording to its session; players ignore it.
	Janus Metadata `json:"janus"`
}

// Metadata is what Janus adds to the header.
type Metadata struct {
	Session   string `json:"session,omitempty"`
	Request   string `json:"request"`
	User      string `json:"user"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container,omitempty"`
	TTY       bool   `json:"tty"`
}

// Event is one line after the header: Time seconds after the header's
// timestamp, a code, and its data as the bytes they stand for.
type Event struct {
	Time float64
	Code string
	Data []byte
}

// appendEvent appends ev as one asciicast line, newline included.
func appendEvent(dst []byte, elapsed time.Duration, code string, data []byte) []byte {
	dst = append(dst, '[')
	dst = appendSeconds(dst, elapsed)
	dst = append(dst, `, "`...)
	dst = append(dst, code...)
	dst = append(dst, `", `...)
	dst = encodeData(dst, data)
	return append(dst, "]\n"...)
}

// appendSeconds writes d as seconds with six decimals, as
// strconv.AppendFloat(d.Seconds(), 'f', 6) would but without its cost,
// which a session writing many small frames pays once per frame.
func appendSeconds(dst []byte, d time.Duration) []byte {
	us := max(int64((d+500*time.Nanosecond)/time.Microsecond), 0)
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	return append(dst, '.',
		byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

const hexDigits = "0123456789abcdef"

// nonPlain has the high bit set in the byte of x that is the first not
// plainASCII: below 0x20, 0x7f or above, '"' or '\\' (the has-less and
// has-zero-byte tests of "Bit Twiddling Hacks"; a borrow may mark bytes
// after the first match, never one before it, so the lowest mark is
// exact). Zero means all eight are plain.
func nonPlain(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x-ones*0x20)&^x&highs | x&highs |
		hasZero(x^(ones*'"')) | hasZero(x^(ones*'\\')) | hasZero(x^(ones*0x7f))
}

// plainWord reports whether all eight bytes of x are plainASCII.
func plainWord(x uint64) bool { return nonPlain(x) == 0 }

// plainASCII are the bytes a JSON string holds as they are.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// copyPlain copies the run of plainASCII bytes at data[i:] to out[n:]
// and returns the indexes after it. Most of any terminal's output goes a
// word at a time, stored before it is checked: the bytes from the first
// that is not plain on are overwritten next. out has room for a word
// more than the run.
func copyPlain(out []byte, n int, data []byte, i int) (int, int) {
	for i+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[i:])
		binary.LittleEndian.PutUint64(out[n:], x)
		if bad := nonPlain(x); bad != 0 {
			k := bits.TrailingZeros64(bad) / 8
			return i + k, n + k
		}
		i, n = i+8, n+8
	}
	for i < len(data) && plainASCII[data[i]] {
		out[n] = data[i]
		i, n = i+1, n+1
	}
	return i, n
}

// escape is how a JSON string holds an ASCII byte that is not
// plainASCII: its first n bytes, written as one word.
type escape struct {
	b [8]byte
	n int
}

var asciiEscapes = func() (t [utf8.RuneSelf]escape) {
	for c := range utf8.RuneSelf {
		switch {
		case c == '"' || c == '\\':
			t[c] = escape{[8]byte{'\\', byte(c)}, 2}
		case c == '\n':
			t[c] = escape{[8]byte{'\\', 'n'}, 2}
		case c == '\r':
			t[c] = escape{[8]byte{'\\', 'r'}, 2}
		case c == '\t':
			t[c] = escape{[8]byte{'\\', 't'}, 2}
		case c < 0x20 || c == 0x7f:
			t[c] = escape{[8]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]}, 6}
		default:
			t[c] = escape{[8]byte{byte(c)}, 1}
		}
	}
	return t
}()

// maxEscape is the most bytes encodeData writes for one byte of data.
const maxEscape = 6

// encodeData appends data as a JSON string. Valid UTF-8 is written as it
// is (control characters escaped, as JSON requires). A byte that is not
// part of valid UTF-8 is written as the lone surrogate \udcXX (XX being
// the byte, always 80-ff) — Python's "surrogateescape": no valid UTF-8
// text decodes to a lone surrogate, so decodeData recovers every byte
// exactly, while a player that knows nothing of this shows one
// replacement character per such byte. The recording thus holds exactly
// the bytes the client received.
//
// It runs on the session's path, once per frame: dst is grown once for
// the worst case, and both plain text and escapes are stored a word at
// a time.
func encodeData(dst []byte, data []byte) []byte {
	// The worst case, the quotes, and room for an escape's whole word.
	dst = slices.Grow(dst, maxEscape*len(data)+2+8)
	n := len(dst)
	out := dst[:cap(dst)]
	out[n] = '"'
	n++
	for i := 0; i < len(data); {
		c := data[i]
		if plainASCII[c] {
			i, n = copyPlain(out, n, data, i)
			continue
		}
		if c < utf8.RuneSelf {
			e := &asciiEscapes[c]
			*(*[8]byte)(out[n:]) = e.b
			n += e.n
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			*(*[8]byte)(out[n:]) = [8]byte{'\\', 'u', 'd', 'c', hexDigits[c>>4], hexDigits[c&0xf]}
			n += 6
			i++
			continue
		}
		n += copy(out[n:], data[i:i+size])
		i += size
	}
	out[n] = '"'
	return out[:n+1]
}

var errBadString = errors.New("not a JSON string")

// decodeData is encodeData's inverse: it turns a JSON string back into
// the bytes it stands for, a lone \udc80-\udcff into its byte.
func decodeData(s []byte) ([]byte, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return nil, errBadString
	}
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, errBadString
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return nil, errBadString
			}
			i += 4
			switch {
			case r >= 0xdc80 && r <= 0xdcff:
				out = append(out, byte(r-0xdc00))
			case r >= 0xd800 && r < 0xdc00:
				// A surrogate pair written by another encoder.
				lo, ok := uint16(0), false
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					lo, ok = hex4(s[i+3:])
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					out = utf8.AppendRune(out, utf8.RuneError)
					continue
				}
				i += 6
				out = utf8.AppendRune(out, 0x10000+(rune(r)-0xd800)<<10+(rune(lo)-0xdc00))
			default:
				out = utf8.AppendRune(out, rune(r))
			}
		default:
			return nil, errBadString
		}
	}
	return out, nil
}

func hex4(s []byte) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s[:4]), 16, 16)
	return uint16(v), err == nil
}

// ParseEvent reads one asciicast v2 event line.
func ParseEvent(line []byte) (Event, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(line, &parts); err != nil {
		return Event{}, fmt.Errorf("reading an event: %w", err)
	}
	if len(parts) != 3 {
		return Event{}, fmt.Errorf("reading an event: %d fields, want 3", len(parts))
	}
	var ev Event
	if err := json.Unmarshal(parts[0], &ev.Time); err != nil {
		return Event{}, fmt.Errorf("reading an event's time: %w", err)
	}
	if err := json.Unmarshal(parts[1], &ev.Code); err != nil {
		return Event{}, fmt.Errorf("reading an event's code: %w", err)
	}
	data, err := decodeData(parts[2])
	if err != nil {
		return Event{}, fmt.Errorf("reading an event's data: %w", err)
	}
	ev.Data = data
	return ev, nil
}

// ResizeData is the data of an "r" event: "COLSxROWS".
func ResizeData(cols, rows int) []byte {
	return []byte(strconv.Itoa(cols) + "x" + strconv.Itoa(rows))
}
