package linkage

import "fmt"

// Blocking proposes the pairs worth comparing. Each rule derives keys from a record; two
// records sharing a key of the same rule are a candidate pair, and the candidates are the
// union over rules, so a pair that one rule misses (a misspelt surname) is found by another
// (given name and birth year). Keys are built from phonetic keys of canonical names, so
// "Pepe Velásquez" and "José Belasques" share the given-name-by-surname key.

// atomKind says what a rule takes from a field.
type atomKind uint8

const (
	atName  atomKind = iota // the phonetic keys of each word's canonical names
	atDate                  // the full date
	atYear                  // the birth year, from the date or estimated from the age
	atPlace                 // the phonetic key of the whole place name
	atValue                 // the value itself (codes, numbers, categories)
)

type atom struct {
	field int
	kind  atomKind
}

// A rule is one blocking rule: a single atom, or two combined.
type rule struct {
	name   string
	a, b   atom
	single bool   // only a
	within bool   // a and b are the same name field: two different words of it
	fields uint64 // the fields the rule makes agree, left out when fitting m on its pairs
}

// buildRules chooses blocking rules for a schema. With names: name by name (given by surname,
// and the two surnames together), name by birth year, name by place, the full birth date,
// and every code on its own. Without names: every two fields that can be keyed.
func buildRules(e *engine) []rule {
	var names, places, codes []int
	for i, k := range e.kinds {
		switch k {
		case kName:
			names = append(names, i)
		case kPlace:
			places = append(places, i)
		case kCode:
			codes = append(codes, i)
		}
	}
	birth := uint64(0)
	if e.dateF >= 0 {
		birth |= 1 << e.dateF
	}
	if e.ageF >= 0 {
		birth |= 1 << e.ageF
	}
	yearField := e.dateF
	if yearField < 0 {
		yearField = e.ageF
	}
	var rs []rule
	add := func(r rule) {
		if len(rs) < 64 {
			rs = append(rs, r)
		}
	}
	fname := func(i int) string { return e.fields[i].Name }
	for x, i := range names {
		for _, j := range names[x+1:] {
			add(rule{name: fname(i) + "+" + fname(j), a: atom{i, atName}, b: atom{j, atName}, fields: 1<<i | 1<<j})
		}
	}
	for _, i := range names {
		add(rule{name: fname(i) + " pair", a: atom{i, atName}, b: atom{i, atName}, within: true, fields: 1 << i})
	}
	if yearField >= 0 {
		for _, i := range names {
			add(rule{name: fname(i) + "+birth year", a: atom{i, atName}, b: atom{yearField, atYear}, fields: 1<<i | birth})
		}
	}
	for _, i := range names {
		for _, p := range places {
			add(rule{name: fname(i) + "+" + fname(p), a: atom{i, atName}, b: atom{p, atPlace}, fields: 1<<i | 1<<p})
		}
	}
	if e.dateF >= 0 {
		add(rule{name: fname(e.dateF), a: atom{e.dateF, atDate}, single: true, fields: birth})
	}
	for _, c := range codes {
		add(rule{name: fname(c), a: atom{c, atValue}, single: true, fields: 1 << c})
	}
	if len(names) == 0 {
		var keyed []atom
		for i, k := range e.kinds {
			switch k {
			case kDate:
				keyed = append(keyed, atom{i, atDate})
			case kPlace:
				keyed = append(keyed, atom{i, atPlace})
			case kNumber, kCategory, kAge:
				if k == kAge {
					keyed = append(keyed, atom{i, atYear})
				} else {
					keyed = append(keyed, atom{i, atValue})
				}
			}
		}
		for x, a := range keyed {
			for _, b := range keyed[x+1:] {
				add(rule{name: fname(a.field) + "+" + fname(b.field), a: a, b: b, fields: 1<<a.field | 1<<b.field})
			}
		}
	}
	return rs
}

func (r rule) String() string { return fmt.Sprintf("rule %s", r.name) }

// atoms appends the values atom at takes from f. probe widens them for a query: the birth
// year to a window (±1 from a date, ±4 from an age, since reported ages are approximate) and
// the date to its day/month swap.
func (e *engine) atoms(f feat, at atom, probe bool, dst []uint64) []uint64 {
	switch at.kind {
	case atName:
		for _, t := range f.tokens(e.nf, at.field) {
			for _, k := range e.d.at(t).keys {
				if !containsU64(dst, uint64(k)) {
					dst = append(dst, uint64(k))
				}
			}
		}
	case atDate:
		d := date(f[at.field])
		if d == 0 || d.month() == 0 {
			break
		}
		dst = append(dst, uint64(d))
		if probe && d.day() <= 12 && d.day() != d.month() {
			dst = append(dst, uint64(mkDate(d.year(), d.day(), d.month())))
		}
	case atYear:
		y, exact := e.birthYear(f)
		if y == 0 {
			break
		}
		w := 0
		if probe {
			w = 1
			if !exact {
				w = 4
			}
		}
		for d := -w; d <= w; d++ {
			dst = append(dst, uint64(y+d))
		}
	case atPlace:
		if x := f[at.field]; x != 0 {
			dst = append(dst, uint64(e.d.at(x-1).phon))
		}
	case atValue:
		if x := f[at.field]; x != 0 {
			dst = append(dst, uint64(x))
		}
	}
	return dst
}

func containsU64(s []uint64, x uint64) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// blockKey is a key of one rule.
type blockKey struct {
	key  uint64
	rule uint8
}

// keys appends the blocking keys of f under every rule (probe: widened for a query).
func (e *engine) keys(f feat, probe bool, dst []blockKey) []blockKey {
	var abuf, bbuf [16]uint64
	for ri, r := range e.rules {
		as := e.atoms(f, r.a, probe, abuf[:0])
		if len(as) == 0 {
			continue
		}
		if r.single {
			for _, x := range as {
				dst = append(dst, blockKey{mix(uint64(ri), x, 0), uint8(ri)})
			}
			continue
		}
		if r.within {
			for x := range as {
				for y := x + 1; y < len(as); y++ {
					p, q := as[x], as[y]
					if p > q {
						p, q = q, p
					}
					dst = append(dst, blockKey{mix(uint64(ri), p, q), uint8(ri)})
				}
			}
			continue
		}
		bs := e.atoms(f, r.b, probe, bbuf[:0])
		for _, x := range as {
			for _, y := range bs {
				dst = append(dst, blockKey{mix(uint64(ri), x, y), uint8(ri)})
			}
		}
	}
	return dst
}

// mix hashes a rule number and two values into a 64-bit key (splitmix64 finaliser); a
// collision only adds a candidate, which comparison then rejects.
func mix(r, a, b uint64) uint64 {
	h := r*0x9E3779B97F4A7C15 ^ a
	h = (h ^ h>>30) * 0xBF58476D1CE4E5B9
	h ^= b + 0x632BE59BD9B4E019 + h<<6 + h>>2
	h = (h ^ h>>27) * 0x94D049BB133111EB
	return h ^ h>>31
}
