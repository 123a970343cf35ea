package linkage

import (
	"slices"
	"testing"

	"caravana/internal/names"
)

func TestNameTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"María de los Ángeles", []string{"maria", "angeles"}},
		{"José Luis", []string{"jose", "luis"}},
		{"HERNÁNDEZ LÓPEZ", []string{"hernandez", "lopez"}},
		{"Hernández y López", []string{"hernandez", "lopez"}},
		{"Hernández-López", []string{"hernandez", "lopez"}},
		{"Juan del Carmen", []string{"juan", "carmen"}},
		{"Núñez", []string{"nunez"}},
		{"Tz'ul", []string{"tzul"}},
		{"Doña Lupe", []string{"lupe"}},
		{"Sr. Pérez", []string{"perez"}},
		{"  ", []string{}},
		{"de la", []string{}},
		{"San Pedro", []string{"san", "pedro"}},
	}
	for _, tt := range tests {
		if got := NameTokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("NameTokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldMatchesNames(t *testing.T) {
	for _, s := range []string{"", "plain", "ÁÉÍÓÚÜÑ áéíóúüñ", "Çà la Ÿÿ", "Æsir Øre Straße", "e\u0301", "\xff\xfe", "Ñandú", "İstanbul", "ÀÅÈÌÒÙÝ"} {
		if got, want := fold(s), names.Fold(s); got != want {
			t.Errorf("fold(%q) = %q, names.Fold gives %q", s, got, want)
		}
	}
}

// TestParticlesMatchNames keeps nameWords' particle list in step with names.Tokens.
func TestParticlesMatchNames(t *testing.T) {
	for _, w := range []string{"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "san", "el", "al", "di", "van", "von", "du", "le", "lo", "das", "o", "i", "a"} {
		if got, want := nameWords(w), names.Tokens(w); !slices.Equal(got, want) {
			t.Errorf("nameWords(%q) = %q, names.Tokens gives %q", w, got, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want date
	}{
		{"1985-03-14", mkDate(1985, 3, 14)},
		{"1985/03/14", mkDate(1985, 3, 14)},
		{"19850314", mkDate(1985, 3, 14)},
		{"14/03/1985", mkDate(1985, 3, 14)},
		{"14-03-1985", mkDate(1985, 3, 14)},
		{"4/3/1985", mkDate(1985, 3, 4)},
		{"14/03/85", mkDate(1985, 3, 14)},
		{"14/03/05", mkDate(2005, 3, 14)},
		{"1985-03", mkDate(1985, 3, 0)},
		{"1985", mkDate(1985, 0, 0)},
		{"1985-03-14T00:00:00Z", mkDate(1985, 3, 14)},
		{"2000-02-29", mkDate(2000, 2, 29)},
		{"1900-02-29", 0},
		{"1985-13-01", 0},
		{"1985-04-31", 0},
		{"31/31/1985", 0},
		{"hace mucho", 0},
		{"", 0},
		{"123", 0},
		{"1700-01-01", 0},
	}
	for _, tt := range tests {
		if got := parseDate(tt.in); got != tt.want {
			t.Errorf("parseDate(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"30", 30}, {"30 años", 30}, {"~30", 30}, {"30?", 30}, {"30.5", 30}, {"30,5", 30},
		{"30-35", 32}, {"0", 0}, {"", -1}, {"unos treinta", -1}, {"200", -1}, {"99999999999", -1},
	}
	for _, tt := range tests {
		if got := parseAge(tt.in); got != tt.want {
			t.Errorf("parseAge(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestAgeOn(t *testing.T) {
	ref := mkDate(2018, 10, 20)
	tests := []struct {
		birth date
		want  int
	}{
		{mkDate(1988, 10, 20), 30}, {mkDate(1988, 10, 21), 29}, {mkDate(2018, 1, 1), 0},
		{mkDate(1988, 0, 0), 30}, {0, -1},
	}
	for _, tt := range tests {
		if got := ageOn(tt.birth, ref); got != tt.want {
			t.Errorf("ageOn(%d) = %d, want %d", tt.birth, got, tt.want)
		}
	}
}

func TestNormalisers(t *testing.T) {
	codes := map[string]string{"hn-1234 5": "HN12345", "HN12345": "HN12345", "ñ-1": "N1", "": ""}
	for in, want := range codes {
		if got := normCode(in); got != want {
			t.Errorf("normCode(%q) = %q, want %q", in, got, want)
		}
	}
	numbers := map[string]string{"007": "7", "12a": "12", "0": "0", "s/n": "SN", "": ""}
	for in, want := range numbers {
		if got := normNumber(in); got != want {
			t.Errorf("normNumber(%q) = %q, want %q", in, got, want)
		}
	}
	cats := map[string]string{"F": "f", "femenino": "f", "Mujer": "f", "M": "m", "Masculino": "m", "hombre": "m", "HN": "hn", " Otro ": "otro"}
	for in, want := range cats {
		if got := normCategory(in); got != want {
			t.Errorf("normCategory(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range kinds {
		if got, err := ParseKind(" " + string(k) + " "); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if got, err := ParseKind("NAME"); err != nil || got != KindName {
		t.Errorf("ParseKind(NAME) = %q, %v", got, err)
	}
	if _, err := ParseKind("colour"); err == nil {
		t.Error("ParseKind(colour) succeeded")
	}
}
