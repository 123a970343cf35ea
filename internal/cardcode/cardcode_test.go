package cardcode

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// genCode draws a valid canonical code. The check symbol is found by trying
// all 31 candidates through Parse, so the generator does not share code
// with what it tests, and it also asserts that exactly one candidate works.
func genCode() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		var b strings.Builder
		for range PayloadLen {
			b.WriteByte(Alphabet[rapid.IntRange(0, base-1).Draw(t, "symbol")])
		}
		payload := b.String()
		var found []string
		for i := range base {
			if c := payload + Alphabet[i:i+1]; Valid(c) {
				found = append(found, c)
			}
		}
		if len(found) != 1 {
			t.Fatalf("payload %s: %d valid check symbols %v, want exactly 1", payload, len(found), found)
		}
		return found[0]
	})
}

func TestSubstitutionRejected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		code := genCode().Draw(t, "code")
		for i := range Len {
			for j := range base {
				if Alphabet[j] == code[i] {
					continue
				}
				bad := code[:i] + Alphabet[j:j+1] + code[i+1:]
				if _, err := Parse(bad); !errors.Is(err, ErrCheck) {
					t.Fatalf("Parse(%s) (substituted %c at %d in %s) = %v, want ErrCheck", bad, Alphabet[j], i, code, err)
				}
			}
		}
	})
}

func TestTranspositionRejected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		code := genCode().Draw(t, "code")
		for i := 0; i+1 < Len; i++ {
			if code[i] == code[i+1] {
				continue
			}
			b := []byte(code)
			b[i], b[i+1] = b[i+1], b[i]
			if _, err := Parse(string(b)); !errors.Is(err, ErrCheck) {
				t.Fatalf("Parse(%s) (swapped %d,%d in %s) = %v, want ErrCheck", b, i, i+1, code, err)
			}
		}
	})
}

// TestNewFromAnyBytes feeds New arbitrary byte streams: it must either
// fail with an error or return a valid code, never an invalid one.
func TestNewFromAnyBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "bytes")
		code, err := New(bytes.NewReader(src))
		if err != nil {
			return
		}
		if len(code) != Len || !Valid(code) {
			t.Fatalf("New = %q, not a valid canonical code", code)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	for range 1000 {
		code, err := New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f := Format(code)
		if len(f) != Len+1 || f[groupLen] != '-' {
			t.Fatalf("Format(%s) = %q, want XXXXX-XXXXX", code, f)
		}
		got, err := Parse(f)
		if err != nil || got != code {
			t.Fatalf("Parse(Format(%s)) = %q, %v; want %q, nil", code, got, err, code)
		}
		// Lower case with the hyphen, as typed on a phone.
		got, err = Parse(strings.ToLower(f))
		if err != nil || got != code {
			t.Fatalf("Parse(lower(%s)) = %q, %v; want %q, nil", f, got, err, code)
		}
	}
}

// codeWith is a payload containing 0, 1, 2 and V, so the look-alike
// mappings (O, I/L, Z, U) have something to stand in for.
const codeWith = "0V12A3B4C"

func validFrom(t *testing.T, payload string) string {
	t.Helper()
	for i := range base {
		if c := payload + Alphabet[i:i+1]; Valid(c) {
			return c
		}
	}
	t.Fatalf("no check symbol for %s", payload)
	return ""
}

func TestParseForgiving(t *testing.T) {
	want := validFrom(t, codeWith) // "0V12A3B4C" + check
	check := want[PayloadLen:]
	tests := []struct {
		name, in string
	}{
		{"canonical", want},
		{"formatted", want[:5] + "-" + want[5:]},
		{"lower case", strings.ToLower(want)},
		{"spaces", " 0V1 2A 3B4 C" + check + " "},
		{"dots", "0V.12.A3.B4C." + check},
		{"tabs and newline", "0V12A\t3B4C" + check + "\n"},
		{"en dash from a phone", "0V12A\u20133B4C" + check},
		{"non-breaking hyphen", "0V12A\u20113B4C" + check},
		{"O for zero", "OV12A3B4C" + check},
		{"o for zero", "ov12a3b4c" + strings.ToLower(check)},
		{"I for one", "0VI2A3B4C" + check},
		{"l for one", "0Vl2A3B4C" + check},
		{"L for one", "0VL2A3B4C" + check},
		{"U for V", "0U12A3B4C" + check},
		{"u for V", "0u12A3B4C" + check},
		{"Z for two", "0V1ZA3B4C" + check},
		{"all look-alikes", "oulza3b4c" + check},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil || got != want {
				t.Errorf("Parse(%q) = %q, %v; want %q, nil", tt.in, got, err, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	code := validFrom(t, codeWith)
	tests := []struct {
		name, in string
		want     error
		msg      string // substring the message must contain
	}{
		{"empty", "", ErrLength, "got 0"},
		{"only separators", " - . ", ErrLength, "got 0"},
		{"too short", code[:9], ErrLength, "got 9"},
		{"too long", code + "0", ErrLength, "got 11"},
		{"far too long", strings.Repeat("0", 1000), ErrLength, "got 1000"},
		{"punctuation", code[:3] + "!" + code[3:], ErrSymbol, "'!' at position 4"},
		{"accented", "Ñ" + code, ErrSymbol, "'Ñ' at position 1"},
		{"position counts characters", "ñ-ñ" + code, ErrSymbol, "'ñ' at position 1"},
		{"emoji after separators", "AB-C 😀", ErrSymbol, "at position 6"},
		{"invalid utf-8", "AB\xff", ErrSymbol, "position 3"},
		{"symbol error beats length", "!", ErrSymbol, "position 1"},
		{"check wrong", code[:9] + string(Alphabet[(int(values[code[9]])+1)%base]), ErrCheck, "check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %q, %v; want error %v", tt.in, got, err, tt.want)
			}
			if got != "" {
				t.Errorf("Parse(%q) returned %q with an error, want empty", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Parse(%q) error %q does not mention %q", tt.in, err, tt.msg)
			}
			if Valid(tt.in) {
				t.Errorf("Valid(%q) = true, want false", tt.in)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	code := validFrom(t, codeWith)
	tests := []struct{ in, want string }{
		{code, code[:5] + "-" + code[5:]},
		{strings.ToLower(code), code[:5] + "-" + code[5:]},
		{"not a code", "not a code"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// cycle yields 0, 1, ..., 255, 0, 1, ... forever.
type cycle struct{ n int }

func (c *cycle) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c.n)
		c.n++
	}
	return len(p), nil
}

// TestNoModuloBias runs New on a source in which every byte value occurs
// equally often. With rejection sampling, 248 codes consume the accepted
// bytes of exactly 9 cycles of 256 bytes and every symbol appears exactly 72 times among the
// payloads; with b%31 (modulo bias) symbols 0-7 would appear more often.
func TestNoModuloBias(t *testing.T) {
	var counts [base]int
	r := &cycle{}
	for range acceptBelow {
		code, err := New(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []byte(code[:PayloadLen]) {
			counts[values[c]]++
		}
	}
	for v, got := range counts {
		if want := PayloadLen * acceptBelow / base; got != want {
			t.Errorf("symbol %c appeared %d times, want exactly %d", Alphabet[v], got, want)
		}
	}
	// The last cycle's rejected tail (248-255) is never read because the
	// last code is complete at byte 247.
	if want := PayloadLen*256 - (256 - acceptBelow); r.n != want {
		t.Errorf("New consumed %d bytes, want %d (no byte wasted)", r.n, want)
	}
}

// TestUniform is a sanity check on 20,000 codes from a fixed-seed source,
// so it is deterministic and cannot flake. Each symbol is expected ~5,806
// times per position class; ±10% is about 7.6 standard deviations, loose
// enough for any decent source and tight enough to catch a gross bias
// (a symbol never drawn, or one drawn twice as often).
func TestUniform(t *testing.T) {
	const n = 20000
	src := mrand.NewChaCha8([32]byte{'c', 'a', 'r', 'a', 'v', 'a', 'n', 'a'})
	var payload, check [base]int
	seen := make(map[string]bool, n)
	for range n {
		code, err := New(src)
		if err != nil {
			t.Fatal(err)
		}
		if seen[code] {
			t.Fatalf("duplicate code %s among %d", code, len(seen))
		}
		seen[code] = true
		for _, c := range []byte(code[:PayloadLen]) {
			payload[values[c]]++
		}
		check[values[code[PayloadLen]]]++
	}
	within := func(name string, counts [base]int, total int) {
		t.Helper()
		want := float64(total) / float64(base)
		for v, got := range counts {
			if f := float64(got); f < 0.9*want || f > 1.1*want {
				t.Errorf("%s symbol %c: %d, want %.0f ±10%%", name, Alphabet[v], got, want)
			}
		}
	}
	within("payload", payload, n*PayloadLen)
	// The check symbol has 31 times fewer samples (~645 each, sd ~25), so
	// the bound is wider: ±25% is about 6 sd.
	for v, got := range check {
		if want := float64(n) / float64(base); float64(got) < 0.75*want || float64(got) > 1.25*want {
			t.Errorf("check symbol %c: %d, want %.0f ±25%%", Alphabet[v], got, want)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"failing reader", errReader{}},
		{"short reader", bytes.NewReader([]byte{1, 2, 3})},
		{"only rejected bytes", constReader(0xFF)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := New(tt.r); err == nil {
				t.Errorf("New = %q, nil; want an error", got)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for i := range base {
		f.Add(codeWith + Alphabet[i:i+1])
	}
	for _, s := range []string{"", "-----", "oulza-3b4c7", "ABCDE-FGHJK", "Ñ", "\xff", "0 0 0 0 0 0 0 0 0 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrSymbol) && !errors.Is(err, ErrCheck) {
				t.Fatalf("Parse(%q) error %v wraps no sentinel", s, err)
			}
			if Format(s) != s {
				t.Fatalf("Format(%q) = %q, want input unchanged for invalid code", s, Format(s))
			}
			return
		}
		if len(got) != Len || strings.Trim(got, Alphabet) != "" {
			t.Fatalf("Parse(%q) = %q, not canonical", s, got)
		}
		if again, err := Parse(got); err != nil || again != got {
			t.Fatalf("Parse(Parse(%q)) = %q, %v; want %q", s, again, err, got)
		}
		if again, err := Parse(Format(got)); err != nil || again != got {
			t.Fatalf("Parse(Format(%q)) = %q, %v; want %q", got, again, err, got)
		}
		if Format(s) != Format(got) {
			t.Fatalf("Format(%q) = %q, Format(%q) = %q; want equal", s, Format(s), got, Format(got))
		}
	})
}
