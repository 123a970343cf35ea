package linkage

import (
	"math"
	"testing"
	"time"
)

var testAsOf = time.Date(2018, 10, 20, 0, 0, 0, 0, time.UTC)

// levels compares two rows of fields and returns each field's level as Explain names it.
func levels(t *testing.T, fields []Field, a, b []string) []string {
	t.Helper()
	e, err := newEngine(fields, testAsOf)
	if err != nil {
		t.Fatal(err)
	}
	fcs := make([]fieldCmp, e.nf)
	newComparer(e).compare(e.featurize(a), e.featurize(b), fcs)
	ags := newScorer(e, priorModel(e, 100)).agreements(e, fcs, nil)
	out := make([]string, len(ags))
	for i, ag := range ags {
		out[i] = ag.Level
	}
	return out
}

func TestNameLevels(t *testing.T) {
	f := []Field{{"n", KindName}}
	tests := []struct{ a, b, want string }{
		{"José Luis", "JOSE LUIS", "exact"},
		{"Hernández López", "López Hernández", "swapped"},
		{"Hernández López", "Hernández y López", "exact"},
		{"Hernández López", "Hernández-López", "exact"},
		{"Pepe", "José", "nickname"},
		{"Chema", "José María", "nickname"},
		{"Beto", "Roberto", "nickname"},
		{"Velásquez", "Belasques", "phonetic"},
		{"Hernández", "Hernadez", "similar"},
		{"Quintanilla", "Qiuintanilla", "similar"},
		{"José", "José Luis", "partial"},
		{"Luis", "José Luis", "partial"},
		{"María", "María de los Ángeles", "partial"},
		{"Hernández", "Hernández López", "partial"},
		{"Hernández López", "Hernández García", "partial"}, // the "some" level
		{"José", "Carlos", "disagree"},
		{"", "Carlos", "missing"},
		{"J", "José", "similar"}, // an initial
	}
	for _, tt := range tests {
		if got := levels(t, f, []string{tt.a}, []string{tt.b})[0]; got != tt.want {
			t.Errorf("%q vs %q: %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
	// "some" and "partial" share a display name but not a level.
	e, _ := newEngine(f, testAsOf)
	fcs := make([]fieldCmp, 1)
	newComparer(e).compare(e.featurize([]string{"Hernández López"}), e.featurize([]string{"Hernández García"}), fcs)
	if fcs[0].level != lnSome {
		t.Errorf("Hernández López vs Hernández García: level %d, want lnSome", fcs[0].level)
	}
}

func TestDateLevels(t *testing.T) {
	f := []Field{{"d", KindDate}}
	tests := []struct{ a, b, want string }{
		{"1985-03-14", "14/03/1985", "exact"},
		{"1985-03-04", "1985-04-03", "swapped"},
		{"1985-03-14", "1985-03-17", "close"},
		{"1985-03-31", "1985-04-02", "close"},
		{"1985-03-14", "1985-03-24", "close"}, // one digit of the day
		{"1985-03-14", "1986-03-14", "similar"},
		{"1985-03-14", "1958-03-14", "similar"}, // year digits swapped
		{"1985-03-14", "1985-03-29", "similar"},
		{"1985-03-14", "1985-09-20", "partial"},
		{"1985", "1985-09-20", "partial"},
		{"1985-03-14", "1990-07-01", "disagree"},
		{"1985-03-14", "", "missing"},
		{"1985-03-14", "no sé", "missing"},
	}
	for _, tt := range tests {
		if got := levels(t, f, []string{tt.a}, []string{tt.b})[0]; got != tt.want {
			t.Errorf("%q vs %q: %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestBirthDateAndAge checks that a birth date and an age never count twice: with dates on
// both sides the age is missing; otherwise ages compare, the date side through its derived age.
func TestBirthDateAndAge(t *testing.T) {
	row := func(date, age string) []string { return []string{"Ana", "López", date, age, "F", "", ""} }
	tests := []struct {
		a, b           []string
		wantDate, want string
	}{
		{row("1988-10-20", "30"), row("1988-10-20", "30"), "exact", "missing"},
		{row("1988-10-20", "30"), row("1988-10-20", ""), "exact", "missing"},
		{row("1988-10-20", ""), row("", "30"), "missing", "exact"},
		{row("1988-10-20", ""), row("", "32"), "missing", "close"},
		{row("1988-10-20", ""), row("", "35"), "missing", "similar"},
		{row("1988-10-20", ""), row("", "40"), "missing", "disagree"},
		{row("", "30"), row("", "31"), "missing", "close"},
		{row("", ""), row("", "31"), "missing", "missing"},
	}
	for _, tt := range tests {
		got := levels(t, PersonFields, tt.a, tt.b)
		if got[2] != tt.wantDate || got[3] != tt.want {
			t.Errorf("%q vs %q: date %s age %s, want %s %s", tt.a, tt.b, got[2], got[3], tt.wantDate, tt.want)
		}
	}
}

func TestOtherLevels(t *testing.T) {
	tests := []struct {
		kind       Kind
		a, b, want string
	}{
		{KindCode, "2000", "2000", "exact"},
		{KindCode, "2000", "2001", "similar"},
		{KindCode, "2010", "2100", "similar"}, // transposition
		{KindCode, "2000", "3100", "disagree"},
		{KindNumber, "012", "12", "exact"},
		{KindNumber, "12", "13", "similar"},
		{KindNumber, "12", "45", "disagree"},
		{KindCategory, "F", "femenino", "exact"},
		{KindCategory, "F", "M", "disagree"},
		{KindCategory, "", "M", "missing"},
		{KindPlace, "San Pedro Sula", "san pedro sula", "exact"},
		{KindPlace, "Villanueva", "Billanueba", "phonetic"},
		{KindPlace, "Choloma", "Cholome", "similar"},
		{KindPlace, "Sula", "San Pedro Sula", "partial"},
		{KindPlace, "Choloma, Cortés", "Cortés", "partial"},
		{KindPlace, "Tegucigalpa", "Choloma", "disagree"},
		{KindText, "12 wattle street", "12 Wattle Street", "exact"},
		{KindText, "wattle street", "wattel street", "similar"},
		{KindText, "wattle street", "wattle road", "partial"},
		{KindText, "wattle street", "acacia road", "disagree"},
		{KindAge, "30", "30", "exact"},
		{KindAge, "30", "32", "close"},
		{KindAge, "30", "25", "similar"},
		{KindAge, "30", "50", "disagree"},
	}
	for _, tt := range tests {
		f := []Field{{"x", tt.kind}}
		if got := levels(t, f, []string{tt.a}, []string{tt.b})[0]; got != tt.want {
			t.Errorf("%s %q vs %q: %s, want %s", tt.kind, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.9611}, {"dwayne", "duane", 0.84}, {"dixon", "dicksonx", 0.8133},
		{"jones", "johnson", 0.8323}, {"", "", 1}, {"abc", "", 0}, {"abc", "xyz", 0},
		{"josé", "jose", 0.8833}, {"same", "same", 1},
	}
	for _, tt := range tests {
		if got := JaroWinkler(tt.a, tt.b); math.Abs(got-tt.want) > 0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestWithin1(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"abc", "abc", true}, {"abc", "abd", true}, {"abc", "acb", true}, {"abc", "ab", true},
		{"abc", "xabc", true}, {"abc", "abcd", true}, {"abc", "cba", false}, {"abc", "a", false},
		{"", "a", true}, {"abcd", "abdc", true}, {"abcd", "badc", false},
	}
	for _, tt := range tests {
		if got := within1(tt.a, tt.b); got != tt.want {
			t.Errorf("within1(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := within1(tt.b, tt.a); got != tt.want {
			t.Errorf("within1(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestOneDigitOff(t *testing.T) {
	tests := []struct {
		a, b int
		want bool
	}{{1985, 1995, true}, {1985, 1958, true}, {1985, 1985, false}, {1985, 1975 + 100, false}, {14, 24, true}, {14, 41, true}, {14, 25, false}}
	for _, tt := range tests {
		if got := oneDigitOff(tt.a, tt.b); got != tt.want {
			t.Errorf("oneDigitOff(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLevelWeights(t *testing.T) {
	// A fit that rewards disagreement and a near miss that outweighs the exact level.
	w := levelWeights([]float64{0.001, 0.5, 0.3, 0.199}, []float64{0.01, 0.001, 0.3, 0.689})
	last := len(w) - 1
	if w[0] < 1 {
		t.Errorf("exact weight %.2f, want at least 1", w[0])
	}
	if w[last] > -0.5 {
		t.Errorf("disagree weight %.2f, want at most -0.5", w[last])
	}
	for l := 1; l < last; l++ {
		if w[l] > w[0] || w[l] < w[last] {
			t.Errorf("level %d weight %.2f outside [%.2f, %.2f]", l, w[l], w[last], w[0])
		}
	}
	for _, x := range levelWeights([]float64{1, 0}, []float64{1e-30, 1}) {
		if x > maxLevelWeight || x < minLevelWeight {
			t.Errorf("weight %.2f outside the bounds", x)
		}
	}
}

func TestPosterior(t *testing.T) {
	tests := []struct{ w, lambda, want float64 }{
		{0, 0.5, 0.5}, {1, 0.5, 2.0 / 3}, {10, 1.0 / 1025, 0.5}, {-1000, 0.5, 0}, {1000, 1e-9, 1},
	}
	for _, tt := range tests {
		if got := posterior(tt.w, tt.lambda); math.Abs(got-tt.want) > 1e-3 {
			t.Errorf("posterior(%v, %v) = %v, want %v", tt.w, tt.lambda, got, tt.want)
		}
	}
}
