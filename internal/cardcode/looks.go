package cardcode

import (
	"errors"
	"strings"
	"unicode"
)

// LooksLike reports whether human input was meant as a card code rather
// than a name: it parses, or it fails only on its check symbol and holds a
// digit or a separator (names have neither; a 10-letter name such as
// "marialopez" must not be mistaken for a mistyped code).
func LooksLike(s string) bool {
	_, err := Parse(s)
	if err == nil {
		return true
	}
	if !errors.Is(err, ErrCheck) {
		return false
	}
	return strings.IndexFunc(s, unicode.IsDigit) >= 0 || strings.ContainsAny(s, "-.")
}
