package cookie

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type payload struct{ User string }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	s, err := NewSealer([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Seal("session", payload{"alice"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got payload
	if err := s.Open("session", v, &got); err != nil || got.User != "alice" {
		t.Fatalf("Open = %+v, %v; want alice", got, err)
	}
}

func TestTamperedAndMisnamedAndExpiredAreRefused(t *testing.T) {
	s, _ := NewSealer([][]byte{key(1)})
	v, _ := s.Seal("session", payload{"alice"}, time.Now().Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := range raw {
		tampered := append([]byte(nil), raw...)
		tampered[i] ^= 0x01
		var got payload
		if err := s.Open("session", base64.RawURLEncoding.EncodeToString(tampered), &got); err != ErrInvalid {
			t.Fatalf("byte %d flipped: Open = %v, want ErrInvalid", i, err)
		}
	}
	var got payload
	if err := s.Open("flow", v, &got); err != ErrInvalid {
		t.Errorf("value sealed for session opened as flow: %v", err)
	}
	if err := s.Open("session", "not base64!", &got); err != ErrInvalid {
		t.Errorf("garbage: %v", err)
	}
	if err := s.Open("session", "", &got); err != ErrInvalid {
		t.Errorf("empty: %v", err)
	}
	expired, _ := s.Seal("session", payload{"alice"}, time.Now().Add(-time.Second))
	if err := s.Open("session", expired, &got); err != ErrInvalid {
		t.Errorf("expired: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	old, _ := NewSealer([][]byte{key(1)})
	rotated, _ := NewSealer([][]byte{key(2), key(1)})
	retired, _ := NewSealer([][]byte{key(2)})
	sealedOld, _ := old.Seal("session", payload{"alice"}, time.Now().Add(time.Hour))
	var got payload
	if err := rotated.Open("session", sealedOld, &got); err != nil {
		t.Fatalf("a value sealed with the old key no longer opens after rotation: %v", err)
	}
	if err := retired.Open("session", sealedOld, &got); err != ErrInvalid {
		t.Fatalf("a value sealed with a retired key opened: %v", err)
	}
	sealedNew, _ := rotated.Seal("session", payload{"bob"}, time.Now().Add(time.Hour))
	if err := old.Open("session", sealedNew, &got); err != ErrInvalid {
		t.Fatalf("rotated sealer did not seal with its first key: %v", err)
	}
	if err := retired.Open("session", sealedNew, &got); err != nil || got.User != "bob" {
		t.Fatalf("new key's value = %+v, %v", got, err)
	}
}

func TestReadKeys(t *testing.T) {
	dir := t.TempDir()
	k1, _ := NewKey()
	path := filepath.Join(dir, "keys")
	content := "# newest first\n" + k1 + "\n\n" + base64.StdEncoding.EncodeToString(key(7)) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := ReadKeys(path)
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[1], key(7)) {
		t.Fatalf("ReadKeys = %d keys, %v", len(keys), err)
	}
	if err := os.WriteFile(path, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeys(path); err == nil {
		t.Fatal("a short key was accepted")
	}
	if _, err := NewSealer(nil); err == nil {
		t.Fatal("a sealer without keys was accepted")
	}
}
