package recording

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEncodeDataIsValidJSONAndDecodesToTheSameBytes(t *testing.T) {
	for _, data := range [][]byte{
		nil, []byte("plain"), []byte("\x00\x1f\x7f\"\\\n\r\t"), []byte("ü✓🙂"),
		{0x80}, {0xff, 'a', 0xc3}, {0xed, 0xa0, 0x80}, []byte("\\udc80"),
	} {
		enc := encodeData(nil, data)
		if !json.Valid(enc) {
			t.Errorf("encodeData(%q) = %s is not JSON", data, enc)
		}
		dec, err := decodeData(enc)
		if err != nil || !bytes.Equal(dec, data) {
			t.Errorf("decodeData(encodeData(%q)) = %q, %v", data, dec, err)
		}
	}
	// Text another encoder wrote: surrogate pairs and \/.
	dec, err := decodeData([]byte(`"\ud83d\ude42 \/ \u00fc"`))
	if err != nil || string(dec) != "🙂 / ü" {
		t.Errorf("decoding a surrogate pair: %q, %v", dec, err)
	}
	line := appendEvent(nil, 1500*time.Millisecond, CodeOutput, []byte("x"))
	if string(line) != "[1.500000, \"o\", \"x\"]\n" {
		t.Errorf("event line %q", line)
	}
}

func FuzzEncodeData(f *testing.F) {
	f.Add([]byte("a\xffb"))
	f.Fuzz(func(t *testing.T, data []byte) {
		enc := encodeData(nil, data)
		if !json.Valid(enc) {
			t.Fatalf("not JSON: %s", enc)
		}
		dec, err := decodeData(enc)
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("round trip of %q gave %q, %v", data, dec, err)
		}
	})
}
