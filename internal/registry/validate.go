package registry

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"caravana/internal/auth"
)

// FieldError says what is wrong with one input field. Code is stable and
// translatable; Message is English for logs and API clients.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in one input; nothing was saved.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (v *ValidationError) add(field, code, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// phoneRE accepts what people write: "+504 9999-0000", "(55) 1234-5678".
var phoneRE = regexp.MustCompile(`^\+?[0-9(][0-9 ()\-]{5,19}$`)

// Sexes are the accepted values of the sex field.
var Sexes = []string{"F", "M", "X"}

// HouseholdRoles are the accepted roles inside a household.
var HouseholdRoles = []string{"head", "spouse", "child", "sibling", "grandparent", "relative", "other"}

// HouseholdKinds are the accepted kinds of household.
var HouseholdKinds = []string{"family", "single", "siblings", "unaccompanied", "group"}

func checkText(v *ValidationError, field, s string, required bool, maxLen int) {
	switch {
	case s == "" && required:
		v.add(field, "required", "is required")
	case !utf8.ValidString(s):
		v.add(field, "invalid", "is not valid text")
	case utf8.RuneCountInString(s) > maxLen:
		v.add(field, "too_long", "is longer than %d characters", maxLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(field, "invalid", "contains control characters")
	case s != "" && required && strings.IndexFunc(s, unicode.IsLetter) < 0:
		v.add(field, "invalid", "must contain letters")
	}
}

// normalize trims and canonicalises input, and reports every problem.
func (in *PersonInput) normalize(now time.Time) ValidationError {
	var v ValidationError
	trim := func(s *string) { *s = strings.Join(strings.Fields(*s), " ") }
	for _, s := range []*string{&in.GivenNames, &in.Surname1, &in.Surname2, &in.Sex, &in.BirthDate, &in.Nationality, &in.OriginTown, &in.Phone} {
		trim(s)
	}
	in.Notes = strings.TrimSpace(in.Notes)
	in.Sex = strings.ToUpper(in.Sex)
	// ASCII only: strings.ToUpper("ß") is "SS", a real code the person never typed.
	in.Nationality = strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, in.Nationality)
	checkText(&v, auth.FieldGivenNames, in.GivenNames, true, 100)
	checkText(&v, auth.FieldSurname1, in.Surname1, true, 100)
	checkText(&v, auth.FieldSurname2, in.Surname2, false, 100)
	checkText(&v, auth.FieldOriginTown, in.OriginTown, false, 100)
	checkText(&v, auth.FieldNotes, strings.ReplaceAll(strings.ReplaceAll(in.Notes, "\n", " "), "\r", " "), false, 2000)
	if !slices.Contains(Sexes, in.Sex) {
		v.add(auth.FieldSex, "invalid", "must be F, M or X")
	}
	if in.BirthDate != "" {
		d, err := time.Parse("2006-01-02", in.BirthDate)
		switch {
		case err != nil:
			v.add(auth.FieldBirthDate, "invalid", "must be a date as YYYY-MM-DD")
		case d.After(now):
			v.add(auth.FieldBirthDate, "future", "is in the future")
		case d.Year() < 1900:
			v.add(auth.FieldBirthDate, "invalid", "is before 1900")
		}
	}
	if in.Nationality != "" && (len(in.Nationality) != 2 || strings.IndexFunc(in.Nationality, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0) {
		v.add(auth.FieldNationality, "invalid", "must be a two-letter country code such as HN")
	}
	if in.Phone != "" && !phoneRE.MatchString(in.Phone) {
		v.add(auth.FieldPhone, "invalid", "must be a phone number of 6 to 20 digits")
	}
	seen := map[string]bool{}
	flags := in.Flags[:0:0]
	for _, f := range in.Flags {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case !slices.Contains(auth.Flags, f):
			v.add(auth.FieldFlags, "invalid", "has an unknown flag (known: %s)", strings.Join(auth.Flags, ", "))
		case !seen[f]:
			seen[f] = true
			flags = append(flags, f)
		}
	}
	slices.Sort(flags)
	in.Flags = flags
	return v
}

// checkFlagsFit reports flags that contradict the person's other fields:
// pregnant for sex M, and a child-protection flag for someone whose birth
// date makes them 18 or older on now. An unknown birth date or sex is no
// contradiction. flags are the ones to check (those the role sees); in
// must be normalised.
func checkFlagsFit(v *ValidationError, in *PersonInput, flags []string, now time.Time) {
	if in.Sex == "M" && slices.Contains(flags, auth.FlagPregnant) {
		v.add(auth.FieldFlags, "pregnant_sex", "%s does not fit sex M", auth.FlagPregnant)
	}
	if !slices.Contains(flags, auth.FlagUnaccompanied) && !slices.Contains(flags, auth.FlagSeparated) {
		return
	}
	// A birth date normalize refused (future, before 1900) is no evidence either.
	if d, err := time.Parse("2006-01-02", in.BirthDate); err == nil && !d.After(now) && d.Year() >= 1900 && AgeOn(d, now) >= 18 {
		v.add(auth.FieldFlags, "child_age", "%s and %s are for people under 18; the birth date makes this person an adult",
			auth.FlagUnaccompanied, auth.FlagSeparated)
	}
}
