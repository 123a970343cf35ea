package crypto

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrSealed means a sealed value does not open: wrong key, tampered, or moved
// to another entity or field than the one it was sealed for (S2).
var ErrSealed = errors.New("sealed value does not open")

// sealPrefix versions the sealed-value format so it can change later.
const sealPrefix = "s1."

// Sealer seals and opens PII fields and computes blind indexes. It is safe
// for concurrent use.
type Sealer struct {
	keyID string
	aead  cipher.AEAD // stateless, so safe for concurrent use
	index []byte
}

// NewSealer derives the field and index keys from k's data key.
func NewSealer(k *Keys) *Sealer {
	aead, err := chacha20poly1305.NewX(derive(k.DataKey, "fields", 32))
	if err != nil {
		panic(err) // the key length is fixed
	}
	return &Sealer{keyID: k.KeyID, aead: aead, index: derive(k.DataKey, "blind-index", 32)}
}

func derive(key [32]byte, purpose string, n int) []byte {
	out, err := hkdf.Key(sha256.New, key[:], nil, "caravana "+purpose, n)
	if err != nil {
		panic(err) // only fails for absurd lengths
	}
	return out
}

// DatabaseKeyHex is the key for the whole-file database encryption, derived
// from the data key so the database opens only on an unlocked node.
func DatabaseKeyHex(k *Keys) string {
	return hex.EncodeToString(derive(k.DataKey, "sqlite-adiantum", 32))
}

// SessionKey is a key for local MACs (CSRF tokens and the like).
func SessionKey(k *Keys) []byte { return derive(k.DataKey, "sessions", 32) }

func (s *Sealer) ad(entity, field string) []byte {
	return []byte(s.keyID + "\x00" + entity + "\x00" + field)
}

// Seal encrypts plaintext bound to (entity, field, key id). The empty string
// seals to the empty string: absence is not secret, and it keeps events small.
func (s *Sealer) Seal(entity, field, plaintext string) string {
	if plaintext == "" {
		return ""
	}
	aead := s.aead
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	rand.Read(buf)
	out := aead.Seal(buf, buf, []byte(plaintext), s.ad(entity, field))
	return sealPrefix + s.keyID + "." + base64.RawURLEncoding.EncodeToString(out)
}

// OpenField decrypts a value sealed for (entity, field). Only the package
// that owns PII reads calls this (S7); a test enforces it.
func (s *Sealer) OpenField(entity, field, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", ErrSealed
	}
	keyID, b64, ok := strings.Cut(rest, ".")
	if !ok || keyID != s.keyID {
		return "", fmt.Errorf("%w: unknown key", ErrSealed)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	aead := s.aead
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", ErrSealed
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], s.ad(entity, field))
	if err != nil {
		return "", ErrSealed
	}
	return string(pt), nil
}

// IsSealed reports whether v has the form of a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealPrefix) }

// Blind returns the blind index of an already normalised value in a named
// index: a keyed hash, useless without the data key, equal for equal inputs.
func (s *Sealer) Blind(index, normalised string) string {
	m := hmac.New(sha256.New, s.index)
	m.Write([]byte(index))
	m.Write([]byte{0})
	m.Write([]byte(normalised))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
