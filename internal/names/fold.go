// Package names normalises people's names for search and comparison:
// case, accents, punctuation and Spanish particles.
package names

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold lowercases s and removes accents and other combining marks, so
// "Núñez", "NUÑEZ" and "nunez" compare equal.
func Fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// particles are the little words inside Spanish names that carry no
// identity: "María de los Ángeles", "Juan del Carmen", "Pérez y López".
var particles = map[string]bool{"de": true, "del": true, "la": true, "las": true, "los": true, "y": true, "e": true, "da": true, "do": true, "dos": true, "san": false}

// Tokens folds s and splits it into the words that identify a person,
// dropping particles and punctuation (hyphens join compound surnames).
func Tokens(s string) []string {
	f := Fold(s)
	words := strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := words[:0]
	for _, w := range words {
		if !particles[w] {
			out = append(out, w)
		}
	}
	return out
}
