package linkage

import (
	"maps"
	"math"
)

// Term-frequency adjustment: agreeing on "García" is weaker evidence than agreeing on
// "Maradiaga". The model's u for a level is the average chance that two non-matching records
// reach it; for a particular value it is about that value's frequency p. So agreeing on a value
// adds log2(mtf/p) bits, where mtf (the sum of squared frequencies) is the chance that two
// random values agree: nothing on average, positive for rare values, negative for common ones.
// The adjustment is bounded, so that no rare name outweighs a different birth date on its own.
//
// Whole values (all the words of a name, a code) are counted for the exact, nickname and
// phonetic levels; single words for the partial levels, with a tighter bound.

// Kinds of adjustment a compared field asks for.
const (
	tfNone   = iota
	tfValue  // agreement on a whole value: fieldCmp.value
	tfTokens // agreement on some words: fieldCmp.toks
)

// Bounds of the adjustment, in bits.
const (
	tfValueMin, tfValueMax = -5, 6
	tfTokMin, tfTokMax     = -3, 3 // per word
	tfTokFieldMin          = -4    // per field
	tfTokFieldMax          = 4
)

// tfTable counts the values and the words of one field.
type tfTable struct {
	Vals   map[uint64]int32 // whole values
	VTotal int64
	VSumSq float64
	Toks   map[uint64]int32 // single words of names
	TTotal int64
	TSumSq float64
}

func addCount(m map[uint64]int32, total *int64, sumSq *float64, k uint64, delta int32) {
	c := float64(m[k])
	n := m[k] + delta
	if n <= 0 {
		delete(m, k)
		n = 0
	} else {
		m[k] = n
	}
	*total += int64(delta)
	*sumSq += float64(n)*float64(n) - c*c
}

// tfTables are frequency tables, one per field. The Index keeps them live; Link builds them
// once; a Model carries a copy for Explain.
type tfTables []tfTable

func newTFTables(nf int) tfTables {
	ts := make(tfTables, nf)
	for i := range ts {
		ts[i].Vals = map[uint64]int32{}
		ts[i].Toks = map[uint64]int32{}
	}
	return ts
}

func (ts tfTables) clone() tfTables {
	out := make(tfTables, len(ts))
	for i, t := range ts {
		out[i] = t
		out[i].Vals = maps.Clone(t.Vals)
		out[i].Toks = maps.Clone(t.Toks)
	}
	return out
}

// addRecord counts (delta 1) or uncounts (delta -1) the values of f.
func (ts tfTables) addRecord(e *engine, f feat, delta int32) {
	for i, k := range e.kinds {
		t := &ts[i]
		switch k {
		case kName:
			toks := f.tokens(e.nf, i)
			if len(toks) == 0 {
				continue
			}
			addCount(t.Vals, &t.VTotal, &t.VSumSq, e.nameValue(toks), delta)
			for _, x := range toks {
				addCount(t.Toks, &t.TTotal, &t.TSumSq, e.d.at(x).kh, delta)
			}
		case kCode, kNumber:
			if x := f[i]; x != 0 {
				addCount(t.Vals, &t.VTotal, &t.VSumSq, e.d.at(x-1).h, delta)
			}
		}
	}
}

// nameValue is the frequency key of a whole name: its words' canonical phonetic keys as a
// multiset (a sum of mixed hashes does not depend on order, so swapped surnames are one value).
func (e *engine) nameValue(toks []uint32) uint64 {
	var v uint64
	for _, x := range toks {
		v += mix(0, e.d.at(x).kh, 0)
	}
	return v
}

// mtf is the chance that two random values agree, from counts.
func mtf(total int64, sumSq float64) float64 {
	if total <= 0 {
		return 0
	}
	t := float64(total)
	return sumSq / (t * t)
}

// adj is the adjustment for fc in field i.
func (ts tfTables) adj(i int, fc *fieldCmp) float64 {
	if ts == nil || fc.level == levelMissing {
		return 0
	}
	t := &ts[i]
	switch fc.tfKind {
	case tfValue:
		if t.VTotal <= 0 {
			return 0
		}
		p := math.Max(float64(t.Vals[fc.value]), 1) / float64(t.VTotal)
		a := math.Log2(mtf(t.VTotal, t.VSumSq) / p)
		return math.Min(math.Max(a, tfValueMin), tfValueMax)
	case tfTokens:
		if t.TTotal <= 0 {
			return 0
		}
		m := mtf(t.TTotal, t.TSumSq)
		a := 0.0
		for _, k := range fc.toks[:fc.ntok] {
			p := math.Max(float64(t.Toks[k]), 1) / float64(t.TTotal)
			a += math.Min(math.Max(math.Log2(m/p), tfTokMin), tfTokMax)
		}
		return math.Min(math.Max(a, tfTokFieldMin), tfTokFieldMax)
	}
	return 0
}
