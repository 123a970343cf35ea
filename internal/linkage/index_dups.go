package linkage

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Duplicates and Fit: the index looking at itself.

// dupLambda is the prior for a pair inside the index: the fitted matches per record spread
// over the index's current size.
func (ix *Index) dupLambda() float64 {
	m := ix.model
	n := float64(len(ix.ids))
	if n < 2 {
		return m.Lambda
	}
	perRecord := m.Lambda * float64(max(m.Records, 2)-1) / 2
	return math.Min(2*perRecord/(n-1), 0.5)
}

// Duplicates lists likely duplicate pairs inside the index, best first, at most limit
// (limit <= 0: all). Blocks too common to say anything (more than maxDupBlock records) are
// skipped. The prior is Fit's rate of duplicates per record, spread over the index's size.
func (ix *Index) Duplicates(minProb float64, limit int) []DupPair {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	lambda := ix.dupLambda()
	minW := math.Inf(-1)
	if minProb > 0 {
		minW = logit2(minProb) - logit2(lambda)
	}
	// Every record is an anchor; each pair is found once, from its lower slot. Anchors are
	// shared out among the cores, which compare as they go: a large registry proposes tens of
	// millions of pairs, too many to hold.
	type hit struct {
		a, b int32
		w    float64
	}
	type worker struct {
		c     *comparer
		fcs   []fieldCmp
		stamp []int32
		keys  []blockKey
		parts []int32
		hits  []hit
		sink  uint32
	}
	nw := workers()
	ws := make([]*worker, nw)
	nslots := len(ix.offs)
	parallel(nslots, 256, func(w, lo, hi int) {
		wk := ws[w]
		if wk == nil {
			wk = &worker{c: newComparer(ix.e), fcs: make([]fieldCmp, ix.e.nf), stamp: make([]int32, nslots)}
			for i := range wk.stamp {
				wk.stamp[i] = -1
			}
			ws[w] = wk
		}
		for a := int32(lo); a < int32(hi); a++ {
			if ix.offs[a] == noFeat {
				continue
			}
			fa := ix.feat(a)
			wk.keys = ix.e.keys(fa, false, wk.keys[:0])
			wk.parts = wk.parts[:0]
			for _, k := range wk.keys {
				list := ix.post[k.key]
				if len(list) > maxDupBlock {
					continue
				}
				for _, b := range list {
					if b > a && wk.stamp[b] != a {
						wk.stamp[b] = a
						wk.parts = append(wk.parts, b)
					}
				}
			}
			hdr := uint32(2 * ix.e.nf)
			for i := 0; i < len(wk.parts); i += scanBatch {
				chunk := wk.parts[i:min(i+scanBatch, len(wk.parts))]
				for _, b := range chunk { // touch first, so the loads overlap (see scan)
					wk.sink += ix.arena[ix.offs[b]+hdr]
				}
				for _, b := range chunk {
					wk.c.compare(fa, ix.feat(b), wk.fcs)
					if wt := ix.sc.total(wk.fcs, ix.tf); wt >= minW {
						wk.hits = append(wk.hits, hit{a, b, wt})
					}
				}
			}
		}
	})
	hits := make([][]hit, 0, nw)
	for _, wk := range ws {
		if wk != nil {
			hits = append(hits, wk.hits)
		}
	}
	var all []DupPair
	c := newComparer(ix.e)
	fcs := make([]fieldCmp, ix.e.nf)
	for _, hs := range hits {
		for _, h := range hs {
			a, b := ix.slotID[h.a], ix.slotID[h.b]
			if a > b {
				a, b = b, a
			}
			all = append(all, DupPair{A: a, B: b, Probability: posterior(h.w, lambda), Weight: h.w})
		}
	}
	slices.SortFunc(all, func(x, y DupPair) int {
		if c := cmp.Compare(y.Weight, x.Weight); c != 0 {
			return c
		}
		if c := cmp.Compare(x.A, y.A); c != 0 {
			return c
		}
		return cmp.Compare(x.B, y.B)
	})
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	for i := range all {
		c.compare(ix.feat(ix.ids[all[i].A]), ix.feat(ix.ids[all[i].B]), fcs)
		all[i].Fields = ix.sc.agreements(ix.e, fcs, ix.tf)
	}
	return all
}

// liveSlots returns the occupied slots, ordered by record ID so that sampling is repeatable.
func (ix *Index) liveSlots() []int32 {
	live := make([]int32, 0, len(ix.ids))
	for _, s := range ix.ids {
		live = append(live, s)
	}
	slices.SortFunc(live, func(a, b int32) int { return cmp.Compare(ix.slotID[a], ix.slotID[b]) })
	return live
}

// pairsFrom returns the blocked pairs inside the index that involve the anchors, each once,
// stopping after the anchor that reaches budget pairs (0: no limit), and how many anchors it
// used. With anchorSet nil the anchors must be every record; otherwise anchorSet (len(slots),
// all false) records the anchors as they are used.
func (ix *Index) pairsFrom(anchors []int32, anchorSet []bool, budget int) ([]candidate, int) {
	stamp := make([]int32, len(ix.offs))
	for i := range stamp {
		stamp[i] = -1
	}
	mask := make([]uint64, len(ix.offs))
	var out, parts []candidate
	var keys []blockKey
	used := 0
	for _, a := range anchors {
		used++
		if anchorSet != nil {
			anchorSet[a] = true
		}
		keys = ix.e.keys(ix.feat(a), false, keys[:0])
		parts = parts[:0]
		for _, k := range keys {
			list := ix.post[k.key]
			if len(list) > maxDupBlock {
				continue
			}
			for _, b := range list {
				if b == a {
					continue
				}
				// Each pair once: from its lower slot, or from the first of its ends used.
				if (anchorSet == nil && b < a) || (anchorSet != nil && anchorSet[b]) {
					continue
				}
				if stamp[b] != a {
					stamp[b] = a
					mask[b] = 0
					parts = append(parts, candidate{a: a, b: b})
				}
				mask[b] |= 1 << k.rule
			}
		}
		for _, p := range parts {
			p.mask = mask[p.b]
			out = append(out, p)
		}
		if budget > 0 && len(out) >= budget {
			break
		}
	}
	return out, used
}

// Fit estimates the model from the index's own records (no labels): u from random pairs, m
// and the prior by EM on a sample of the blocked pairs (see the package documentation). It
// sets and returns the model. It works under the read lock: queries go on meanwhile, Put and
// Delete wait (about a second for 100,000 people, a few for a million).
func (ix *Index) Fit() (*Model, error) {
	ix.mu.RLock()
	n := len(ix.ids)
	if n < 3 {
		ix.mu.RUnlock()
		return nil, fmt.Errorf("linkage: fit: need at least 3 records, the index has %d", n)
	}
	live := ix.liveSlots()
	rng := rand.New(rand.NewPCG(0x666974, uint64(n))) // "fit"
	anchors := slices.Clone(live)
	rng.Shuffle(len(anchors), func(i, j int) { anchors[i], anchors[j] = anchors[j], anchors[i] })
	cands, used := ix.pairsFrom(anchors, make([]bool, len(ix.offs)), maxFitPairs)
	// Random pairs for u, by position in the ID-ordered live list.
	uPairs := samplePairs(n, n, true)
	for i := range uPairs {
		uPairs[i].a, uPairs[i].b = live[uPairs[i].a], live[uPairs[i].b]
	}
	all := make([]feat, len(ix.offs))
	for s, off := range ix.offs {
		if off != noFeat {
			all[s] = ix.feat(int32(s))
		}
	}
	random := comparePairs(ix.e, all, all, uPairs, nil, nil)
	u := estimateU(ix.e, random)
	ps := comparePairs(ix.e, all, all, cands, ix.tf, nil)
	frac := float64(used) / float64(n)
	cover := 2*frac - frac*frac
	prior := priorModel(ix.e, n)
	prior.asOf = time.Date(ix.e.asOf.year(), time.Month(ix.e.asOf.month()), ix.e.asOf.day(), 0, 0, 0, 0, time.UTC)
	model := fit(fitInput{e: ix.e, prior: prior, cand: ps, u: u, random: random, tf: ix.tf.clone(),
		allPairs: float64(n) * float64(n-1) / 2 * cover, records: n, maxMatches: float64(n)})
	ix.mu.RUnlock()

	ix.mu.Lock()
	ix.setModel(model)
	ix.mu.Unlock()
	return model, nil
}
