package auth

import "strings"

// ValidUsername reports whether AddUser would accept name (after the same
// trimming and lower-casing), so a form can show a field error instead of
// a generic failure.
func ValidUsername(name string) bool {
	return usernameRE.MatchString(strings.ToLower(strings.TrimSpace(name)))
}
