package supply

import (
	"strconv"
	"testing"
)

func TestParseQty(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0: refused
	}{
		{"15", 15}, {" 7 ", 7}, {"1,000", 1000}, {"1.000", 1000}, {"1 000 000", 1_000_000}, {"1_000", 1000},
		{"", 0}, {"0", 0}, {"-3", 0}, {"1.5", 0}, {"1,00", 0}, {",100", 0}, {"1,,000", 0}, {"1000001", 0},
		{"12,345,678", 0}, {"diez", 0}, {"3kg", 0}, {"99999999999999999999", 0}, {"+4", 0},
	} {
		got, err := ParseQty(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("ParseQty(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseQty(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseQty(f *testing.F) {
	for _, s := range []string{"15", "1,000", "1 000", "1.5", "", "-1", "1000000", "1000001", "0x10", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseQty(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseQty(%q) = %d with an error", s, n)
			}
			return
		}
		if n < 1 || n > MaxQty {
			t.Fatalf("ParseQty(%q) = %d, out of range", s, n)
		}
		// A plain number reads as itself.
		if m, aerr := strconv.Atoi(s); aerr == nil && m != n {
			t.Fatalf("ParseQty(%q) = %d, strconv says %d", s, n, m)
		}
	})
}

// FuzzSplitKey: any string either is refused or splits into parts that
// make the same key again.
func FuzzSplitKey(f *testing.F) {
	for _, s := range []string{"h1+family-tent+once", "person:p1+water+day:2018-10-20", "h+x+stage:tecun-uman", "++", "a+b+day:2018-13-40"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, it, p, ok := splitKey(s)
		if ok && entKey(u, it, p) != s {
			t.Fatalf("splitKey(%q) = %q %q %q", s, u, it, p)
		}
	})
}
