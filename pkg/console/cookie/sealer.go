package cookie

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// KeySize is the length of each key: AES-256.
const KeySize = 32

// ErrInvalid is returned for a cookie that is malformed, tampered with,
// sealed with an unknown key, sealed for another name, or expired.
var ErrInvalid = errors.New("cookie is invalid or expired")

// Sealer seals and opens cookie values.
type Sealer struct {
	aeads []cipher.AEAD
	now   func() time.Time
}

// NewSealer returns a Sealer with keys; the first seals. Each key is
// KeySize bytes.
func NewSealer(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("at least one cookie key is required")
	}
	s := &Sealer{now: time.Now}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("cookie key %d has %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("cookie key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("cookie key %d: %w", i+1, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// ReadKeys reads a key file: one key per line, hex (64 characters) or
// standard base64 (44 characters) encoded; blank lines and lines starting
// with # are ignored.
func ReadKeys(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cookie keys: %w", err)
	}
	var keys [][]byte
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := hex.DecodeString(line)
		if err != nil {
			key, err = base64.StdEncoding.DecodeString(line)
		}
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("cookie keys file %s, line %d: want %d bytes, hex or base64 encoded", path, n+1, KeySize)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("cookie keys file %s holds no key", path)
	}
	return keys, nil
}

// NewKey returns a random key, hex encoded, for a key file.
func NewKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("generating a cookie key: %w", err)
	}
	return hex.EncodeToString(k), nil
}

type envelope struct {
	Expires int64           `json:"exp"`
	Value   json.RawMessage `json:"v"`
}

// Seal encodes v as JSON and seals it for the cookie called name, valid
// until expires. The name is authenticated, so a value sealed for one
// cookie is refused as another.
func (s *Sealer) Seal(name string, v any, expires time.Time) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding cookie %s: %w", name, err)
	}
	plain, err := json.Marshal(envelope{Expires: expires.Unix(), Value: raw})
	if err != nil {
		return "", fmt.Errorf("encoding cookie %s: %w", name, err)
	}
	aead := s.aeads[0]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealing cookie %s: %w", name, err)
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open checks and decrypts a value sealed for name with any of the keys
// into v. It returns ErrInvalid for anything but a valid, unexpired value.
func (s *Sealer) Open(name, value string, v any) error {
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return ErrInvalid
	}
	for _, aead := range s.aeads {
		if len(sealed) < aead.NonceSize()+aead.Overhead() {
			return ErrInvalid
		}
		plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(name))
		if err != nil {
			continue
		}
		var env envelope
		dec := json.NewDecoder(bytes.NewReader(plain))
		if err := dec.Decode(&env); err != nil {
			return ErrInvalid
		}
		if !s.now().Before(time.Unix(env.Expires, 0)) {
			return ErrInvalid
		}
		if err := json.Unmarshal(env.Value, v); err != nil {
			return ErrInvalid
		}
		return nil
	}
	return ErrInvalid
}
