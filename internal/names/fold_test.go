package names

import (
	"slices"
	"testing"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Núñez", "nunez"},
		{"NÚÑEZ", "nunez"},
		{"José Luis", "jose luis"},
		{"Ángeles", "angeles"},
		{"Güity", "guity"},
		{"plain", "plain"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"María de los Ángeles", []string{"maria", "angeles"}},
		{"Pérez y López", []string{"perez", "lopez"}},
		{"García-Hernández", []string{"garcia", "hernandez"}},
		{"  Juan   Carlos ", []string{"juan", "carlos"}},
		{"de la", []string{}},
	}
	for _, tt := range tests {
		if got := Tokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range []string{"María de los Ángeles", "Núñez", "\xff\xfe", "a-b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokens(s) {
			if tok == "" || particles[tok] {
				t.Fatalf("Tokens(%q) returned %q", s, tok)
			}
			if Fold(tok) != tok {
				t.Fatalf("token %q not folded", tok)
			}
		}
	})
}
