// Package crypto holds the node's keys and the primitives built on them: the
// passphrase-wrapped data key (Argon2id), field sealing (XChaCha20-Poly1305),
// blind indexes (HMAC-SHA256) and the derived database key.
//
// The data key never touches disk unwrapped. Everything else secret (the
// ed25519 signing key, the age identity) is sealed under the data key inside
// the key file, so one passphrase unlocks the node and a panic wipe of one
// file destroys everything.
package crypto

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"filippo.io/age"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// KDFParams are Argon2id parameters. They are stored beside the wrapped key
// so that a later binary can raise them (re-wrapping on the next unlock).
type KDFParams struct {
	MemoryKiB uint32 `json:"memory_kib"`
	Time      uint32 `json:"time"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF takes about a second on the 2-core target: inside SECURITY.md
// S3's 0.5-2 s unlock window and well above RFC 9106's 64 MiB floor.
var DefaultKDF = KDFParams{MemoryKiB: 256 * 1024, Time: 3, Threads: 4}

// MinKDF is the weakest setting a production key file may hold. A node
// opened with the production target (DefaultKDF, which is stronger) re-wraps
// a weaker key file on unlock, so a file made with cheaper parameters (by
// tests, or an old binary) is raised the first time it is opened for real.
var MinKDF = KDFParams{MemoryKiB: 64 * 1024, Time: 3, Threads: 4}

// MaxKDF bounds what a key file may ask of Argon2id. The parameters are
// read from the file before anything is authenticated: without a bound a
// damaged one (memory_kib 4294967295, time 4294967295) makes an unlock run
// out of memory or run for ever instead of failing (S5). 1 GiB and t=32
// are four and ten times DefaultKDF: room to raise it, no more.
var MaxKDF = KDFParams{MemoryKiB: 1 << 20, Time: 32, Threads: 64}

// MinPassphraseLen is the shortest passphrase accepted, in characters.
const MinPassphraseLen = 12

// Weaker reports whether p is weaker than q in any dimension.
func (p KDFParams) Weaker(q KDFParams) bool {
	return p.MemoryKiB < q.MemoryKiB || p.Time < q.Time || p.Threads < q.Threads
}

// check refuses parameters Argon2id cannot run (zero time or threads: it
// panics) or that exceed MaxKDF.
func (p KDFParams) check() error {
	switch {
	case p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0:
		return fmt.Errorf("argon2id parameters %s: memory, time and threads must be positive", p)
	case p.MemoryKiB > MaxKDF.MemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB is above the limit %d KiB", p.MemoryKiB, MaxKDF.MemoryKiB)
	case p.Time > MaxKDF.Time:
		return fmt.Errorf("argon2id time %d is above the limit %d", p.Time, MaxKDF.Time)
	case p.Threads > MaxKDF.Threads:
		return fmt.Errorf("argon2id threads %d is above the limit %d", p.Threads, MaxKDF.Threads)
	}
	return nil
}

func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id m=%dMiB t=%d p=%d", p.MemoryKiB/1024, p.Time, p.Threads)
}

var (
	// ErrWrongPassphrase means the passphrase did not unwrap the data key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrWeakPassphrase means the passphrase is too short to be offered.
	ErrWeakPassphrase = fmt.Errorf("passphrase too short: at least %d characters", MinPassphraseLen)
	// ErrNoKeyFile means the node folder holds no key file (never initialised, or wiped).
	ErrNoKeyFile = errors.New("no key file: the node is not initialised or was wiped")
	// ErrDamagedKeyFile means the key file exists but cannot be read as one.
	ErrDamagedKeyFile = errors.New("key file damaged")
)

// KeyFileName is the name of the key file inside a node folder.
const KeyFileName = "keys.json"

// keyFile is the on-disk form. Public parts are plain; secrets are wrapped or sealed.
type keyFile struct {
	Version      int       `json:"version"`
	KDF          KDFParams `json:"kdf"`
	Salt         []byte    `json:"salt"`
	KeyID        string    `json:"key_id"`
	WrappedKey   []byte    `json:"wrapped_data_key"`
	NodeID       string    `json:"node_id"`
	SigningPub   []byte    `json:"signing_public"`
	SealedSign   []byte    `json:"sealed_signing_key"`
	AgeRecipient string    `json:"age_recipient"`
	SealedAge    []byte    `json:"sealed_age_identity"`
}

// Keys is an unlocked node's key material. It lives only in memory.
type Keys struct {
	NodeID       string
	KeyID        string
	DataKey      [32]byte
	Signing      ed25519.PrivateKey
	AgeIdentity  *age.X25519Identity
	AgeRecipient string
	KDF          KDFParams
}

// NodeIDFor derives a node's short, stable id from its signing public key.
func NodeIDFor(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// CheckPassphrase refuses passphrases that are too short to resist guessing.
func CheckPassphrase(p string) error {
	if utf8.RuneCountInString(p) < MinPassphraseLen {
		return ErrWeakPassphrase
	}
	return nil
}

// Create makes fresh node keys, wraps them under passphrase and writes the
// key file into dir. It refuses to overwrite an existing key file.
func Create(dir, passphrase string, params KDFParams) (*Keys, error) {
	if err := CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, KeyFileName)
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("create keys: %s already exists", path)
	}
	k := &Keys{KDF: params}
	if _, err := rand.Read(k.DataKey[:]); err != nil {
		return nil, fmt.Errorf("create keys: %w", err)
	}
	id := make([]byte, 4)
	rand.Read(id)
	k.KeyID = hex.EncodeToString(id)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create keys: %w", err)
	}
	k.Signing = priv
	k.NodeID = NodeIDFor(pub)
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("create keys: %w", err)
	}
	k.AgeIdentity = ident
	k.AgeRecipient = ident.Recipient().String()
	if err := k.write(path, passphrase); err != nil {
		return nil, err
	}
	return k, nil
}

// ImportKeys builds Keys around an existing data key (a node joining an
// organisation receives the data key; its own signing and age keys are new).
func ImportKeys(dir, passphrase string, params KDFParams, keyID string, dataKey [32]byte) (*Keys, error) {
	k, err := NewKeys(params)
	if err != nil {
		return nil, err
	}
	if err := k.Adopt(dir, passphrase, keyID, dataKey); err != nil {
		return nil, err
	}
	return k, nil
}

// NewKeys makes a joining node's own signing and age keys. They stay in
// memory until Adopt gives them the organisation's data key and writes the
// key file: the node's public keys go into its join request, and the data
// key comes back sealed to its age key.
func NewKeys(params KDFParams) (*Keys, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ident, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &Keys{NodeID: NodeIDFor(pub), Signing: priv, AgeIdentity: ident,
		AgeRecipient: ident.Recipient().String(), KDF: params}, nil
}

// Adopt takes the organisation's data key and writes the key file into dir,
// wrapped under passphrase. It refuses to overwrite an existing key file.
func (k *Keys) Adopt(dir, passphrase, keyID string, dataKey [32]byte) error {
	if err := CheckPassphrase(passphrase); err != nil {
		return err
	}
	path := filepath.Join(dir, KeyFileName)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("create keys: %s already exists", path)
	}
	k.KeyID, k.DataKey = keyID, dataKey
	return k.write(path, passphrase)
}

// OrgID names the organisation: every node holding the same data key
// derives the same id, and no one without the key can.
func (k *Keys) OrgID() string {
	m := hmac.New(sha256.New, k.DataKey[:])
	m.Write([]byte("caravana organisation id v1"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

func kek(passphrase string, salt []byte, p KDFParams) []byte {
	return argon2.IDKey([]byte(passphrase), salt, p.Time, p.MemoryKiB, p.Threads, 32)
}

func (k *Keys) write(path, passphrase string) error {
	// A file this binary could not open again must never be written.
	if err := k.KDF.check(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	aead, err := chacha20poly1305.NewX(kek(passphrase, salt, k.KDF))
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ad := []byte("caravana keyfile v1 " + k.KeyID)
	wrapped := aead.Seal(nonce, nonce, k.DataKey[:], ad)

	kf := keyFile{
		Version: 1, KDF: k.KDF, Salt: salt, KeyID: k.KeyID, WrappedKey: wrapped,
		NodeID: k.NodeID, SigningPub: k.Signing.Public().(ed25519.PublicKey),
		AgeRecipient: k.AgeRecipient,
	}
	kf.SealedSign = k.sealKey("signing", k.Signing.Seed())
	kf.SealedAge = k.sealKey("age", []byte(k.AgeIdentity.String()))
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

func (k *Keys) sealKey(name string, secret []byte) []byte {
	aead, _ := chacha20poly1305.NewX(k.DataKey[:])
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, secret, []byte("caravana key "+name+" "+k.KeyID))
}

func (k *Keys) openKey(name string, sealed []byte) ([]byte, error) {
	aead, _ := chacha20poly1305.NewX(k.DataKey[:])
	if len(sealed) < aead.NonceSize() {
		return nil, ErrDamagedKeyFile
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte("caravana key "+name+" "+k.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: %s key does not open", ErrDamagedKeyFile, name)
	}
	return out, nil
}

// ReadParams returns the KDF parameters stored in dir's key file.
func ReadParams(dir string) (KDFParams, error) {
	kf, err := readKeyFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		return KDFParams{}, err
	}
	return kf.KDF, nil
}

// PublicInfo returns the node id and age recipient without unlocking.
func PublicInfo(dir string) (nodeID, ageRecipient string, signingPub ed25519.PublicKey, err error) {
	kf, err := readKeyFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		return "", "", nil, err
	}
	return kf.NodeID, kf.AgeRecipient, kf.SigningPub, nil
}

func readKeyFile(path string) (*keyFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoKeyFile
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil || kf.Version != 1 || len(kf.Salt) == 0 ||
		len(kf.WrappedKey) == 0 || len(kf.SigningPub) != ed25519.PublicKeySize {
		return nil, ErrDamagedKeyFile
	}
	// Checked before any Argon2id runs: the parameters are not authenticated.
	if err := kf.KDF.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamagedKeyFile, err)
	}
	return &kf, nil
}

// Unlock opens dir's key file with passphrase. If the stored parameters are
// weaker than target, the key file is re-wrapped with target (S3: parameters
// can be raised later without re-encrypting data).
func Unlock(dir, passphrase string, target KDFParams) (*Keys, error) {
	path := filepath.Join(dir, KeyFileName)
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(kek(passphrase, kf.Salt, kf.KDF))
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	if len(kf.WrappedKey) < ns {
		return nil, ErrDamagedKeyFile
	}
	dk, err := aead.Open(nil, kf.WrappedKey[:ns], kf.WrappedKey[ns:], []byte("caravana keyfile v1 "+kf.KeyID))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	k := &Keys{NodeID: kf.NodeID, KeyID: kf.KeyID, AgeRecipient: kf.AgeRecipient, KDF: kf.KDF}
	copy(k.DataKey[:], dk)
	seed, err := k.openKey("signing", kf.SealedSign)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: signing key", ErrDamagedKeyFile)
	}
	k.Signing = ed25519.NewKeyFromSeed(seed)
	if pub := k.Signing.Public().(ed25519.PublicKey); NodeIDFor(pub) != kf.NodeID || !pub.Equal(ed25519.PublicKey(kf.SigningPub)) {
		return nil, fmt.Errorf("%w: node id or public key does not match signing key", ErrDamagedKeyFile)
	}
	ageText, err := k.openKey("age", kf.SealedAge)
	if err != nil {
		return nil, err
	}
	if k.AgeIdentity, err = age.ParseX25519Identity(string(ageText)); err != nil {
		return nil, fmt.Errorf("%w: age identity", ErrDamagedKeyFile)
	}
	// The recipient is stored in the clear: trust it only if it is the identity's own.
	if k.AgeIdentity.Recipient().String() != kf.AgeRecipient {
		return nil, fmt.Errorf("%w: age recipient does not match age identity", ErrDamagedKeyFile)
	}
	if kf.KDF.Weaker(target) {
		k.KDF = maxParams(kf.KDF, target)
		if err := k.write(path, passphrase); err != nil {
			return nil, fmt.Errorf("re-wrap key file with %s: %w", k.KDF, err)
		}
	}
	return k, nil
}

func maxParams(a, b KDFParams) KDFParams {
	return KDFParams{MemoryKiB: max(a.MemoryKiB, b.MemoryKiB), Time: max(a.Time, b.Time), Threads: max(a.Threads, b.Threads)}
}

// ChangePassphrase re-wraps the data key under a new passphrase.
func (k *Keys) ChangePassphrase(dir, newPassphrase string) error {
	if err := CheckPassphrase(newPassphrase); err != nil {
		return err
	}
	return k.write(filepath.Join(dir, KeyFileName), newPassphrase)
}

// writeFileAtomic writes via a temp file, fsyncs it, renames it into place
// and fsyncs the folder, so a power cut leaves either the old or the new file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Wipe destroys the key file so the data it protects can never be opened
// again (S15): the wrapped key is overwritten with random bytes and synced
// before the file is removed, each step independent of the others' failure.
func Wipe(dir string) error {
	var errs []error
	// The key file first; then any full copy a re-wrap interrupted by a crash
	// left in a temp file.
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, path := range append([]string{filepath.Join(dir, KeyFileName)}, leftovers...) {
		errs = append(errs, shred(path))
	}
	if err := syncDir(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// shred overwrites path with random bytes, syncs it and removes it.
func shred(path string) error {
	var errs []error
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		if st, err := f.Stat(); err == nil {
			junk := make([]byte, max(st.Size(), 4096))
			rand.Read(junk)
			if _, err := f.WriteAt(junk, 0); err != nil {
				errs = append(errs, err)
			}
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
