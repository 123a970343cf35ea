package crypto_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"caravana/internal/crypto"
)

// cheapKDF keeps tests fast; production never uses it (see TestUnlockProductionParams).
var cheapKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const passphrase = "correct horse battery staple"

// newKeys creates a key file with cheap parameters in a fresh folder.
func newKeys(t *testing.T) (string, *crypto.Keys) {
	t.Helper()
	dir := t.TempDir()
	k, err := crypto.Create(dir, passphrase, cheapKDF)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return dir, k
}

func TestSealOpenRoundTrip(t *testing.T) {
	_, k := newKeys(t)
	s := crypto.NewSealer(k)
	for _, pt := range []string{
		"a",
		"José Luis Núñez García",
		"s1.looks-like-a-seal",
		"line\nbreak\x00nul",
		strings.Repeat("long field ", 2000),
	} {
		sealed := s.Seal("person/1", "given_names", pt)
		if !crypto.IsSealed(sealed) {
			t.Errorf("IsSealed(%q) = false", sealed)
		}
		if len(pt) >= 8 && strings.Contains(sealed, pt) {
			t.Errorf("sealed value contains its plaintext %q", pt)
		}
		got, err := s.OpenField("person/1", "given_names", sealed)
		if err != nil || got != pt {
			t.Errorf("OpenField(Seal(%.20q)) = %.20q, %v", pt, got, err)
		}
		// Sealing is randomised: the same value never seals alike twice.
		if again := s.Seal("person/1", "given_names", pt); again == sealed {
			t.Errorf("two seals of %.20q are identical", pt)
		}
	}
	// Empty stays empty both ways.
	if got := s.Seal("person/1", "phone", ""); got != "" {
		t.Errorf(`Seal("") = %q, want ""`, got)
	}
	if got, err := s.OpenField("person/1", "phone", ""); got != "" || err != nil {
		t.Errorf(`OpenField("") = %q, %v`, got, err)
	}
	if crypto.IsSealed("plain name") {
		t.Error("IsSealed(plain) = true")
	}
}

func TestSealedValueBoundToEntityAndField(t *testing.T) {
	_, k := newKeys(t)
	s := crypto.NewSealer(k)
	a := s.Seal("person/1", "surname", "Canary-Alvarez")
	b := s.Seal("person/2", "surname", "Canary-Benitez")
	tests := []struct {
		name, entity, field, sealed string
	}{
		{"swapped into the other row", "person/2", "surname", a},
		{"other row swapped into this one", "person/1", "surname", b},
		{"moved to another field", "person/1", "given_names", a},
		{"moved to another kind", "household/1", "surname", a},
		{"entity/field boundary shifted", "person/1s", "urname", a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.OpenField(tt.entity, tt.field, tt.sealed)
			if !errors.Is(err, crypto.ErrSealed) {
				t.Fatalf("OpenField = %q, %v; want ErrSealed", got, err)
			}
			if got != "" {
				t.Errorf("a failed open returned text %q", got)
			}
		})
	}
}

func TestSealedValueBitFlips(t *testing.T) {
	_, k := newKeys(t)
	s := crypto.NewSealer(k)
	sealed := s.Seal("person/1", "phone", "+504 9999 0000")
	prefix, b64, _ := cutLast(sealed, ".")
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for bit := range 8 {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 1 << bit
			v := prefix + "." + base64.RawURLEncoding.EncodeToString(bad)
			if got, err := s.OpenField("person/1", "phone", v); !errors.Is(err, crypto.ErrSealed) {
				t.Fatalf("byte %d bit %d flipped: OpenField = %q, %v; want ErrSealed", i, bit, got, err)
			}
		}
	}
	// The text around the ciphertext is checked too.
	for i := range len(prefix) + 1 {
		bad := []byte(sealed)
		bad[i] ^= 1
		if _, err := s.OpenField("person/1", "phone", string(bad)); !errors.Is(err, crypto.ErrSealed) {
			t.Fatalf("char %d of %q changed: err = %v; want ErrSealed", i, sealed[:len(prefix)+1], err)
		}
	}
	for _, v := range []string{sealed[:len(sealed)-1], sealed + "A", sealed[:len(prefix)+10]} {
		if _, err := s.OpenField("person/1", "phone", v); !errors.Is(err, crypto.ErrSealed) {
			t.Errorf("truncated/extended %q: err = %v; want ErrSealed", v, err)
		}
	}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func TestOpenFieldWrongKey(t *testing.T) {
	_, k := newKeys(t)
	_, other := newKeys(t)
	s := crypto.NewSealer(k)
	sealed := s.Seal("person/1", "surname", "Canary")

	if _, err := crypto.NewSealer(other).OpenField("person/1", "surname", sealed); !errors.Is(err, crypto.ErrSealed) {
		t.Errorf("another node's key (other key id): err = %v; want ErrSealed", err)
	}
	// Same key id, different data key: the prefix matches, the AEAD must not.
	forged, err := crypto.ImportKeys(t.TempDir(), passphrase, cheapKDF, k.KeyID, other.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.NewSealer(forged).OpenField("person/1", "surname", sealed); !errors.Is(err, crypto.ErrSealed) {
		t.Errorf("same key id, other data key: err = %v; want ErrSealed", err)
	}
	// A node that joined the organisation (same key id and data key) opens it.
	joined, err := crypto.ImportKeys(t.TempDir(), passphrase, cheapKDF, k.KeyID, k.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	if joined.NodeID == k.NodeID {
		t.Error("an imported node has the founder's node id")
	}
	if got, err := crypto.NewSealer(joined).OpenField("person/1", "surname", sealed); err != nil || got != "Canary" {
		t.Errorf("joined node: OpenField = %q, %v", got, err)
	}
}

func TestBlindIndex(t *testing.T) {
	_, k := newKeys(t)
	_, other := newKeys(t)
	s, so := crypto.NewSealer(k), crypto.NewSealer(other)
	joined, err := crypto.ImportKeys(t.TempDir(), passphrase, cheapKDF, k.KeyID, k.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	sj := crypto.NewSealer(joined)

	base := s.Blind("surname", "nunez")
	if len(base) != 32 {
		t.Errorf("blind index %q: want 32 hex digits", base)
	}
	if _, err := hex.DecodeString(base); err != nil {
		t.Errorf("blind index %q is not hex: %v", base, err)
	}
	tests := []struct {
		name      string
		got       string
		wantEqual bool
	}{
		{"same input again", s.Blind("surname", "nunez"), true},
		{"same data key on another node", sj.Blind("surname", "nunez"), true},
		{"different value", s.Blind("surname", "nunes"), false},
		{"different index name", s.Blind("given", "nunez"), false},
		{"index/value boundary shifted", s.Blind("surnamen", "unez"), false},
		{"another data key", so.Blind("surname", "nunez"), false},
		{"plain SHA of nothing secret", hex.EncodeToString([]byte("nunez")), false},
	}
	for _, tt := range tests {
		if (tt.got == base) != tt.wantEqual {
			t.Errorf("%s: Blind = %s, base %s, want equal %v", tt.name, tt.got, base, tt.wantEqual)
		}
	}
}

func TestDerivedKeysDistinct(t *testing.T) {
	_, k := newKeys(t)
	_, other := newKeys(t)
	db := crypto.DatabaseKeyHex(k)
	if len(db) != 64 {
		t.Fatalf("DatabaseKeyHex length %d, want 64", len(db))
	}
	if again := crypto.DatabaseKeyHex(k); again != db {
		t.Error("DatabaseKeyHex is not deterministic")
	}
	if crypto.DatabaseKeyHex(other) == db {
		t.Error("two nodes share a database key")
	}
	if db == hex.EncodeToString(k.DataKey[:]) || db == hex.EncodeToString(crypto.SessionKey(k)) {
		t.Error("database key equals the data key or the session key")
	}
}
