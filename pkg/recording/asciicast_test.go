package recording

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"strconv"
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

func TestPlainWordAgreesWithTheByteTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(b []byte) {
		want := true
		for _, c := range b {
			want = want && plainASCII[c]
		}
		if got := plainWord(binary.LittleEndian.Uint64(b)); got != want {
			t.Fatalf("plainWord(%q) = %v, want %v", b, got, want)
		}
	}
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			check(b)
		}
	}
	for range 200000 {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(0x1e + rng.IntN(0x64))
		}
		check(b)
	}
}

func TestNonPlainMarksTheFirstByteThatIsNotPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		b := []byte("abcdefgh")
		for range rng.IntN(3) {
			b[rng.IntN(8)] = byte(rng.IntN(256))
		}
		want := 8
		for i, c := range b {
			if !plainASCII[c] {
				want = i
				break
			}
		}
		got := 8
		if bad := nonPlain(binary.LittleEndian.Uint64(b)); bad != 0 {
			got = bits.TrailingZeros64(bad) / 8
		}
		if got != want {
			t.Fatalf("the first byte of %q that is not plain: %d, want %d", b, got, want)
		}
	}
}

func TestAppendSecondsMatchesAppendFloat(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 499, 501, 999_999, 123_456_789, 1_500_000_000, 59*time.Minute + 999_999_999, 1000 * time.Hour} {
		want := strconv.AppendFloat(nil, d.Seconds(), 'f', 6, 64)
		if got := appendSeconds(nil, d); string(got) != string(want) {
			t.Errorf("appendSeconds(%d) = %s, want %s", d, got, want)
		}
	}
}

// BenchmarkEncodeData is the encoder's speed on a TLS record's worth of
// terminal output (a colour ls -l), plain ASCII, and NULs (the worst case).
func BenchmarkEncodeData(b *testing.B) {
	line := "drwxr-xr-x  2 root root  4096 Dec  2 07:11 \x1b[01;34mbin\x1b[0m\n-rw-r--r--  1 root root 35110 May  9  2025 \x1b[00mrecording.go\x1b[0m\n"
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"terminal", bytes.Repeat([]byte(line), (16<<10)/len(line))},
		{"plain", bytes.Repeat([]byte("abcdefgh"), 2<<10)},
		{"nul", make([]byte, 16<<10)},
	} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, maxEscape*len(c.data)+16)
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				dst = encodeData(dst[:0], c.data)
			}
		})
	}
}
