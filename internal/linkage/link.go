package linkage

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Batch settings.
const (
	// maxBlockPairs skips a block that would propose more pairs than this on its own: such a
	// key (a common name in a state) says almost nothing, and the pairs it holds share smaller
	// blocks under other rules. TestPairsCompleteness measures what it costs.
	maxBlockPairs = 200_000
	// uSamplePairs is how many random pairs measure u.
	uSamplePairs = 300_000
	chunkPairs   = 2048
)

// Link compares every blocked pair across left and right; m/u fitted by EM on those pairs (no labels).
func Link(fields []Field, left, right []Record, opt Options) (Result, error) {
	return run(fields, left, right, false, opt)
}

// Dedup finds pairs within one file.
func Dedup(fields []Field, recs []Record, opt Options) (Result, error) {
	return run(fields, recs, recs, true, opt)
}

// candidate is a pair of positions in the sorted inputs, and the rules that proposed it.
type candidate struct {
	a, b int32
	mask uint64
}

func run(fields []Field, left, right []Record, dedup bool, opt Options) (Result, error) {
	e, err := newEngine(fields, opt.AsOf)
	if err != nil {
		return Result{}, err
	}
	side := [2]string{"left", "right"}
	if dedup {
		side[0] = "input"
	}
	for s, recs := range [][]Record{left, right} {
		if dedup && s == 1 {
			break
		}
		for i, r := range recs {
			if len(r.Values) != len(fields) {
				return Result{}, fmt.Errorf("%s record %d (id %q): %d values, want %d", side[s], i+1, r.ID, len(r.Values), len(fields))
			}
		}
	}
	threshold := opt.Threshold
	if threshold == 0 {
		threshold = 0.5
	}
	// Work in a canonical order (by ID, then values) so that the result, down to the random
	// sample that measures u, does not depend on the order of the input.
	lo := canonicalOrder(left)
	ro := lo
	if !dedup {
		ro = canonicalOrder(right)
	}
	lf := featurizeAll(e, left, lo)
	rf := lf
	if !dedup {
		rf = featurizeAll(e, right, ro)
	}
	tf := newTFTables(e.nf)
	for _, f := range lf {
		tf.addRecord(e, f, 1)
	}
	if !dedup {
		for _, f := range rf {
			tf.addRecord(e, f, 1)
		}
	}

	cands := candidates(e, lf, rf, dedup)
	nl, nr := float64(len(lf)), float64(len(rf))
	allPairs := nl * nr
	if dedup {
		allPairs = nl * (nl - 1) / 2
	}
	uPairs := samplePairs(len(lf), len(rf), dedup)
	prog := &progress{fn: opt.Progress, total: len(cands) + len(uPairs)}

	records := len(lf) + len(rf)
	maxMatches := float64(min(len(lf), len(rf)))
	if dedup {
		records = len(lf)
		maxMatches = float64(len(lf))
	}
	random := comparePairs(e, lf, rf, uPairs, nil, prog)
	u := estimateU(e, random)
	ps := comparePairs(e, lf, rf, cands, tf, prog)
	prior := priorModel(e, len(lf))
	prior.asOf = opt.AsOf
	model := fit(fitInput{e: e, prior: prior, cand: ps, u: u, random: random, tf: tf,
		allPairs: allPairs, records: records, maxMatches: maxMatches})

	sc := newScorer(e, model)
	var pairs []Pair
	for i, c := range cands {
		w := float64(ps.tf[i]) + sc.rowWeight(ps.row(i))
		p := posterior(w, model.Lambda)
		if p < threshold {
			continue
		}
		l, r := lo[c.a], ro[c.b]
		if dedup && l > r {
			l, r = r, l
		}
		pairs = append(pairs, Pair{Left: l, Right: r, Probability: p, Weight: w})
	}
	slices.SortFunc(pairs, func(a, b Pair) int {
		if c := cmp.Compare(b.Probability, a.Probability); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Left, b.Left); c != 0 {
			return c
		}
		return cmp.Compare(a.Right, b.Right)
	})
	prog.finish()
	return Result{Pairs: pairs, Candidates: len(cands), Model: model}, nil
}

// canonicalOrder returns the positions of recs sorted by ID, then by values.
func canonicalOrder(recs []Record) []int {
	o := make([]int, len(recs))
	for i := range o {
		o[i] = i
	}
	slices.SortStableFunc(o, func(a, b int) int {
		if c := strings.Compare(recs[a].ID, recs[b].ID); c != 0 {
			return c
		}
		return slices.Compare(recs[a].Values, recs[b].Values)
	})
	return o
}

func featurizeAll(e *engine, recs []Record, order []int) []feat {
	fs := make([]feat, len(order))
	parallel(len(order), 256, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			fs[i] = e.featurize(recs[order[i]].Values)
		}
	})
	return fs
}

// postings maps blocking keys to the positions of the records that have them.
type postings map[uint64][]int32

func buildPostings(e *engine, fs []feat) postings {
	p := postings{}
	var buf []blockKey
	for i, f := range fs {
		buf = e.keys(f, false, buf[:0])
		for _, k := range buf {
			l := p[k.key]
			if n := len(l); n > 0 && l[n-1] == int32(i) {
				continue // the same key twice in one record
			}
			p[k.key] = append(l, int32(i))
		}
	}
	return p
}

// candidates returns the blocked pairs: (left, right) positions, or (i, j) with i < j for dedup.
func candidates(e *engine, lf, rf []feat, dedup bool) []candidate {
	lp := buildPostings(e, lf)
	rp := lp
	if !dedup {
		rp = buildPostings(e, rf)
	}
	type scratch struct {
		stamp []int32
		mask  []uint64
		keys  []blockKey
		parts []int32
	}
	ws := make([]*scratch, workers())
	chunks := make([][]candidate, (len(rf)+255)/256)
	parallel(len(rf), 256, func(w, lo, hi int) {
		s := ws[w]
		if s == nil {
			s = &scratch{stamp: make([]int32, len(lf)), mask: make([]uint64, len(lf))}
			for i := range s.stamp {
				s.stamp[i] = -1
			}
			ws[w] = s
		}
		var out []candidate
		for r := lo; r < hi; r++ {
			s.keys = e.keys(rf[r], false, s.keys[:0])
			s.parts = s.parts[:0]
			for _, k := range s.keys {
				list := lp[k.key]
				n := len(list)
				var pairs int
				if dedup {
					pairs = n * (n - 1) / 2
				} else {
					pairs = n * len(rp[k.key])
				}
				if pairs > maxBlockPairs {
					continue
				}
				for _, l := range list {
					if dedup && int(l) <= r {
						continue
					}
					if s.stamp[l] != int32(r) {
						s.stamp[l] = int32(r)
						s.mask[l] = 0
						s.parts = append(s.parts, l)
					}
					s.mask[l] |= 1 << k.rule
				}
			}
			slices.Sort(s.parts)
			for _, l := range s.parts {
				if dedup {
					out = append(out, candidate{a: int32(r), b: l, mask: s.mask[l]})
				} else {
					out = append(out, candidate{a: l, b: int32(r), mask: s.mask[l]})
				}
			}
		}
		chunks[lo/256] = out
	})
	var all []candidate
	for _, c := range chunks {
		all = append(all, c...)
	}
	return all
}

// samplePairs draws the random pairs that measure u: all of them when there are few, else
// uSamplePairs drawn with a fixed seed (the inputs are in canonical order, so the sample does
// not depend on input order).
func samplePairs(nl, nr int, dedup bool) []candidate {
	total := nl * nr
	if dedup {
		total = nl * (nl - 1) / 2
	}
	if total <= 0 {
		return nil
	}
	var out []candidate
	if total <= uSamplePairs {
		for a := 0; a < nl; a++ {
			b0 := 0
			if dedup {
				b0 = a + 1
			}
			for b := b0; b < nr; b++ {
				out = append(out, candidate{a: int32(a), b: int32(b)})
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(0x6c696e6b, 0x75)) // "link"
	out = make([]candidate, 0, uSamplePairs)
	for len(out) < uSamplePairs {
		a, b := rng.IntN(nl), rng.IntN(nr)
		if dedup && a == b {
			continue
		}
		out = append(out, candidate{a: int32(a), b: int32(b)})
	}
	return out
}

// comparePairs compares candidates on every core.
func comparePairs(e *engine, lf, rf []feat, cands []candidate, tf tfTables, prog *progress) *pairSet {
	nf := e.nf
	ps := &pairSet{nf: nf, levels: make([]uint8, len(cands)*nf), masks: make([]uint64, len(cands)), tf: make([]float32, len(cands))}
	cs := make([]*comparer, workers())
	parallel(len(cands), chunkPairs, func(w, lo, hi int) {
		c := cs[w]
		if c == nil {
			c = newComparer(e)
			cs[w] = c
		}
		fcs := make([]fieldCmp, nf)
		for i := lo; i < hi; i++ {
			cd := cands[i]
			c.compare(lf[cd.a], rf[cd.b], fcs)
			row := ps.levels[i*nf : (i+1)*nf]
			adj := 0.0
			for f := range fcs {
				row[f] = fcs[f].level
				adj += tf.adj(f, &fcs[f])
			}
			ps.masks[i] = cd.mask
			ps.tf[i] = float32(adj)
		}
		prog.add(hi - lo)
	})
	return ps
}

func newCounts(e *engine) [][]float64 {
	c := make([][]float64, e.nf)
	for i, k := range e.kinds {
		c[i] = make([]float64, len(levelNames[k]))
	}
	return c
}
