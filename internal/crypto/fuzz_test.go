package crypto_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"caravana/internal/crypto"
)

// fuzzKeys is one fixed key set for the fuzz targets (creating keys per input
// would make the fuzzer slow without testing anything more).
func fuzzKeys(f *testing.F) (string, *crypto.Keys) {
	f.Helper()
	dir := f.TempDir()
	k, err := crypto.Create(dir, passphrase, cheapKDF)
	if err != nil {
		f.Fatal(err)
	}
	return dir, k
}

// FuzzOpenField: the sealed-value parser never panics, and any failure is ErrSealed.
func FuzzOpenField(f *testing.F) {
	_, k := fuzzKeys(f)
	s := crypto.NewSealer(k)
	good := s.Seal("person/1", "surname", "Canary")
	for _, seed := range []string{
		good, good[:len(good)-3], good + "==", "", "s1.", "s1..", "s1." + k.KeyID + ".",
		"s1." + k.KeyID + ".AAAA", "s1." + k.KeyID + "." + good[len(good)-10:], "s2.x.y", "plain text",
		"s1.\x00.\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := s.OpenField("person/1", "surname", in)
		switch {
		case err != nil:
			if !errors.Is(err, crypto.ErrSealed) {
				t.Fatalf("OpenField(%q) error %v is not ErrSealed", in, err)
			}
			if got != "" {
				t.Fatalf("OpenField(%q) failed but returned %q", in, got)
			}
		case in == "":
			if got != "" {
				t.Fatalf(`OpenField("") = %q`, got)
			}
		default:
			// Only a genuine seal of this field opens, and it opens to what was sealed.
			if got != "Canary" {
				t.Fatalf("OpenField(%q) opened to %q: a forged value opened", in, got)
			}
		}
	})
}

// FuzzKeyFile: reading any key file gives the key set or a clear error, never a panic.
func FuzzKeyFile(f *testing.F) {
	dir, _ := fuzzKeys(f)
	good, err := os.ReadFile(filepath.Join(dir, crypto.KeyFileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("{}"))
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":8,"time":0,"threads":0},"salt":"AAAA","wrapped_data_key":"AAAA","signing_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":8,"time":1,"threads":1},"salt":"AAAA","wrapped_data_key":"AAAA","signing_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	// Parameters far beyond MaxKDF: refused before Argon2id runs (they once
	// ran out of memory, or hung).
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":4294967295,"time":1,"threads":1},"salt":"AAAA","wrapped_data_key":"AAAA","signing_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":8,"time":4294967295,"threads":1},"salt":"AAAA","wrapped_data_key":"AAAA","signing_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte(`{"version":1,"kdf":{"memory_kib":8,"time":1,"threads":255},"salt":"AAAA","wrapped_data_key":"AAAA","signing_public":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`))
	f.Add([]byte("null"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, crypto.KeyFileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		params, err := crypto.ReadParams(dir)
		if err != nil {
			if !errors.Is(err, crypto.ErrDamagedKeyFile) {
				t.Fatalf("ReadParams error %v is not ErrDamagedKeyFile", err)
			}
			// Unlock refuses the same file before running Argon2id, whatever
			// its parameters say: this call must neither hang nor run out of memory.
			if k, err := crypto.Unlock(dir, passphrase, crypto.KDFParams{}); !errors.Is(err, crypto.ErrDamagedKeyFile) || k != nil {
				t.Fatalf("Unlock of a file ReadParams refused = %v, %v; want ErrDamagedKeyFile", k, err)
			}
			return
		}
		if params.MemoryKiB == 0 || params.Time == 0 || params.Threads == 0 || crypto.MaxKDF.Weaker(params) {
			t.Fatalf("ReadParams accepted %v, outside (0, %v]", params, crypto.MaxKDF)
		}
		if _, _, pub, err := crypto.PublicInfo(dir); err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("PublicInfo after ReadParams succeeded: %x, %v", pub, err)
		}
		// Within MaxKDF an unlock can still take a second or more; try it
		// only for settings as cheap as the tests'.
		if params.MemoryKiB > 4096 || params.Time > 2 {
			return
		}
		k, err := crypto.Unlock(dir, passphrase, crypto.KDFParams{})
		if err != nil {
			if !errors.Is(err, crypto.ErrWrongPassphrase) && !errors.Is(err, crypto.ErrDamagedKeyFile) {
				t.Fatalf("Unlock error %v is neither ErrWrongPassphrase nor ErrDamagedKeyFile", err)
			}
			return
		}
		// Whatever unlocked must be self-consistent with what the file shows unlocked.
		nodeID, rcpt, pub, _ := crypto.PublicInfo(dir)
		if k.NodeID != nodeID || crypto.NodeIDFor(k.Signing.Public().(ed25519.PublicKey)) != nodeID ||
			!pub.Equal(k.Signing.Public()) || k.AgeRecipient != rcpt || k.AgeIdentity.Recipient().String() != rcpt {
			t.Fatalf("unlocked keys disagree with the key file's public parts")
		}
	})
}
