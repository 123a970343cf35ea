package demo

import (
	"math"
)

// Household recipes and how often each is drawn, per 10,000 households. The weights are
// calibrated so that a caravan comes out at about 32% minors, 30.5% adult women and the rest
// adult men (2,300 / 2,200 / 2,700 of 7,200), with many single young men, many mothers
// travelling alone with their children, and a few percent of the children unaccompanied.
// demo_test.go checks the resulting shares; retune here if a recipe changes.
var recipes = []struct {
	w     int
	build func(g *gen, room int) string
}{
	{1600, (*gen).twoParents},
	{600, (*gen).couple},
	{1500, (*gen).singleMother},
	{250, (*gen).singleFather},
	{4350, (*gen).single},
	{330, (*gen).siblings},
	{1160, (*gen).group},
	{160, (*gen).unaccompanied},
	{30, (*gen).relativeLed},
}

var recipeTotal = func() int {
	t := 0
	for _, r := range recipes {
		t += r.w
	}
	return t
}()

// Age bands. Young adults dominate, as in every report on the caravan; women travelling
// without children skew a little older than men doing so.
var (
	menAlone   = []band{{18, 24, 42}, {25, 34, 36}, {35, 44, 13}, {45, 59, 7}, {60, 80, 2}}
	womenAlone = []band{{18, 24, 35}, {25, 34, 35}, {35, 44, 17}, {45, 59, 10}, {60, 80, 3}}
	parents    = []band{{18, 24, 25}, {25, 34, 45}, {35, 44, 25}, {45, 52, 5}}
)

// household builds one household of at most room people (room >= 1).
func (g *gen) household(room int) {
	x := g.r.IntN(recipeTotal)
	i := 0
	for x >= recipes[i].w {
		x -= recipes[i].w
		i++
	}
	// Nationality and home town are per household: families and most travel groups left
	// together from one place.
	g.c = g.l.countries[pickCum(g.l.natCum, g.r.Uint64N(g.l.natCum[len(g.l.natCum)-1]))]
	g.town = g.c.towns.pick(g.r)
	g.start = len(g.members)
	g.names = g.names[:0]

	kind := recipes[i].build(g, room)
	end := len(g.members)
	// The full slice expression caps each household at its own members, so appending to
	// one household's slice cannot overwrite the next household's.
	g.hh = append(g.hh, Household{Kind: kind, Members: g.members[g.start:end:end]})
}

func pickCum(cum []uint64, x uint64) int {
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func (g *gen) sex(pMale float64) string {
	if g.chance(pMale) {
		return "M"
	}
	return "F"
}

// Births in one family are spaced the way they are in life: a baby rarely comes less than
// about 15 months after the one before (a pregnancy and a few months), most often two to
// four years after it; now and then two are twins, born the same day.
const (
	minBirthGap = 457   // days: 15 months
	pTwins      = 0.015 // of births after the first
)

// birthGap draws the days between one child's birth and the next one's; spread is the
// most added to the minimum.
func (g *gen) birthGap(spread int) int {
	if g.chance(pTwins) {
		return 0
	}
	// The sum of two uniform draws peaks in the middle: with a spread of 1200 days, gaps
	// of about two and a half years are commonest and the mean is 35 months, near the
	// birth intervals reported for Honduran mothers.
	return minBirthGap + g.r.IntN(spread/2+1) + g.r.IntN(spread/2+1)
}

// childBirths draws the births of up to k children of a parent aged parentAge, as days
// before asOf, eldest first. Every child is at least 16 whole years younger than the
// parent, which keeps birth dates at least 15 years apart whatever the days within the
// year, and consecutive children are spaced by birthGap. A parent too young to have had k
// children so spaced gets fewer. With allowAdult, the eldest is sometimes a young adult
// still travelling with the family.
func (g *gen) childBirths(parentAge, k int, allowAdult bool) []int {
	maxA := min(17, parentAge-16)
	if k <= 0 || maxA < 0 {
		return nil
	}
	out := make([]int, 0, k)
	// Minors are born within the last limit days: aged at most maxA.
	limit := g.cum[maxA+1]
	if allowAdult && parentAge-16 >= 18 && g.chance(0.12) {
		d := g.dayIn(g.between(18, min(25, parentAge-16)))
		out = append(out, d)
		k--
		limit = min(limit, d-minBirthGap+1)
	}
	if k == 0 || limit <= 0 {
		return out
	}
	gaps := make([]int, k-1)
	for i := range gaps {
		gaps[i] = g.birthGap(1200)
	}
	// Squeeze the gaps to fit the years the parent has had, dropping the last children
	// when even the shortest gaps do not fit.
	for {
		fixed, extra := 0, 0
		for _, x := range gaps {
			if x > 0 {
				fixed += minBirthGap
				extra += x - minBirthGap
			}
		}
		if fixed+extra < limit {
			break
		}
		if fixed >= limit {
			gaps = gaps[:len(gaps)-1]
			continue
		}
		room := limit - 1 - fixed
		for i, x := range gaps {
			if x > 0 {
				gaps[i] = minBirthGap + (x-minBirthGap)*room/extra
			}
		}
	}
	span := 0
	for _, x := range gaps {
		span += x
	}
	d := g.r.IntN(limit-span) + span // the eldest minor; the youngest is born d-span days ago
	out = append(out, d)
	for _, x := range gaps {
		d -= x
		out = append(out, d)
	}
	return out
}

// youngerSiblings draws the births of up to k brothers and sisters born after one born
// eldest days before asOf, youngest last, none younger than minAge.
func (g *gen) youngerSiblings(eldest, k, minAge int) []int {
	out := make([]int, 0, k)
	d := eldest
	for range k {
		d -= g.birthGap(900)
		if d < g.cum[minAge] {
			break
		}
		out = append(out, d)
	}
	return out
}

// twoParents: father, mother and children, sometimes with a grandparent or a niece or
// nephew whose own parents stayed behind.
func (g *gen) twoParents(room int) string {
	if room < 2 {
		return g.single(room)
	}
	motherAge := g.ageIn(parents)
	births := g.childBirths(motherAge, min(1+g.pickCount([]int{33, 33, 20, 9, 5}), room-2), true)
	k := len(births)
	eldest := 0
	if k > 0 {
		eldest = g.ageOfDays(births[0])
	}
	fatherAge := motherAge + 3 + int(math.Round(g.r.NormFloat64()*4))
	fatherAge = min(max(fatherAge, 18, eldest+16), 80)

	fs1, fs2 := g.surnames()
	ms1, ms2 := g.otherSurname(fs1), g.c.surnames.pick(g.r)
	if g.chance(0.7) {
		g.add(RoleHead, "M", fatherAge, fs1, fs2, 0)
		g.add(RoleSpouse, "F", motherAge, ms1, ms2, 0)
	} else {
		g.add(RoleHead, "F", motherAge, ms1, ms2, 0)
		g.add(RoleSpouse, "M", fatherAge, fs1, fs2, 0)
	}
	// Spanish naming: first surname from the father, second from the mother's first.
	for _, d := range births {
		g.addBorn(RoleChild, g.sex(0.5), d, fs1, ms1, 0)
	}
	left := room - 2 - k
	if left > 0 && g.chance(0.06) {
		left--
		// A grandparent's first surname is visible in the parents' names: the paternal
		// grandfather's is the father's first, the paternal grandmother's the father's
		// second, and likewise on the mother's side.
		sex := g.sex(0.35)
		parentAge, s1 := fatherAge, fs1
		switch paternal := g.chance(0.5); {
		case paternal && sex == "F":
			s1 = fs2
		case !paternal && sex == "M":
			parentAge, s1 = motherAge, ms1
		case !paternal:
			parentAge, s1 = motherAge, ms2
		}
		if s1 == "" {
			s1 = g.c.surnames.pick(g.r)
		}
		// Kept clearly older than both parents, so that nobody reads an in-law as a peer.
		age := max(parentAge+g.between(18, 32), max(fatherAge, motherAge)+16)
		g.add(RoleGrandparent, sex, min(age, 90), s1, g.c.surnames.pick(g.r), 0)
	}
	if left > 0 && g.chance(0.01) {
		g.separatedRelative(fs1)
	}
	return KindFamily
}

// separatedRelative adds a niece or nephew of the man whose first surname is headS1: a child
// separated from its own parents.
func (g *gen) separatedRelative(headS1 string) {
	s1, s2 := g.surnames()
	if g.chance(0.5) {
		s1 = headS1 // a brother's child carries the family's first surname
	} else {
		s2 = headS1 // a sister's child carries it second
	}
	g.add(RoleRelative, g.sex(0.5), g.between(3, 17), s1, s2, fSeparated)
}

// couple: husband and wife without children, mostly young, some older.
func (g *gen) couple(room int) string {
	if room < 2 {
		return g.single(room)
	}
	womanAge := g.ageIn([]band{{18, 24, 40}, {25, 34, 40}, {35, 44, 12}, {45, 70, 8}})
	manAge := min(max(womanAge+3+int(math.Round(g.r.NormFloat64()*4)), 18), 85)
	ms1, ms2 := g.surnames()
	ws1, ws2 := g.otherSurname(ms1), g.c.surnames.pick(g.r)
	if g.chance(0.75) {
		g.add(RoleHead, "M", manAge, ms1, ms2, 0)
		g.add(RoleSpouse, "F", womanAge, ws1, ws2, 0)
	} else {
		g.add(RoleHead, "F", womanAge, ws1, ws2, 0)
		g.add(RoleSpouse, "M", manAge, ms1, ms2, 0)
	}
	return KindFamily
}

// singleMother: a woman alone with her children, the commonest family shape in the
// caravan. The children's father is absent but usually still gives them his surname;
// some children were registered by the mother alone and carry both of hers, and some
// siblings have different fathers.
func (g *gen) singleMother(room int) string {
	motherAge := g.ageIn(parents)
	s1, s2 := g.surnames()
	g.add(RoleHead, "F", motherAge, s1, s2, 0)
	if room < 2 {
		return KindSingle
	}
	births := g.childBirths(motherAge, min(1+g.pickCount([]int{38, 33, 19, 8, 2}), room-1), true)
	k := len(births)
	father := g.c.surnames.pick(g.r)
	motherOnly := g.chance(0.25)
	for i, d := range births {
		if i > 0 && g.chance(0.2) {
			father = g.c.surnames.pick(g.r)
			motherOnly = g.chance(0.25)
		}
		if motherOnly {
			g.addBorn(RoleChild, g.sex(0.5), d, s1, s2, 0)
		} else {
			g.addBorn(RoleChild, g.sex(0.5), d, father, s1, 0)
		}
	}
	left := room - 1 - k
	if left > 0 && g.chance(0.05) {
		left--
		gs1 := s2 // her mother's first surname is her second
		if gs1 == "" {
			gs1 = g.c.surnames.pick(g.r)
		}
		g.add(RoleGrandparent, "F", min(motherAge+g.between(18, 30), 90), gs1, g.c.surnames.pick(g.r), 0)
	}
	if left > 0 && g.chance(0.05) {
		g.add(RoleSibling, "F", max(18, motherAge+g.between(-8, 8)), s1, s2, 0)
	}
	return KindFamily
}

// singleFather: a man alone with his children.
func (g *gen) singleFather(room int) string {
	fatherAge := g.ageIn(parents) + 3
	s1, s2 := g.surnames()
	g.add(RoleHead, "M", fatherAge, s1, s2, 0)
	if room < 2 {
		return KindSingle
	}
	mother := g.c.surnames.pick(g.r)
	for i, d := range g.childBirths(fatherAge, min(1+g.pickCount([]int{50, 35, 15}), room-1), true) {
		if i > 0 && g.chance(0.15) {
			mother = g.c.surnames.pick(g.r)
		}
		g.addBorn(RoleChild, g.sex(0.5), d, s1, mother, 0)
	}
	return KindFamily
}

// single: one adult travelling alone, most often a young man.
func (g *gen) single(int) string {
	sex := g.sex(0.68)
	age := g.ageIn(menAlone)
	if sex == "F" {
		age = g.ageIn(womenAlone)
	}
	s1, s2 := g.surnames()
	g.add(RoleHead, sex, age, s1, s2, 0)
	return KindSingle
}

// siblings: brothers and sisters travelling together, led by an adult. A younger sibling
// who is still a minor is a separated child: with family, but not with a parent.
func (g *gen) siblings(room int) string {
	if room < 2 {
		return g.single(room)
	}
	k := min(2+g.pickCount([]int{65, 27, 8}), room)
	s1, s2 := g.surnames()
	eldest := g.dayIn(g.ageIn([]band{{18, 24, 25}, {25, 34, 50}, {35, 50, 25}}))
	g.addBorn(RoleHead, g.sex(0.55), eldest, s1, s2, 0)
	for _, d := range g.youngerSiblings(eldest, k-1, 5) {
		var extra uint8
		if g.ageOfDays(d) < 18 {
			extra = fSeparated
		}
		g.addBorn(RoleSibling, g.sex(0.55), d, s1, s2, extra)
	}
	return KindSiblings
}

// group: friends or neighbours who walk together, mostly young men, mostly from one town.
func (g *gen) group(room int) string {
	if room < 2 {
		return g.single(room)
	}
	k := min(2+g.pickCount([]int{35, 30, 20, 10, 5}), room)
	home := g.town
	for i := range k {
		sex := g.sex(0.67)
		age := g.ageIn(menAlone)
		if sex == "F" {
			age = g.ageIn(womenAlone)
		}
		g.town = home
		if g.chance(0.35) {
			g.town = g.c.towns.pick(g.r)
		}
		role := RoleOther
		if i == 0 {
			role = RoleHead
		}
		s1, s2 := g.surnames()
		g.add(role, sex, age, s1, s2, 0)
	}
	return KindGroup
}

// unaccompanied: minors with no adult, alone or as a group of siblings; mostly boys of
// 14-17, the age at which gangs recruit or threaten.
func (g *gen) unaccompanied(room int) string {
	k := min(1+g.pickCount([]int{70, 25, 5}), room)
	s1, s2 := g.surnames()
	eldest := g.dayIn(g.ageIn([]band{{14, 17, 88}, {11, 13, 12}}))
	g.addBorn(RoleHead, g.sex(0.7), eldest, s1, s2, fUnaccompanied)
	for _, d := range g.youngerSiblings(eldest, k-1, 6) {
		g.addBorn(RoleSibling, g.sex(0.5), d, s1, s2, fUnaccompanied)
	}
	return KindUnaccompanied
}

// relativeLed: children travelling with an aunt, uncle or grandparent instead of their
// parents (separated children), sometimes alongside the adult's own children.
func (g *gen) relativeLed(room int) string {
	grand := g.chance(0.35)
	sex := g.sex(0.3)
	age := g.between(22, 50)
	if grand {
		age = g.between(50, 75)
	}
	s1, s2 := g.surnames()
	g.add(RoleHead, sex, age, s1, s2, 0)
	if room < 2 {
		return KindSingle
	}
	k := min(1+g.pickCount([]int{55, 35, 10}), room-1)
	gap := 12 // youngest plausible aunt or uncle
	if grand {
		gap = 34
	}
	for range k {
		a := g.between(0, min(17, age-gap))
		if grand && sex == "F" {
			// A grandmother's surnames do not show in her grandchildren's.
			cs1, cs2 := g.surnames()
			g.add(RoleRelative, g.sex(0.5), a, cs1, cs2, fSeparated)
			continue
		}
		// Uncles, aunts and grandfathers pass their first surname on through a sibling or a
		// child, in first place through a man and second place through a woman.
		cs1, cs2 := g.surnames()
		if g.chance(0.5) {
			cs1 = s1
		} else {
			cs2 = s1
		}
		g.add(RoleRelative, g.sex(0.5), a, cs1, cs2, fSeparated)
	}
	if left := room - 1 - k; left > 0 && !grand && g.chance(0.4) {
		other := g.c.surnames.pick(g.r)
		for _, d := range g.childBirths(age, min(g.between(1, 2), left), false) {
			if sex == "M" {
				g.addBorn(RoleChild, g.sex(0.5), d, s1, other, 0)
			} else {
				g.addBorn(RoleChild, g.sex(0.5), d, other, s1, 0)
			}
		}
	}
	return KindFamily
}
