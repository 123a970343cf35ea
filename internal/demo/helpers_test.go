package demo

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// asOf is the date the 2018 caravan left San Pedro Sula, as callers use it.
var asOf = time.Date(2018, 10, 20, 0, 0, 0, 0, time.UTC)

// ageAt is the age in whole years on day at, counting birthdays properly.
func ageAt(birth, at time.Time) int {
	a := at.Year() - birth.Year()
	if at.Month() < birth.Month() || (at.Month() == birth.Month() && at.Day() < birth.Day()) {
		a--
	}
	return a
}

func hasFlag(p Person, f string) bool { return slices.Contains(p.Flags, f) }

// stats is the headline make-up of a caravan, computed independently of the generator.
type stats struct {
	people, households         int
	minors, adultWomen, adults int
	unaccompanied, separated   int
	pregnant, disability       int
	medical, elderly, over60   int
	adultPhones, under14Phones int
	young                      int // adults 18-35
	infants                    int // under 1
	noSurname2                 int
	nat                        map[string]int
	kinds                      map[string]int
}

func computeStats(c Caravan) stats {
	s := stats{people: len(c.People), households: len(c.Households), nat: map[string]int{}, kinds: map[string]int{}}
	for _, p := range c.People {
		a := ageAt(p.BirthDate, asOf)
		s.nat[p.Nationality]++
		switch {
		case a < 18:
			s.minors++
		default:
			s.adults++
			if p.Sex == "F" {
				s.adultWomen++
			}
			if p.Phone != "" {
				s.adultPhones++
			}
			if a <= 35 {
				s.young++
			}
		}
		if a < 14 && p.Phone != "" {
			s.under14Phones++
		}
		if a < 1 {
			s.infants++
		}
		if a >= 60 {
			s.over60++
		}
		if p.Surname2 == "" {
			s.noSurname2++
		}
		for _, f := range p.Flags {
			switch f {
			case FlagUnaccompaniedChild:
				s.unaccompanied++
			case FlagSeparatedChild:
				s.separated++
			case FlagPregnant:
				s.pregnant++
			case FlagDisability:
				s.disability++
			case FlagMedical:
				s.medical++
			case FlagElderly:
				s.elderly++
			}
		}
	}
	for _, h := range c.Households {
		s.kinds[h.Kind]++
	}
	return s
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (s stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "people %d in %d households %v\n", s.people, s.households, s.kinds)
	fmt.Fprintf(&b, "minors %d, adult women %d, adult men %d\n", s.minors, s.adultWomen, s.adults-s.adultWomen)
	fmt.Fprintf(&b, "nationality %v\n", s.nat)
	fmt.Fprintf(&b, "unaccompanied %d (%.1f%% of minors), separated %d (%.1f%%)\n",
		s.unaccompanied, pct(s.unaccompanied, s.minors), s.separated, pct(s.separated, s.minors))
	fmt.Fprintf(&b, "pregnant %d (%.1f%% of adult women), disability %.1f%%, medical %.1f%%, elderly %d\n",
		s.pregnant, pct(s.pregnant, s.adultWomen), pct(s.disability, s.people), pct(s.medical, s.people), s.elderly)
	fmt.Fprintf(&b, "adult phones %.1f%%, adults 18-35 %.1f%%, infants %d, no second surname %d",
		pct(s.adultPhones, s.adults), pct(s.young, s.adults), s.infants, s.noSurname2)
	return b.String()
}

// within reports whether got is within frac of want.
func within(got, want int, frac float64) bool {
	d := float64(got - want)
	return d >= -frac*float64(want) && d <= frac*float64(want)
}

// checkInvariants checks what must hold for every caravan of any size.
func checkInvariants(t *testing.T, c Caravan, n int) {
	t.Helper()
	if len(c.People) != n {
		t.Fatalf("got %d people, want %d", len(c.People), n)
	}
	seen := make([]int, n)
	kinds := []string{KindFamily, KindSingle, KindSiblings, KindUnaccompanied, KindGroup}
	roles := []string{RoleHead, RoleSpouse, RoleChild, RoleSibling, RoleGrandparent, RoleRelative, RoleOther}
	for hi, h := range c.Households {
		if len(h.Members) == 0 {
			t.Errorf("household %d is empty", hi)
		}
		if !slices.Contains(kinds, h.Kind) {
			t.Errorf("household %d: unknown kind %q", hi, h.Kind)
		}
		if h.Kind == KindSingle && len(h.Members) != 1 {
			t.Errorf("household %d: single with %d members", hi, len(h.Members))
		}
		for _, m := range h.Members {
			if m.Person < 0 || m.Person >= n {
				t.Fatalf("household %d: person index %d out of range", hi, m.Person)
			}
			seen[m.Person]++
			if !slices.Contains(roles, m.Role) {
				t.Errorf("household %d: unknown role %q", hi, m.Role)
			}
			p := c.People[m.Person]
			minor := ageAt(p.BirthDate, asOf) < 18
			if h.Kind == KindUnaccompanied && !minor {
				t.Errorf("household %d: adult %+v in an unaccompanied household", hi, p)
			}
			if (h.Kind == KindUnaccompanied) != hasFlag(p, FlagUnaccompaniedChild) {
				t.Errorf("household %d (%s): person %d has flags %v", hi, h.Kind, m.Person, p.Flags)
			}
		}
	}
	for i, k := range seen {
		if k != 1 {
			t.Errorf("person %d is in %d households, want 1", i, k)
		}
	}
	for i, p := range c.People {
		checkPerson(t, i, p)
	}
}

// checkPerson checks one person's fields on their own.
func checkPerson(t *testing.T, i int, p Person) {
	t.Helper()
	a := ageAt(p.BirthDate, asOf)
	switch {
	case p.GivenNames == "" || p.Surname1 == "":
		t.Errorf("person %d: missing name: %+v", i, p)
	case p.Sex != "F" && p.Sex != "M":
		t.Errorf("person %d: sex %q", i, p.Sex)
	case p.BirthDate.Location() != time.UTC || p.BirthDate.Hour()+p.BirthDate.Minute()+p.BirthDate.Second()+p.BirthDate.Nanosecond() != 0:
		t.Errorf("person %d: birth date %v is not UTC midnight", i, p.BirthDate)
	case a < 0 || a > 100:
		t.Errorf("person %d: age %d", i, a)
	case !slices.Contains([]string{"HN", "GT", "SV", "NI"}, p.Nationality):
		t.Errorf("person %d: nationality %q", i, p.Nationality)
	case p.OriginTown == "":
		t.Errorf("person %d: no origin town", i)
	case a < 14 && p.Phone != "":
		t.Errorf("person %d, aged %d, has phone %q", i, a, p.Phone)
	}
	last := -1
	for _, f := range p.Flags {
		j := slices.Index(AllFlags(), f)
		if j < 0 {
			t.Errorf("person %d: unknown flag %q", i, f)
		}
		if j <= last {
			t.Errorf("person %d: flags %v not in canonical order or repeated", i, p.Flags)
		}
		last = j
	}
	if (a >= 60) != hasFlag(p, FlagElderly) {
		t.Errorf("person %d aged %d has flags %v", i, a, p.Flags)
	}
	if hasFlag(p, FlagPregnant) && (p.Sex != "F" || a < 16 || a > 42) {
		t.Errorf("person %d (%s, %d) flagged pregnant", i, p.Sex, a)
	}
	if a >= 18 && (hasFlag(p, FlagSeparatedChild) || hasFlag(p, FlagUnaccompaniedChild)) {
		t.Errorf("adult %d flagged as a child: %v", i, p.Flags)
	}
}
