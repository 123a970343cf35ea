package registry_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// fieldCodes renders a validation error as sorted "field:code" pairs.
func fieldCodes(v registry.ValidationError) []string {
	out := make([]string, len(v))
	for i, f := range v {
		out[i] = f.Field + ":" + f.Code
	}
	slices.Sort(out)
	return out
}

func TestRegisterValidation(t *testing.T) {
	n := newNode(t)
	tests := []struct {
		name   string
		change func(*registry.PersonInput)
		want   []string // sorted field:code pairs
	}{
		{"given names missing", func(in *registry.PersonInput) { in.GivenNames = "" }, []string{"given_names:required"}},
		{"given names only spaces", func(in *registry.PersonInput) { in.GivenNames = "  \t " }, []string{"given_names:required"}},
		{"given names without letters", func(in *registry.PersonInput) { in.GivenNames = "1234" }, []string{"given_names:invalid"}},
		{"surname1 missing", func(in *registry.PersonInput) { in.Surname1 = "" }, []string{"surname1:required"}},
		{"surname1 punctuation only", func(in *registry.PersonInput) { in.Surname1 = "--" }, []string{"surname1:invalid"}},
		{"surname2 too long", func(in *registry.PersonInput) { in.Surname2 = strings.Repeat("ñ", 101) }, []string{"surname2:too_long"}},
		{"given names too long", func(in *registry.PersonInput) { in.GivenNames = strings.Repeat("a", 101) }, []string{"given_names:too_long"}},
		{"control character in name", func(in *registry.PersonInput) { in.GivenNames = "Ana\x07Bel" }, []string{"given_names:invalid"}},
		{"escape in surname2", func(in *registry.PersonInput) { in.Surname2 = "Paz\x1b[31m" }, []string{"surname2:invalid"}},
		{"control character in origin", func(in *registry.PersonInput) { in.OriginTown = "Choloma\x00" }, []string{"origin_town:invalid"}},
		{"origin too long", func(in *registry.PersonInput) { in.OriginTown = strings.Repeat("x", 101) }, []string{"origin_town:too_long"}},
		{"control character in notes", func(in *registry.PersonInput) { in.Notes = "line\x1bone" }, []string{"notes:invalid"}},
		{"notes too long", func(in *registry.PersonInput) { in.Notes = strings.Repeat("n", 2001) }, []string{"notes:too_long"}},
		{"sex missing", func(in *registry.PersonInput) { in.Sex = "" }, []string{"sex:invalid"}},
		{"sex unknown", func(in *registry.PersonInput) { in.Sex = "Q" }, []string{"sex:invalid"}},
		{"sex a word", func(in *registry.PersonInput) { in.Sex = "female" }, []string{"sex:invalid"}},
		{"birth date day first", func(in *registry.PersonInput) { in.BirthDate = "14/03/1987" }, []string{"birth_date:invalid"}},
		{"birth date impossible day", func(in *registry.PersonInput) { in.BirthDate = "1987-02-30" }, []string{"birth_date:invalid"}},
		{"birth date tomorrow", func(in *registry.PersonInput) { in.BirthDate = "2018-10-21" }, []string{"birth_date:future"}},
		{"birth date far future", func(in *registry.PersonInput) { in.BirthDate = "3000-01-01" }, []string{"birth_date:future"}},
		{"birth date before 1900", func(in *registry.PersonInput) { in.BirthDate = "1899-12-31" }, []string{"birth_date:invalid"}},
		{"nationality three letters", func(in *registry.PersonInput) { in.Nationality = "HND" }, []string{"nationality:invalid"}},
		{"nationality one letter", func(in *registry.PersonInput) { in.Nationality = "H" }, []string{"nationality:invalid"}},
		{"nationality with digit", func(in *registry.PersonInput) { in.Nationality = "H1" }, []string{"nationality:invalid"}},
		{"nationality sharp s (upper-cases to SS)", func(in *registry.PersonInput) { in.Nationality = "ß" }, []string{"nationality:invalid"}},
		{"nationality accented", func(in *registry.PersonInput) { in.Nationality = "ÉS" }, []string{"nationality:invalid"}},
		{"phone too short", func(in *registry.PersonInput) { in.Phone = "12345" }, []string{"phone:invalid"}},
		{"phone with letters", func(in *registry.PersonInput) { in.Phone = "call 9812 3456" }, []string{"phone:invalid"}},
		{"phone too long", func(in *registry.PersonInput) { in.Phone = strings.Repeat("9", 21) }, []string{"phone:invalid"}},
		{"phone plus only", func(in *registry.PersonInput) { in.Phone = "+" }, []string{"phone:invalid"}},
		{"unknown flag", func(in *registry.PersonInput) { in.Flags = []string{"pregnant", "vip"} }, []string{"flags:invalid"}},
		{"no consent", func(in *registry.PersonInput) { in.Consent.Registration = false }, []string{"consent.registration:required"}},
		{"everything wrong at once", func(in *registry.PersonInput) {
			*in = registry.PersonInput{GivenNames: "", Surname1: "", Surname2: "a\x00", Sex: "Z", BirthDate: "yesterday",
				Nationality: "Honduras", OriginTown: strings.Repeat("o", 101), Phone: "n/a", Notes: "\x7f",
				Flags: []string{"brave"}}
		}, []string{"birth_date:invalid", "consent.registration:required", "flags:invalid", "given_names:required",
			"nationality:invalid", "notes:invalid", "origin_town:too_long", "phone:invalid", "sex:invalid",
			"surname1:required", "surname2:invalid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fullPerson()
			tc.change(&in)
			before := countEvents(t, n)
			_, err := n.Registry.Register(ctx, coord, in)
			var v registry.ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("Register error = %v, want a ValidationError", err)
			}
			if got := fieldCodes(v); !slices.Equal(got, tc.want) {
				t.Errorf("fields = %v, want %v", got, tc.want)
			}
			for _, fe := range v {
				if fe.Message == "" || !strings.Contains(err.Error(), fe.Field+": ") {
					t.Errorf("error %q does not name field %s with a message", err, fe.Field)
				}
			}
			if l := leaked(err.Error(), secrets(fullPerson())); len(l) > 0 {
				t.Errorf("error message carries PII %q: %v", l, err)
			}
			if after := countEvents(t, n); after != before {
				t.Errorf("events %d -> %d: a refused registration wrote something", before, after)
			}
			// PrepareRegister, used by bulk loads, refuses the same input.
			if _, err := n.Registry.PrepareRegister(coord, in); !errors.As(err, &v) {
				t.Errorf("PrepareRegister error = %v, want a ValidationError", err)
			}
		})
	}
}

// TestRegisterNormalises checks the accepted edge values and how input is
// canonicalised before it is stored.
func TestRegisterNormalises(t *testing.T) {
	n := newNode(t)
	tests := []struct {
		name   string
		change func(*registry.PersonInput)
		check  func(registry.Person) string // "" when right
	}{
		{"names trimmed and spaces collapsed", func(in *registry.PersonInput) {
			in.GivenNames, in.Surname1 = "  María   de los\tÁngeles ", " Pérez "
		}, func(p registry.Person) string {
			if p.GivenNames != "María de los Ángeles" || p.Surname1 != "Pérez" {
				return fmt.Sprintf("names %q %q", p.GivenNames, p.Surname1)
			}
			return ""
		}},
		{"sex and nationality upper-cased", func(in *registry.PersonInput) { in.Sex, in.Nationality, in.Flags = "m", "gt", nil },
			func(p registry.Person) string {
				if p.Sex != "M" || p.Nationality != "GT" {
					return fmt.Sprintf("sex %q nationality %q", p.Sex, p.Nationality)
				}
				return ""
			}},
		{"flags deduplicated and sorted", func(in *registry.PersonInput) { in.Flags = []string{"medical", " pregnant", "medical", ""} },
			func(p registry.Person) string {
				if !slices.Equal(p.Flags, []string{"medical", "pregnant"}) {
					return fmt.Sprintf("flags %v", p.Flags)
				}
				return ""
			}},
		{"100-character names and 2000-character notes with newlines", func(in *registry.PersonInput) {
			in.Surname2 = strings.Repeat("ñ", 100)
			in.Notes = strings.Repeat("a\n", 999) + "ab"
		}, func(p registry.Person) string {
			if len([]rune(p.Surname2)) != 100 || len([]rune(p.Notes)) != 2000 {
				return fmt.Sprintf("surname2 %d runes, notes %d runes", len([]rune(p.Surname2)), len([]rune(p.Notes)))
			}
			return ""
		}},
		{"birth date 1900-01-01 accepted", func(in *registry.PersonInput) { in.BirthDate, in.Flags = "1900-01-01", nil },
			func(p registry.Person) string {
				if p.Age == nil || *p.Age != 118 {
					return fmt.Sprintf("age %v", p.Age)
				}
				return ""
			}},
		{"born today is age 0", func(in *registry.PersonInput) { in.BirthDate = "2018-10-20" },
			func(p registry.Person) string {
				if p.Age == nil || *p.Age != 0 {
					return fmt.Sprintf("age %v", p.Age)
				}
				return ""
			}},
		{"optional fields empty", func(in *registry.PersonInput) {
			*in = registry.PersonInput{GivenNames: "Ana", Surname1: "Paz", Sex: "F", Consent: registry.Consent{Registration: true}}
		}, func(p registry.Person) string {
			if p.Age != nil || p.BirthDate != "" || p.Phone != "" || len(p.Flags) != 0 || p.Code == "" {
				return fmt.Sprintf("%+v", p)
			}
			return ""
		}},
		{"phone forms", func(in *registry.PersonInput) { in.Phone = "+52 (55) 1234-5678" },
			func(p registry.Person) string {
				if p.Phone != "+52 (55) 1234-5678" {
					return fmt.Sprintf("phone %q", p.Phone)
				}
				return ""
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fullPerson()
			tc.change(&in)
			before := countEvents(t, n)
			p, err := n.Registry.Register(ctx, coord, in)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(p); msg != "" {
				t.Errorf("registered %s", msg)
			}
			if after := countEvents(t, n); after != before+1 {
				t.Errorf("events %d -> %d, want one registration event", before, after)
			}
		})
	}
}

// TestValidationFieldNames: every field a validation error can name
// is a field of the API (so a form can put the message next to it).
func TestValidationFieldNames(t *testing.T) {
	known := []string{auth.FieldGivenNames, auth.FieldSurname1, auth.FieldSurname2, auth.FieldSex, auth.FieldBirthDate,
		auth.FieldNationality, auth.FieldOriginTown, auth.FieldPhone, auth.FieldNotes, auth.FieldFlags}
	for _, f := range known {
		if !strings.Contains(string(mustJSON(t, registry.PersonInput{})), `"`+f+`"`) {
			t.Errorf("field %s is not a JSON key of PersonInput", f)
		}
	}
}
