package linkage

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"caravana/internal/names"
)

var fuzzNames = []string{"María de los Ángeles", "Hernández-López", "Pérez y López", "Tz'ul", "Doña Lupe",
	"ÑUÑEZ", "\xff\xfe", "a-b c", "İstanbul", "e\u0301", "Sr. Ø", "  ", "Quique Velásquez Llolanda"}

func FuzzNameTokens(f *testing.F) {
	for _, s := range fuzzNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := NameTokens(s)
		for _, tok := range toks {
			if tok == "" || particles[tok] || honorifics[tok] {
				t.Fatalf("NameTokens(%q) returned %q", s, tok)
			}
		}
		// Tokens are a fixed point: tokenising them again gives them back.
		if again := NameTokens(strings.Join(toks, " ")); !slices.Equal(again, toks) {
			t.Fatalf("NameTokens(%q) = %q, but NameTokens of that = %q", s, toks, again)
		}
	})
}

func FuzzFold(f *testing.F) {
	for _, s := range fuzzNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := fold(s), names.Fold(s); got != want {
			t.Fatalf("fold(%q) = %q, names.Fold gives %q", s, got, want)
		}
	})
}

func FuzzPhonetic(f *testing.F) {
	for _, s := range append(fuzzNames, "Guillermo", "Gyl", "acción", "Ximena", "cce", "llly", "ghe") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Phonetic(s)
		for _, r := range k {
			if r < 'A' || r > 'Z' {
				t.Fatalf("Phonetic(%q) = %q: not A-Z", s, k)
			}
		}
		if again := Phonetic(k); again != k {
			t.Fatalf("Phonetic(%q) = %q, Phonetic(%q) = %q: not idempotent", s, k, k, again)
		}
		if folded := Phonetic(fold(s)); folded != k {
			t.Fatalf("Phonetic(%q) = %q but Phonetic(fold) = %q", s, k, folded)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"1985-03-14", "14/03/1985", "19850314", "1985", "1985-03", "14/03/85", "2000-02-30", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDate(s)
		if d == 0 {
			return
		}
		y, m, dd := d.year(), d.month(), d.day()
		if y < 1800 || y > 2200 || m > 12 || (m == 0 && dd != 0) || (m > 0 && dd > daysIn(y, m)) {
			t.Fatalf("parseDate(%q) = %d: impossible", s, d)
		}
		var again date
		switch {
		case m == 0:
			again = parseDate(fmt.Sprintf("%04d", y))
		case dd == 0:
			again = parseDate(fmt.Sprintf("%04d-%02d", y, m))
		default:
			again = parseDate(fmt.Sprintf("%04d-%02d-%02d", y, m, dd))
		}
		if again != d {
			t.Fatalf("parseDate(%q) = %d, but its ISO form parses to %d", s, d, again)
		}
	})
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"30", "30 años", "~30", "30-35", "30.5", "", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a := parseAge(s); a < -1 || a > 130 {
			t.Fatalf("parseAge(%q) = %d", s, a)
		}
	})
}

// FuzzCompare feeds arbitrary values of every kind through featurize and compare: no panic,
// symmetric levels, finite weights.
func FuzzCompare(f *testing.F) {
	fields := append(slices.Clone(PersonFields), otherFields...)
	e, err := newEngine(fields, testAsOf)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("José Luis|Hernández López|1985-03-14|33|F|Choloma|HN|2000|12|wattle st|Sula|F", "Pepe|López|14/03/1985||M|Cholome||2001|13|wattel st|San Pedro Sula|f")
	f.Add("||||||||||||", "\xff|\x00|9999|-1|||||||||")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) && len(a) > 200 {
			return
		}
		fa, fb := e.featurize(strings.Split(a, "|")), e.featurize(strings.Split(b, "|"))
		c := newComparer(e)
		ab, ba := make([]fieldCmp, e.nf), make([]fieldCmp, e.nf)
		c.compare(fa, fb, ab)
		c.compare(fb, fa, ba)
		sc := newScorer(e, priorModel(e, 10))
		for i := range ab {
			if ab[i].level != ba[i].level {
				t.Fatalf("field %s: level %d one way, %d the other", fields[i].Name, ab[i].level, ba[i].level)
			}
			if w := sc.fieldWeight(i, ab, nil); w != w || w > 100 || w < -100 {
				t.Fatalf("field %s: weight %v", fields[i].Name, w)
			}
		}
	})
}
