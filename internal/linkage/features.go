package linkage

import (
	"fmt"
	"strings"
	"time"
)

// kind is a Kind as a small integer for the hot path.
type kind uint8

const (
	kName kind = iota
	kDate
	kAge
	kNumber
	kCode
	kPlace
	kText
	kCategory
)

func kindOf(k Kind) (kind, error) {
	switch k {
	case KindName:
		return kName, nil
	case KindDate:
		return kDate, nil
	case KindAge:
		return kAge, nil
	case KindNumber:
		return kNumber, nil
	case KindCode:
		return kCode, nil
	case KindPlace:
		return kPlace, nil
	case KindText:
		return kText, nil
	case KindCategory:
		return kCategory, nil
	}
	_, err := ParseKind(string(k))
	return 0, err
}

// Token caps: more words than this in one field is noise, and the caps bound the cost of
// matching token sets.
const (
	maxNameTokens = 6
	maxTextTokens = 12
)

// An engine holds what comparing records of one schema needs: the fields, the dictionary of
// words, and which date and age fields describe the same birth.
type engine struct {
	fields []Field
	kinds  []kind
	nf     int
	dateF  int // the birth date field, or -1
	ageF   int // the age field, or -1
	asOf   date
	d      *dict
	rules  []rule
}

func newEngine(fields []Field, asOf time.Time) (*engine, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("no fields to compare")
	}
	if len(fields) > 64 {
		return nil, fmt.Errorf("%d fields: at most 64 can be compared", len(fields))
	}
	e := &engine{fields: append([]Field(nil), fields...), nf: len(fields), dateF: -1, ageF: -1, d: newDict()}
	seen := map[string]bool{}
	for i, f := range fields {
		k, err := kindOf(f.Kind)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name, err)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("field %q listed twice", f.Name)
		}
		seen[f.Name] = true
		e.kinds = append(e.kinds, k)
		if k == kDate && e.dateF < 0 {
			e.dateF = i
		}
		if k == kAge && e.ageF < 0 {
			e.ageF = i
		}
	}
	e.setAsOf(asOf)
	e.rules = buildRules(e)
	return e, nil
}

func (e *engine) setAsOf(t time.Time) {
	if t.IsZero() {
		t = time.Now()
	}
	y, m, d := t.Date()
	e.asOf = mkDate(y, int(m), d)
}

// A feat is one record prepared for comparison, packed in one slice so a million records cost
// a million small allocations, not seven million:
//
//	f[i]             for i < nf: field i's scalar (a date, age+1, or a word id+1; 0 = missing)
//	f[nf+i]:f[nf+i+1] the positions in f of field i's tokens (word ids, maybe with expandedBit)
type feat []uint32

func (f feat) tokens(nf, i int) []uint32 { return f[f[nf+i]:f[nf+i+1]] }

// featurize prepares r for comparison, interning its words.
func (e *engine) featurize(values []string) feat {
	nf := e.nf
	f := make(feat, 2*nf+1, 2*nf+1+8)
	for i, k := range e.kinds {
		f[nf+i] = uint32(len(f))
		v := ""
		if i < len(values) {
			v = strings.TrimSpace(values[i])
		}
		if v == "" {
			continue
		}
		switch k {
		case kName:
			toks := NameTokens(v)
			n := 0
			for _, t := range toks {
				if n >= maxNameTokens {
					break
				}
				id := e.d.intern(t)
				if exp := e.d.at(id).expand; exp != nil {
					for _, x := range exp {
						f = append(f, x|expandedBit)
						n++
					}
					continue
				}
				f = append(f, id)
				n++
			}
		case kDate:
			f[i] = uint32(parseDate(v))
		case kAge:
			if a := parseAge(v); a >= 0 {
				f[i] = uint32(a) + 1
			}
		case kNumber:
			if n := normNumber(v); n != "" {
				f[i] = e.d.intern(n) + 1
			}
		case kCode:
			if c := normCode(v); c != "" {
				f[i] = e.d.intern(c) + 1
			}
		case kCategory:
			if c := normCategory(v); c != "" {
				f[i] = e.d.intern(c) + 1
			}
		case kPlace:
			toks := placeTokens(v)
			if len(toks) == 0 {
				continue
			}
			f[i] = e.d.intern(strings.Join(toks, " ")) + 1
			for j, t := range toks {
				if j >= maxNameTokens {
					break
				}
				f = append(f, e.d.intern(t))
			}
		case kText:
			for j, t := range textTokens(v) {
				if j >= maxTextTokens {
					break
				}
				f = append(f, e.d.intern(t))
			}
		}
	}
	f[2*nf] = uint32(len(f))
	return f
}

// birthDate returns the record's birth date, or 0.
func (e *engine) birthDate(f feat) date {
	if e.dateF < 0 {
		return 0
	}
	return date(f[e.dateF])
}

// age returns the record's age: the age field, else derived from the birth date; -1 if unknown.
func (e *engine) age(f feat) int {
	if e.ageF >= 0 && f[e.ageF] != 0 {
		return int(f[e.ageF]) - 1
	}
	if d := e.birthDate(f); d != 0 {
		return ageOn(d, e.asOf)
	}
	return -1
}

// birthYear returns the year of birth, from the date or estimated from the age; 0 if unknown.
// exact says whether it came from a date.
func (e *engine) birthYear(f feat) (y int, exact bool) {
	if d := e.birthDate(f); d != 0 {
		return d.year(), true
	}
	if e.ageF >= 0 && f[e.ageF] != 0 {
		return e.asOf.year() - (int(f[e.ageF]) - 1), false
	}
	return 0, false
}
