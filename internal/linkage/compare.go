package linkage

import "slices"

// Agreement levels, per kind, best first; the last is always "disagree". A field that is
// empty on either side is missing (levelMissing) and weighs nothing.
var levelNames = [...][]string{
	kName:     {"exact", "nickname", "phonetic", "similar", "partial", "some", "disagree"},
	kDate:     {"exact", "swapped", "close", "similar", "partial", "disagree"},
	kAge:      {"exact", "close", "similar", "disagree"},
	kNumber:   {"exact", "similar", "disagree"},
	kCode:     {"exact", "similar", "disagree"},
	kPlace:    {"exact", "phonetic", "similar", "partial", "disagree"},
	kText:     {"exact", "similar", "partial", "disagree"},
	kCategory: {"exact", "disagree"},
}

const levelMissing = 255

// Name levels, indexes into levelNames[kName].
const (
	lnExact uint8 = iota
	lnNickname
	lnPhonetic
	lnSimilar
	lnPartial // every word of the shorter name agrees with one of the longer: "José" ~ "José Luis"
	lnSome    // some words agree, others clash: "Hernández López" ~ "Hernández García"
	lnDisagree
)

// Date levels.
const (
	ldExact uint8 = iota
	ldSwapped
	ldClose   // within a week, or one digit of the day mistyped
	ldSimilar // same month and day a year off (or one year digit wrong), or same year and month
	ldPartial // same year
	ldDisagree
)

// Age levels.
const (
	laExact   uint8 = iota
	laClose         // within 2 years
	laSimilar       // within 5 years
	laDisagree
)

// Levels of numbers and codes; places and free text have their own.
const (
	lcExact uint8 = iota
	lcSimilar
	lcDisagree
)

const (
	lpExact uint8 = iota
	lpPhonetic
	lpSimilar
	lpPartial
	lpDisagree
)

const (
	ltExact uint8 = iota
	ltSimilar
	ltPartial
	ltDisagree
)

// Token classes: how well two words agree.
const (
	tcNone     = 0
	tcSimilar  = 1 // Jaro-Winkler >= 0.9, or an initial that fits
	tcPhonetic = 2
	tcNickname = 3
	tcExact    = 4
)

// similarJW is the Jaro-Winkler similarity at which two different words count as a typo of
// each other. 0.9 separates "Hernandez"/"Hernadez" (0.98) from "Pérez"/"Páez" (0.88).
const similarJW = 0.9

// fieldCmp is the outcome of comparing one field of a pair.
type fieldCmp struct {
	level   uint8
	swapped bool      // name words agree, but in another order
	tfKind  uint8     // which term-frequency adjustment applies: tfNone, tfValue, tfTokens
	ntok    uint8     // len of toks in use
	value   uint64    // tfValue: the agreeing value's frequency key
	toks    [4]uint64 // tfTokens: the agreeing words' frequency keys
}

// A comparer compares pairs of records of one engine. It keeps a cache of word-pair classes,
// so it belongs to one goroutine at a time.
type comparer struct {
	e     *engine
	cache []classEntry
}

type classEntry struct {
	key   uint64
	class int8
}

const classCacheBits = 16 // 64K entries, 1 MiB: a registry's vocabulary makes far fewer distinct pairs

func newComparer(e *engine) *comparer {
	return &comparer{e: e, cache: make([]classEntry, 1<<classCacheBits)}
}

// compare fills out[i] with field i's comparison of a and b.
func (c *comparer) compare(a, b feat, out []fieldCmp) {
	e := c.e
	nf := e.nf
	bothDates := e.dateF >= 0 && a[e.dateF] != 0 && b[e.dateF] != 0
	for i, k := range e.kinds {
		fc := &out[i]
		fc.level, fc.swapped, fc.tfKind, fc.ntok, fc.value = levelMissing, false, tfNone, 0, 0
		switch k {
		case kName:
			c.names(a.tokens(nf, i), b.tokens(nf, i), fc)
		case kDate:
			compareDates(date(a[i]), date(b[i]), fc)
		case kAge:
			// Birth date and age are one piece of evidence: the age only speaks when a date is
			// missing on a side, and then the side with a date speaks through its derived age.
			switch {
			case i != e.ageF: // a second age field compares its own values only
				compareAges(int(a[i])-1, int(b[i])-1, fc)
			case !bothDates:
				compareAges(e.age(a), e.age(b), fc)
			}
		case kNumber, kCode:
			x, y := a[i], b[i]
			if x == 0 || y == 0 {
				continue
			}
			switch {
			case x == y:
				fc.level = lcExact
				fc.tfKind, fc.value = tfValue, e.d.at(x-1).h
			case within1(e.d.at(x-1).s, e.d.at(y-1).s):
				fc.level = lcSimilar
			default:
				fc.level = lcDisagree
			}
		case kCategory:
			x, y := a[i], b[i]
			if x == 0 || y == 0 {
				continue
			}
			if x == y {
				fc.level = lcExact
			} else {
				fc.level = 1
			}
		case kPlace:
			c.places(a, b, i, fc)
		case kText:
			c.text(a.tokens(nf, i), b.tokens(nf, i), fc)
		}
	}
}

func (fc *fieldCmp) addTok(k uint64) {
	if int(fc.ntok) < len(fc.toks) {
		fc.tfKind = tfTokens
		fc.toks[fc.ntok] = k
		fc.ntok++
	}
}

// class says how well words x and y agree (ids, maybe with expandedBit).
func (c *comparer) class(x, y uint32) int8 {
	if x == y {
		return tcExact
	}
	x, y = x&idMask, y&idMask
	if x == y {
		return tcNickname // a compound nickname's word against the written word
	}
	if x > y {
		x, y = y, x
	}
	key := uint64(x)<<32 | uint64(y)
	h := (key * 0x9E3779B97F4A7C15) >> (64 - classCacheBits)
	ce := &c.cache[h]
	if ce.key == key && key != 0 {
		return ce.class
	}
	cl := c.e.d.wordClass(x, y)
	ce.key, ce.class = key, cl
	return cl
}

// wordClass compares two different words by their dictionary entries.
func (d *dict) wordClass(x, y uint32) int8 {
	wx, wy := d.at(x), d.at(y)
	for _, cx := range wx.canon {
		for _, cy := range wy.canon {
			if cx == cy {
				return tcNickname
			}
		}
	}
	if wx.phon == wy.phon {
		return tcPhonetic
	}
	for _, kx := range wx.keys {
		for _, ky := range wy.keys {
			if kx == ky {
				return tcPhonetic
			}
		}
	}
	sx, sy := wx.s, wy.s
	if len(sx) == 1 || len(sy) == 1 {
		if sx != "" && sy != "" && sx[0] == sy[0] {
			return tcSimilar // an initial
		}
		return tcNone
	}
	if JaroWinkler(sx, sy) >= similarJW {
		return tcSimilar
	}
	// One keystroke off ("Ocgoa", "Qiuintanilla"), in writing or in sound ("Montlla" sounds
	// one letter away from "Montoya"): Jaro-Winkler undervalues these in short words.
	if (min(len(sx), len(sy)) >= 4 && within1(sx, sy)) || (min(len(wx.ps), len(wy.ps)) >= 4 && within1(wx.ps, wy.ps)) {
		return tcSimilar
	}
	return tcNone
}

// match pairs the words of a and b (at most 8 each) greedily, best class first, and returns
// how many pairs agree at all, the worst class among them, whether any pair is out of
// position, and the matched positions.
func (c *comparer) match(a, b []uint32) (k int, worst int8, swapped bool, pairs [8][2]uint8) {
	a, b = a[:min(len(a), 8)], b[:min(len(b), 8)]
	var cls [8][8]int8
	for i := range a {
		for j := range b {
			cls[i][j] = c.class(a[i], b[j])
		}
	}
	var usedA, usedB uint16
	worst = tcExact
	for k < len(a) && k < len(b) {
		bi, bj, best := -1, -1, int8(tcNone)
		for i := range a {
			if usedA&(1<<i) != 0 {
				continue
			}
			for j := range b {
				if usedB&(1<<j) != 0 {
					continue
				}
				// Prefer the better class; among equals, the pair in the same position.
				if cl := cls[i][j]; cl > best || (cl == best && cl > tcNone && i == j && bi != bj) {
					bi, bj, best = i, j, cl
				}
			}
		}
		if best == tcNone {
			break
		}
		usedA |= 1 << bi
		usedB |= 1 << bj
		pairs[k] = [2]uint8{uint8(bi), uint8(bj)}
		k++
		worst = min(worst, best)
		if bi != bj {
			swapped = true
		}
	}
	return k, worst, swapped, pairs
}

// names compares two names as sets of words.
func (c *comparer) names(a, b []uint32, fc *fieldCmp) {
	if len(a) == 0 || len(b) == 0 {
		return
	}
	if len(a) == len(b) {
		same := true
		for i := range a {
			if a[i] != b[i] {
				same = false
				break
			}
		}
		if same {
			fc.level = lnExact
			fc.tfKind, fc.value = tfValue, c.e.nameValue(a)
			return
		}
	}
	a, b = a[:min(len(a), 8)], b[:min(len(b), 8)]
	a, b = ordered(a, b)
	k, worst, swapped, pairs := c.match(a, b)
	short := min(len(a), len(b))
	switch {
	case k == 0:
		fc.level = lnDisagree
		return
	case k == len(a) && k == len(b):
		switch worst {
		case tcExact:
			fc.level = lnExact
		case tcNickname:
			fc.level = lnNickname
		case tcPhonetic:
			fc.level = lnPhonetic
		default:
			fc.level = lnSimilar
		}
		fc.swapped = swapped
		if worst >= tcPhonetic {
			// The whole name agrees, in some spelling: weigh it by the name's frequency.
			fc.tfKind = tfValue
			for _, p := range pairs[:k] {
				fc.value += mix(0, c.pairKey(a[p[0]], b[p[1]]), 0)
			}
			return
		}
	case k == short:
		fc.level = lnPartial
	default:
		fc.level = lnSome
		return
	}
	for _, p := range pairs[:k] {
		if c.class(a[p[0]], b[p[1]]) >= tcPhonetic {
			fc.addTok(c.pairKey(a[p[0]], b[p[1]]))
		}
	}
}

// ordered puts two token lists in an order that does not depend on which record is which, so
// that comparing a with b and b with a match the same words (greedy matching breaks ties by
// position).
func ordered(a, b []uint32) ([]uint32, []uint32) {
	if len(a) > len(b) || (len(a) == len(b) && slices.Compare(a, b) > 0) {
		return b, a
	}
	return a, b
}

// pairKey is the frequency key of two agreeing words: the same whichever side each is on.
func (c *comparer) pairKey(x, y uint32) uint64 {
	return min(c.e.d.at(x).kh, c.e.d.at(y).kh)
}

// places compares place names: whole name, its sound, its spelling, then its words
// ("Sula" and "San Pedro Sula", "Choloma, Cortés" and "Choloma").
func (c *comparer) places(a, b feat, i int, fc *fieldCmp) {
	x, y := a[i], b[i]
	if x == 0 || y == 0 {
		return
	}
	switch cl := c.class(x-1, y-1); {
	case x == y:
		fc.level = lpExact
	case cl >= tcPhonetic:
		fc.level = lpPhonetic
	case cl == tcSimilar:
		fc.level = lpSimilar
	default:
		fc.level = lpDisagree
		nf := c.e.nf
		for _, s := range a.tokens(nf, i) {
			for _, t := range b.tokens(nf, i) {
				if c.class(s, t) >= tcPhonetic {
					fc.level = lpPartial
					return
				}
			}
		}
	}
}

// text compares free text by its words: all equal, all alike, at least half alike.
func (c *comparer) text(a, b []uint32, fc *fieldCmp) {
	if len(a) == 0 || len(b) == 0 {
		return
	}
	if len(a) > 8 {
		a = a[:8]
	}
	if len(b) > 8 {
		b = b[:8]
	}
	a, b = ordered(a, b)
	k, worst, _, _ := c.match(a, b)
	switch {
	case k == len(a) && k == len(b) && worst == tcExact:
		fc.level = ltExact
	case k == len(a) && k == len(b):
		fc.level = ltSimilar
	case k > 0 && 2*k >= max(len(a), len(b)):
		fc.level = ltPartial
	default:
		fc.level = ltDisagree
	}
}

// compareDates grades two dates. A date known only to the year agrees at best partially.
func compareDates(a, b date, fc *fieldCmp) {
	if a == 0 || b == 0 {
		return
	}
	ya, yb := a.year(), b.year()
	if a.month() == 0 || b.month() == 0 {
		if ya == yb {
			fc.level = ldPartial
		} else {
			fc.level = ldDisagree
		}
		return
	}
	ma, mb, da, db := a.month(), b.month(), a.day(), b.day()
	dy := ya - yb
	if dy < 0 {
		dy = -dy
	}
	switch {
	case a == b:
		fc.level = ldExact
	case ya == yb && ma == db && da == mb:
		fc.level = ldSwapped
	case absInt(a.dayNumber()-b.dayNumber()) <= 7 || (ya == yb && ma == mb && oneDigitOff(da, db)):
		fc.level = ldClose
	case ma == mb && da == db && (dy == 1 || oneDigitOff(ya, yb)):
		fc.level = ldSimilar
	case ya == yb && ma == mb:
		fc.level = ldSimilar
	case ya == yb:
		fc.level = ldPartial
	default:
		fc.level = ldDisagree
	}
}

// oneDigitOff reports whether two numbers written in decimal differ in exactly one digit,
// or by two adjacent digits swapped (1985 and 1958).
func oneDigitOff(a, b int) bool {
	if a == b {
		return false
	}
	diff, swaps := 0, 0
	var da, db [4]int
	for i := 0; i < 4; i++ {
		da[i], db[i] = a%10, b%10
		a, b = a/10, b/10
		if da[i] != db[i] {
			diff++
		}
	}
	if a != b {
		return false
	}
	if diff == 1 {
		return true
	}
	for i := 0; i+1 < 4; i++ {
		if da[i] != db[i] && da[i] == db[i+1] && da[i+1] == db[i] {
			swaps++
		}
	}
	return diff == 2 && swaps == 1
}

func compareAges(a, b int, fc *fieldCmp) {
	if a < 0 || b < 0 {
		fc.level = levelMissing
		return
	}
	switch d := absInt(a - b); {
	case d == 0:
		fc.level = laExact
	case d <= 2:
		fc.level = laClose
	case d <= 5:
		fc.level = laSimilar
	default:
		fc.level = laDisagree
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
