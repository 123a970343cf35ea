package linkage

import (
	"slices"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Pepe", []string{"jose"}},
		{"CHEPE", []string{"jose"}},
		{"Pancho", []string{"francisco"}},
		{"Paco", []string{"francisco"}},
		{"Quico", []string{"francisco"}},
		{"Lupe", []string{"guadalupe"}},
		{"Memo", []string{"guillermo"}},
		{"Nacho", []string{"ignacio"}},
		{"Chayo", []string{"rosario"}},
		{"Chuy", []string{"jesus"}},
		{"Chucho", []string{"jesus"}},
		{"Toño", []string{"antonio"}},
		{"Lalo", []string{"eduardo"}},
		{"Quique", []string{"enrique"}},
		{"Chema", []string{"jose maria"}},
		{"Maru", []string{"maria eugenia"}},
		{"Concha", []string{"concepcion"}},
		{"Periko", []string{"pedro"}}, // a nickname spelt as it sounds
		{"Kiké", []string{"enrique"}},
		{"José", []string{"jose"}}, // a canonical name is itself
		{"Rosario", []string{"rosario"}},
		{"Xiomara", []string{"xiomara"}}, // no entry
		{"", nil},
	}
	for _, tt := range tests {
		if got := Canonical(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	beto := Canonical("Beto")
	for _, want := range []string{"alberto", "roberto", "humberto", "norberto"} {
		if !slices.Contains(beto, want) {
			t.Errorf("Canonical(Beto) = %q, want it to include %q", beto, want)
		}
	}
}

func TestNicknameFile(t *testing.T) {
	m := nicknames()
	if len(m) < 300 {
		t.Errorf("nicknames.tsv has %d entries, want a few hundred", len(m))
	}
	for nick, canon := range m {
		for _, c := range canon {
			if c == nick {
				t.Errorf("%q lists itself", nick)
			}
			if strings.TrimSpace(c) == "" {
				t.Errorf("%q has an empty canonical name", nick)
			}
		}
	}
}

func TestParseNicknamesErrors(t *testing.T) {
	for _, bad := range []string{"pepe José", "\tJosé", "pepe\t", "pepe\tJosé\npepe\tJosefa", "pepe\t|"} {
		if _, err := parseNicknames(bad); err == nil {
			t.Errorf("parseNicknames(%q) succeeded", bad)
		}
	}
	m, err := parseNicknames("# comment\n\npepe\tJosé|José María\r\n")
	if err != nil || !slices.Equal(m["pepe"], []string{"jose", "jose maria"}) {
		t.Errorf("parseNicknames = %v, %v", m, err)
	}
}
