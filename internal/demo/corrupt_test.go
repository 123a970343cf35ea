package demo

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestCorruptIsDeterministic(t *testing.T) {
	c := Generate(1, 200, asOf)
	run := func(f func(*rand.Rand, Person, time.Time) Report) []Report {
		r := rand.New(rand.NewPCG(5, 6))
		out := make([]Report, len(c.People))
		for i, p := range c.People {
			out[i] = f(r, p, asOf)
		}
		return out
	}
	for _, f := range []func(*rand.Rand, Person, time.Time) Report{CorruptReport, CorruptDuplicate} {
		a, b := run(f), run(f)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("person %d: %+v, then %+v", i, a[i], b[i])
			}
		}
	}
}

func TestDescribeAndAgeOn(t *testing.T) {
	p := Person{GivenNames: "José Luis", Surname1: "Hernández", Surname2: "López", Sex: "M",
		BirthDate: time.Date(1988, 10, 21, 0, 0, 0, 0, time.UTC), Nationality: "HN", OriginTown: "Choloma"}
	d := Describe(p, asOf)
	want := Report{GivenNames: "José Luis", Surnames: "Hernández López", Sex: "M", BirthDate: p.BirthDate, Age: 29, Nationality: "HN", OriginTown: "Choloma"}
	if d != want {
		t.Errorf("Describe = %+v, want %+v", d, want)
	}
	p.Surname2 = ""
	if d := Describe(p, asOf); d.Surnames != "Hernández" {
		t.Errorf("one surname: %q", d.Surnames)
	}
	tests := []struct {
		birth time.Time
		want  int
	}{
		{time.Date(1988, 10, 20, 0, 0, 0, 0, time.UTC), 30},
		{time.Date(1988, 10, 21, 0, 0, 0, 0, time.UTC), 29},
		{time.Date(2018, 10, 20, 0, 0, 0, 0, time.UTC), 0},
	}
	for _, tt := range tests {
		if got := AgeOn(tt.birth, asOf); got != tt.want {
			t.Errorf("AgeOn(%v) = %d, want %d", tt.birth, got, tt.want)
		}
	}
}

// rates counts how often each kind of difference shows in descriptions of a caravan.
type rates struct {
	n                                             float64
	ageOnly, noBirth, dateChanged, noSex, noNat   float64
	noTown, wrongTown, oneSurname, nickname, part float64
	givenSame, surnamesSame                       float64
}

func measure(t *testing.T, f func(*rand.Rand, Person, time.Time) Report) rates {
	t.Helper()
	c := Generate(3, 6000, asOf)
	r := rand.New(rand.NewPCG(7, 8))
	var x rates
	two := 0.0
	for _, p := range c.People {
		rep := f(r, p, asOf)
		x.n++
		if rep.GivenNames == "" || rep.Surnames == "" {
			t.Fatalf("%+v lost a name: %+v", p, rep)
		}
		switch {
		case rep.BirthDate.IsZero() && rep.Age < 0:
			x.noBirth++
		case rep.BirthDate.IsZero():
			x.ageOnly++
			if d := rep.Age - AgeOn(p.BirthDate, asOf); d < -5 || d > 5 {
				t.Fatalf("age %d for someone %d", rep.Age, AgeOn(p.BirthDate, asOf))
			}
		case !rep.BirthDate.Equal(p.BirthDate):
			x.dateChanged++
		}
		if rep.Sex == "" {
			x.noSex++
		} else if rep.Sex != p.Sex {
			t.Fatalf("sex changed: %+v -> %+v", p, rep)
		}
		if rep.Nationality == "" {
			x.noNat++
		}
		switch rep.OriginTown {
		case "":
			x.noTown++
		case p.OriginTown:
		default:
			x.wrongTown++
		}
		if p.Surname2 != "" {
			two++
			if !strings.ContainsAny(strings.TrimSpace(rep.Surnames), " -") {
				x.oneSurname++
			}
		}
		if nicks := reportNicknames[p.GivenNames]; len(nicks) > 0 {
			for _, nk := range nicks {
				if strings.EqualFold(stripAccents(rep.GivenNames), stripAccents(nk)) {
					x.nickname++
				}
			}
		}
		if len(significant(strings.Fields(p.GivenNames))) > 1 && len(strings.Fields(rep.GivenNames)) == 1 {
			x.part++
		}
		if rep.GivenNames == p.GivenNames {
			x.givenSame++
		}
		if rep.Surnames == strings.TrimSpace(p.Surname1+" "+p.Surname2) {
			x.surnamesSame++
		}
	}
	x.oneSurname /= two
	for _, v := range []*float64{&x.ageOnly, &x.noBirth, &x.dateChanged, &x.noSex, &x.noNat, &x.noTown, &x.wrongTown, &x.nickname, &x.part, &x.givenSame, &x.surnamesSame} {
		*v /= x.n
	}
	return x
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: rate %.3f, want %.3f ± %.3f", what, got, want, tol)
	}
}

func TestCorruptReportRates(t *testing.T) {
	x := measure(t, CorruptReport)
	n := reportNoise
	near(t, "age instead of a birth date", x.ageOnly, n.ageOnly, 0.03)
	near(t, "nothing about age", x.noBirth, n.noBirth, 0.015)
	near(t, "no sex", x.noSex, n.noSex, 0.03)
	near(t, "no nationality", x.noNat, n.noNation, 0.03)
	near(t, "no town", x.noTown, n.noTown, 0.03)
	near(t, "wrong town", x.wrongTown, n.wrongTown, 0.03)
	near(t, "one surname", x.oneSurname, n.oneSurname, 0.04)
	if x.dateChanged < 0.01 || x.nickname < 0.01 || x.part < 0.03 {
		t.Errorf("too few changed dates (%.3f), nicknames (%.3f) or compound names cut (%.3f)", x.dateChanged, x.nickname, x.part)
	}
	if x.givenSame > 0.8 || x.surnamesSame > 0.8 {
		t.Errorf("reports too clean: given names unchanged %.3f, surnames unchanged %.3f", x.givenSame, x.surnamesSame)
	}
}

func TestCorruptDuplicateIsLighter(t *testing.T) {
	rep, dup := measure(t, CorruptReport), measure(t, CorruptDuplicate)
	near(t, "duplicate age only", dup.ageOnly, duplicateNoise.ageOnly, 0.02)
	if dup.givenSame <= rep.givenSame || dup.surnamesSame <= rep.surnamesSame || dup.ageOnly >= rep.ageOnly || dup.wrongTown >= rep.wrongTown {
		t.Errorf("duplicates not lighter than reports: %+v vs %+v", dup, rep)
	}
	if dup.givenSame > 0.98 || dup.surnamesSame > 0.98 {
		t.Errorf("duplicates never differ: %+v", dup)
	}
}

// osa is the optimal string alignment distance of two rune strings.
func osa(a, b []rune) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestTypo(t *testing.T) {
	c := &corrupter{r: rand.New(rand.NewPCG(1, 1))}
	for _, w := range []string{"Hernández", "José Luis", "María de los Ángeles", "Ana", "Xol", "Quintanilla"} {
		for range 200 {
			got := c.typo(w)
			if d := osa([]rune(w), []rune(got)); d > 1 {
				t.Fatalf("typo(%q) = %q: %d edits", w, got, d)
			}
			gw, ww := strings.Fields(got), strings.Fields(w)
			if len(gw) != len(ww) {
				t.Fatalf("typo(%q) = %q changed the words", w, got)
			}
			for i := range gw {
				if []rune(gw[i])[0] != []rune(ww[i])[0] {
					t.Fatalf("typo(%q) = %q changed a first letter", w, got)
				}
			}
		}
	}
}

func TestSpell(t *testing.T) {
	c := &corrupter{r: rand.New(rand.NewPCG(2, 2))}
	seen := map[string]bool{}
	for range 400 {
		seen[c.spell("Velásquez")] = true
		if got := c.spell("Nery"); got != "Nery" && got != "Hnery" && strings.Contains(got, "ll") {
			t.Fatalf("spell(Nery) = %q: ll/y only before a vowel", got)
		}
	}
	for _, want := range []string{"Belásquez", "Velázquez", "Velásques", "Veláskez"} {
		if !seen[want] {
			t.Errorf("spell(Velásquez) never gave %q (gave %v)", want, seen)
		}
	}
	if got := c.spellAll("Hernández López", 0); got != "Hernández López" {
		t.Errorf("spellAll with p=0 changed %q", got)
	}
}

func TestStripAccents(t *testing.T) {
	for in, want := range map[string]string{"José Núñez": "Jose Nunez", "ÁNGELES": "ANGELES", "plain": "plain", "": ""} {
		if got := stripAccents(in); got != want {
			t.Errorf("stripAccents(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignificant(t *testing.T) {
	got := significant(strings.Fields("María de los Ángeles"))
	if strings.Join(got, " ") != "María Ángeles" {
		t.Errorf("significant = %q", got)
	}
}

func TestOtherTown(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	p := Person{Nationality: "HN", OriginTown: "San Pedro Sula"}
	for range 50 {
		if town := otherTown(r, p); town == p.OriginTown || town == "" {
			t.Fatalf("otherTown = %q", town)
		}
	}
}
