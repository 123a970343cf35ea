// Package demo generates a deterministic synthetic caravan: people and households shaped
// like the roughly 7,200 people who walked north from San Pedro Sula in October 2018 (about
// 2,300 children and 2,200 women, mostly Honduran). It feeds demos, tests and load tests,
// so nobody ever needs real member data to show or exercise the system.
//
// Everything is drawn from one seeded PCG stream, so the same seed, size and reference date
// always give the same caravan, on every platform.
package demo

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Person is one synthetic member of the caravan (plain data, no PII sealing here).
type Person struct {
	GivenNames  string    // e.g. "José Luis", "María de los Ángeles"
	Surname1    string    // paternal, e.g. "Hernández"
	Surname2    string    // maternal; "" for a few
	Sex         string    // "F" or "M"
	BirthDate   time.Time // date only, UTC midnight
	Nationality string    // ISO 3166 alpha-2: "HN", "GT", "SV", "NI"
	OriginTown  string    // a real town of that country
	Phone       string    // "" for many; else e.g. "+504 9xxx-xxxx"
	Flags       []string  // subset of the Flag* constants, in their declared order
}

// Member is a person's place in a household.
type Member struct {
	Person int    // index into Caravan.People
	Role   string // one of the Role* constants
}

// Household is a family or travel group.
type Household struct {
	Kind    string // one of the Kind* constants
	Members []Member
}

// Caravan is a generated population; every person is in exactly one household.
type Caravan struct {
	People     []Person
	Households []Household
}

// Vulnerability flags, named as the registry names them.
const (
	FlagUnaccompaniedChild = "unaccompanied_child"
	FlagSeparatedChild     = "separated_child"
	FlagPregnant           = "pregnant"
	FlagDisability         = "disability"
	FlagElderly            = "elderly"
	FlagMedical            = "medical"
)

// Household kinds.
const (
	KindFamily        = "family"
	KindSingle        = "single"
	KindSiblings      = "siblings"
	KindUnaccompanied = "unaccompanied"
	KindGroup         = "group"
)

// Roles within a household, relative to its head.
const (
	RoleHead        = "head"
	RoleSpouse      = "spouse"
	RoleChild       = "child"
	RoleSibling     = "sibling"
	RoleGrandparent = "grandparent"
	RoleRelative    = "relative"
	RoleOther       = "other"
)

// flagOrder is the canonical order of flags; an array so that no caller can reorder it.
var flagOrder = [...]string{
	FlagUnaccompaniedChild, FlagSeparatedChild, FlagPregnant,
	FlagDisability, FlagElderly, FlagMedical,
}

// AllFlags returns the flags in canonical order, the order Person.Flags follows.
func AllFlags() []string { return slices.Clone(flagOrder[:]) }

// Bit i of a flag mask stands for flagOrder[i]; masks keep flag bookkeeping allocation-free
// until the person is stored.
const (
	fUnaccompanied uint8 = 1 << iota
	fSeparated
	fPregnant
	fDisability
	fElderly
	fMedical
)

// Probabilities of the health flags. Pregnancy among women 18-42 at 6% gives roughly 5% of
// all adult women; the other rates follow the brief's ranges and rise with age.
const (
	pPregnantAdult = 0.06
	pPregnantTeen  = 0.03 // girls 16-17
	pDisability    = 0.012
	pDisabilityOld = 0.05
	pMedical       = 0.035
	pMedicalOld    = 0.15
	pMedicalInfant = 0.06
	pNoSurname2    = 0.015 // adults registered with a single surname
	pPhoneAdult    = 0.5
	pPhoneTeen     = 0.3 // 14-17 travelling with family
	pPhoneAlone    = 0.5 // 14-17 travelling without adults, who need one more
	maxAge         = 95
)

// Generate builds a caravan of n people, deterministically from seed (same seed, n and asOf
// give an identical result), with ages computed relative to asOf (callers use 2018-10-20).
// Only asOf's calendar date matters. n <= 0 gives an empty caravan.
func Generate(seed int64, n int, asOf time.Time) Caravan {
	if n <= 0 {
		return Caravan{}
	}
	g := newGen(seed, n, asOf)
	for len(g.people) < n {
		g.household(n - len(g.people))
	}
	return Caravan{People: g.people, Households: g.hh}
}

// gen carries the state of one Generate call.
type gen struct {
	r *rand.Rand
	l *lists

	// anniv[y] is asOf minus y years: someone born in (anniv[y+1], anniv[y]] is y years
	// old. Precomputing it saves two AddDate calls per person.
	anniv []time.Time
	days  []int // days[y] = days between anniv[y+1] and anniv[y]
	// cum[y] = days between anniv[y] and asOf: someone born d days before asOf is y years
	// old when cum[y] <= d < cum[y+1].
	cum []int

	people  []Person
	members []Member // one backing array for all households, sized n so it never moves
	hh      []Household

	// The household being built.
	c     *country
	town  string
	start int      // index in members where it begins
	names []string // given names already used in it
}

func newGen(seed int64, n int, asOf time.Time) *gen {
	// The second PCG word is a fixed constant so that a seed means the same stream forever.
	g := &gen{
		r:       rand.New(rand.NewPCG(uint64(seed), 0x6361726176616e61)), // "caravana"
		l:       loadLists(),
		people:  make([]Person, 0, n),
		members: make([]Member, 0, n),
		hh:      make([]Household, 0, n/2+1),
	}
	y, m, d := asOf.Date()
	base := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	g.anniv = make([]time.Time, maxAge+2)
	g.days = make([]int, maxAge+1)
	for i := range g.anniv {
		g.anniv[i] = base.AddDate(-i, 0, 0)
	}
	g.cum = make([]int, maxAge+2)
	for i := range g.days {
		g.days[i] = int(g.anniv[i].Sub(g.anniv[i+1]).Hours() / 24)
		g.cum[i+1] = g.cum[i] + g.days[i]
	}
	return g
}

// chance reports true with probability p.
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// between returns a uniform int in [lo, hi]; hi < lo yields lo.
func (g *gen) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + g.r.IntN(hi-lo+1)
}

// band is an age range with a relative weight.
type band struct{ lo, hi, w int }

// ageIn draws an age from weighted bands, uniform within a band.
func (g *gen) ageIn(bands []band) int {
	total := 0
	for _, b := range bands {
		total += b.w
	}
	x := g.r.IntN(total)
	for _, b := range bands {
		if x < b.w {
			return g.between(b.lo, b.hi)
		}
		x -= b.w
	}
	panic("unreachable")
}

// pickCount draws a count from weights, where weights[i] is the weight of count i.
func (g *gen) pickCount(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := g.r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	panic("unreachable")
}

// dayIn draws how many days before asOf someone exactly age years old on asOf was born.
func (g *gen) dayIn(age int) int {
	age = min(max(age, 0), maxAge)
	return g.cum[age] + g.r.IntN(g.days[age])
}

// bornDaysAgo is the date d days before asOf.
func (g *gen) bornDaysAgo(d int) time.Time {
	return g.anniv[0].Add(-time.Duration(d) * 24 * time.Hour)
}

// ageOfDays is the age on asOf, in whole years, of someone born d days before it.
func (g *gen) ageOfDays(d int) int {
	y := 0
	for y < maxAge && g.cum[y+1] <= d {
		y++
	}
	return y
}

// surnames draws the two surnames of someone whose parents are not in the caravan.
func (g *gen) surnames() (string, string) {
	s1 := g.c.surnames.pick(g.r)
	if g.chance(pNoSurname2) {
		return s1, ""
	}
	return s1, g.c.surnames.pick(g.r)
}

// otherSurname draws a surname different from not (a spouse usually has another surname,
// though cousins do marry, so a second equal draw is accepted).
func (g *gen) otherSurname(not string) string {
	s := g.c.surnames.pick(g.r)
	if s == not {
		s = g.c.surnames.pick(g.r)
	}
	return s
}

// given draws a given name, avoiding names already used in the household: two brothers
// both called "José Luis" would look like a duplicate registration to the tracing code.
func (g *gen) given(sex string) string {
	t := &g.l.male
	if sex == "F" {
		t = &g.l.female
	}
	var s string
	for range 4 {
		s = t.pick(g.r)
		if !slices.Contains(g.names, s) {
			break
		}
	}
	g.names = append(g.names, s)
	return s
}

// add appends a person aged age to the caravan and to the current household.
func (g *gen) add(role, sex string, age int, s1, s2 string, extra uint8) {
	g.addBorn(role, sex, g.dayIn(age), s1, s2, extra)
}

// addBorn appends a person born d days before asOf to the caravan and to the current
// household.
func (g *gen) addBorn(role, sex string, d int, s1, s2 string, extra uint8) {
	age := g.ageOfDays(d)
	p := Person{
		GivenNames:  g.given(sex),
		Surname1:    s1,
		Surname2:    s2,
		Sex:         sex,
		BirthDate:   g.bornDaysAgo(d),
		Nationality: g.c.code,
		OriginTown:  g.town,
	}
	switch {
	case age >= 18:
		if g.chance(pPhoneAdult) {
			p.Phone = phone(g.r, g.c)
		}
	case age >= 14:
		pp := pPhoneTeen
		if extra&fUnaccompanied != 0 {
			pp = pPhoneAlone
		}
		if g.chance(pp) {
			p.Phone = phone(g.r, g.c)
		}
	}
	if mask := extra | g.health(sex, age); mask != 0 {
		p.Flags = flagNames(mask)
	}
	g.members = append(g.members, Member{Person: len(g.people), Role: role})
	g.people = append(g.people, p)
}

// health draws the flags that depend only on age and sex.
func (g *gen) health(sex string, age int) uint8 {
	var m uint8
	old := age >= 60
	if old {
		m |= fElderly
	}
	if sex == "F" {
		if (age >= 18 && age <= 42 && g.chance(pPregnantAdult)) ||
			(age >= 16 && age < 18 && g.chance(pPregnantTeen)) {
			m |= fPregnant
		}
	}
	pd, pm := pDisability, pMedical
	switch {
	case old:
		pd, pm = pDisabilityOld, pMedicalOld
	case age < 2:
		pm = pMedicalInfant
	}
	if g.chance(pd) {
		m |= fDisability
	}
	if g.chance(pm) {
		m |= fMedical
	}
	return m
}

// flagNames turns a mask into a fresh slice, so callers may modify one person's flags
// without touching another's.
func flagNames(m uint8) []string {
	out := make([]string, 0, 2)
	for i, f := range flagOrder {
		if m&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	return out
}
