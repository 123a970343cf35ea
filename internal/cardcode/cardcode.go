// Package cardcode makes and checks the short codes printed on migrants'
// cards and read back over bad phone lines, SMS and registration desks.
//
// A code is 9 random symbols and 1 check symbol from a 31-symbol alphabet,
// shown as two groups of five ("7KQ2M-X9D0R"). 31^9 ≈ 2^44.6 codes make
// them unguessable from one another; the check symbol catches every single
// typo and every swap of two neighbouring symbols before a wrong person's
// record is opened.
//
// # Why the check works
//
// Symbols have values v_1..v_10 (their index in Alphabet) and weights
// w_i = 11-i (10, 9, ..., 1; the check symbol is v_10 with weight 1). A code
// is valid when S = Σ w_i·v_i ≡ 0 (mod 31).
//
//   - Substituting a for b at position i changes S by w_i·(a-b). Both factors
//     are nonzero and smaller than 31 in absolute value, and 31 is prime, so
//     the product is not ≡ 0: the error is always caught.
//   - Swapping a and b at positions i and j (adjacent or not, the check symbol
//     included) changes S by (w_i-w_j)·(a-b). The weights are distinct and all
//     in 1..10, so w_i-w_j is a nonzero number between -9 and 9, and again the
//     product of two nonzero residues mod a prime is nonzero.
//
// A prime modulus is what makes this work for every pair of symbols; with 32
// symbols (full Crockford base32) an even weight difference times a
// difference of 16 would be ≡ 0 and slip through.
//
// # Forgiving input
//
// Parse accepts what people write, type or dictate: any case; spaces, dots
// and hyphens (also the Unicode dashes phones substitute for '-') anywhere;
// and these look-alikes of symbols that never appear in a code:
//
//	O → 0   I, L → 1   (Crockford base32's own rules)
//	U → V   (alike in handwriting, and in Spanish "u" and "uve" are confused by ear)
//	Z → 2   (alike in handwriting; Z was dropped only to make the alphabet prime)
//
// Mapping a look-alike is safe because the result still has to pass the
// check: if the guess is wrong it is a single substitution, which the check
// always rejects; it can never turn one typo into a different valid code.
package cardcode

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Alphabet is Crockford's base32 without U (as Crockford) and without Z, so
// that it has a prime number of symbols (31). The index of a symbol is its
// value in the check sum.
const Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXY"

const (
	base = len(Alphabet) // 31, prime

	// PayloadLen is the number of random symbols in a code.
	PayloadLen = 9
	// Len is the length of a canonical code: payload plus check symbol.
	Len = PayloadLen + 1

	// groupLen is where Format splits the code; two groups of five are
	// easier to read aloud and to compare by eye than ten in a row.
	groupLen = 5

	// acceptBelow is the largest multiple of 31 that fits in a byte (248).
	// Bytes at or above it are thrown away so that b%31 is exactly uniform.
	acceptBelow = 256 / base * base

	// maxRejects stops New from spinning on a broken random source (for
	// instance one that returns only 0xFF). A healthy source rejects 1 byte
	// in 32, so reaching this is astronomically unlikely by chance.
	maxRejects = 256
)

// Errors returned (wrapped) by Parse, so callers can answer "wrong length",
// "that is not a letter we use" and "typo somewhere" differently.
var (
	ErrLength = errors.New("cardcode: wrong length")
	ErrSymbol = errors.New("cardcode: invalid symbol")
	ErrCheck  = errors.New("cardcode: check symbol does not match")
)

// values maps an upper-case ASCII byte to its symbol value, or -1. It
// includes the look-alike mappings documented in the package comment.
var values = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < base; i++ {
		t[Alphabet[i]] = int8(i)
		t[strings.ToLower(Alphabet[i : i+1])[0]] = int8(i)
	}
	for from, to := range map[byte]byte{'O': '0', 'I': '1', 'L': '1', 'U': 'V', 'Z': '2'} {
		t[from] = t[to]
		t[from+'a'-'A'] = t[to]
	}
	return t
}()

// weight returns w_i for the 0-based position i: 10, 9, ..., 1.
func weight(i int) int { return Len - i }

// checkValue returns the value of the check symbol that makes the weighted
// sum of payload plus check ≡ 0 (mod 31). The check has weight 1, so it is
// simply the negated sum of the payload.
func checkValue(payload []int) int {
	sum := 0
	for i, v := range payload {
		sum += weight(i) * v
	}
	return (base - sum%base) % base
}

// New returns a fresh random code in canonical form (10 symbols, no
// separator), drawing bytes from r: crypto/rand.Reader in production, a
// deterministic reader in tests.
//
// Each symbol comes from one byte accepted only if it is below 248, so
// every symbol has probability exactly 1/31 (no modulo bias). New reads
// only as many bytes as it needs, so no randomness is wasted or reused.
func New(r io.Reader) (string, error) {
	payload := make([]int, 0, PayloadLen)
	var buf [PayloadLen]byte
	rejects := 0
	for len(payload) < PayloadLen {
		need := PayloadLen - len(payload)
		if _, err := io.ReadFull(r, buf[:need]); err != nil {
			return "", fmt.Errorf("cardcode: read random: %w", err)
		}
		for _, b := range buf[:need] {
			if int(b) >= acceptBelow {
				rejects++
				continue
			}
			payload = append(payload, int(b)%base)
		}
		if rejects > maxRejects {
			return "", errors.New("cardcode: random source is not random (too many rejected bytes)")
		}
	}
	var out [Len]byte
	for i, v := range payload {
		out[i] = Alphabet[v]
	}
	out[PayloadLen] = Alphabet[checkValue(payload)]
	return string(out[:]), nil
}

// ignorable reports runes that people put between groups: whitespace, dots,
// hyphens, and the dashes and minus signs phones and word processors
// substitute for a typed hyphen.
func ignorable(r rune) bool {
	switch r {
	case '-', '.', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return true
	}
	return unicode.IsSpace(r)
}

// Parse normalises human input (see the package comment) and checks length,
// alphabet and check symbol, returning the canonical 10-symbol code.
//
// Errors wrap ErrSymbol (naming the first bad character and its 1-based
// position in the input as typed, counting characters, not bytes), ErrLength,
// or ErrCheck, tested in that order: a stray symbol is the most specific
// thing to tell the person.
func Parse(s string) (string, error) {
	var out [Len]byte
	n, pos := 0, 0
	for _, r := range s {
		pos++
		if ignorable(r) {
			continue
		}
		v := -1
		if r < 256 {
			v = int(values[r])
		}
		if v < 0 {
			return "", fmt.Errorf("%w %q at position %d", ErrSymbol, r, pos)
		}
		if n < Len {
			out[n] = Alphabet[v]
		}
		n++
	}
	if n != Len {
		return "", fmt.Errorf("%w: got %d symbols, want %d", ErrLength, n, Len)
	}
	sum := 0
	for i, c := range out {
		sum += weight(i) * int(values[c])
	}
	if sum%base != 0 {
		return "", ErrCheck
	}
	return string(out[:]), nil
}

// Format renders a code for humans as "ABCDE-FGHJK". It accepts any input
// that Parse accepts; anything else is returned unchanged, so a bad value
// is shown as it is rather than disguised as a real code.
func Format(code string) string {
	c, err := Parse(code)
	if err != nil {
		return code
	}
	return c[:groupLen] + "-" + c[groupLen:]
}

// Valid reports whether s parses.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}
