package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"caravana/internal/crypto"
)

// PasswordKDF is RFC 9106's second recommended Argon2id setting (64 MiB,
// t=3, p=4): about 0.2 s per login on the target, too slow to guess at scale.
var PasswordKDF = crypto.KDFParams{MemoryKiB: 64 * 1024, Time: 3, Threads: 4}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// ErrWeakPassword means the password is too short.
var ErrWeakPassword = fmt.Errorf("password too short: at least %d characters", MinPasswordLen)

// HashPassword returns a PHC-format Argon2id hash of pw.
func HashPassword(pw string, p crypto.KDFParams) (string, error) {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return "", ErrWeakPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

var errBadHash = errors.New("unreadable password hash")

// maxHashKDF bounds the Argon2id cost a stored hash may ask for. A hash is
// data (a user document, possibly from another node's event): without a
// bound a damaged or hostile one could make one login allocate gigabytes
// or run for hours. It is a variable so tests can lower it.
var maxHashKDF = crypto.KDFParams{MemoryKiB: 1 << 20, Time: 16, Threads: 64}

// Bounds on the salt and digest lengths of a stored hash, in bytes.
const (
	minHashSalt, maxHashSalt = 8, 64
	minHashKey, maxHashKey   = 16, 64
)

// CheckPassword reports whether pw matches hash, in constant time.
func CheckPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var p crypto.KDFParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || p.Threads == 0 || p.Time == 0 ||
		len(salt) < minHashSalt || len(salt) > maxHashSalt || len(want) < minHashKey || len(want) > maxHashKey ||
		p.MemoryKiB > maxHashKDF.MemoryKiB || p.Time > maxHashKDF.Time || p.Threads > maxHashKDF.Threads {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
