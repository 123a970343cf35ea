package linkage

import (
	"math"
	"slices"
)

// Fitting, without labels:
//
//  1. u comes from a large random sample of record pairs. Almost all of them are non-matches,
//     so the share reaching each level is u, with a light Dirichlet prior for levels the
//     sample never reached. The same sample measures u given another field's exact
//     agreement, for the fields whose u depends on another (chooseParents).
//  2. m comes from EM on the blocked candidate pairs, run once per blocking rule on the pairs
//     that rule proposed, leaving out the fields the rule forces to agree (pairs found by
//     "given name + surname" say nothing about how often matches agree on names, but plenty
//     about birth dates) and fitting the block's own u alongside (see em). Each field's m is
//     the average of the rules that could estimate it, weighted by their expected number of
//     matches, shrunk towards the prior. Rules whose match class is implausible are dropped:
//     more expected matches than records, or a field disagreeing on most of them. That is how
//     a "match" class that is really "same family" or "same sex" is kept out.
//  3. The prior lambda is fitted last over all pairs (the non-candidates counted as
//     non-matches), with the term-frequency-adjusted weights, by the same EM step for lambda
//     alone.

// pairSet holds compared candidate pairs.
type pairSet struct {
	nf     int
	levels []uint8   // len(masks)*nf: field levels of each pair
	masks  []uint64  // the rules that proposed each pair
	tf     []float32 // the term-frequency adjustment of each pair
}

func (ps *pairSet) len() int { return len(ps.masks) }

func (ps *pairSet) row(i int) []uint8 { return ps.levels[i*ps.nf : (i+1)*ps.nf] }

// EM settings.
const (
	emMaxIter       = 300
	emTol           = 1e-7
	emPriorStrength = 10  // pseudo-matches behind the prior m of each field
	uPriorStrength  = 10  // pseudo-pairs behind the prior u
	minRuleMatches  = 20  // a rule must expect this many matches for its estimates to count
	minFieldMatches = 10  // and this many with the field present
	maxMDisagree    = 0.5 // a field that disagrees on more than half the matches is misfitted
)

// estimateU turns the levels of random pairs into u, with a light prior.
func estimateU(e *engine, random *pairSet) [][]float64 {
	counts := newCounts(e)
	for i := 0; i < random.len(); i++ {
		for f, l := range random.row(i) {
			if l != levelMissing {
				counts[f][l]++
			}
		}
	}
	u := make([][]float64, e.nf)
	for i, k := range e.kinds {
		u[i] = smooth(counts[i], priorU[k], uPriorStrength)
	}
	return u
}

// smooth is counts shrunk towards prior by strength pseudo-counts, as probabilities.
func smooth(counts, prior []float64, strength float64) []float64 {
	n := 0.0
	for _, c := range counts {
		n += c
	}
	out := make([]float64, len(counts))
	for l := range out {
		out[l] = math.Max((counts[l]+strength*prior[l])/(n+strength), 1e-9)
	}
	return out
}

// Dependence between fields among non-matches. Conditional independence is the weak point of
// Fellegi-Sunter on people: siblings share both surnames and a town, a given name carries its
// sex, a town its country, so agreeing on the second of each pair says little once the first
// agrees. Each field may take one parent, an earlier field (names first, categories last)
// whose exact agreement changes the field's u the most, judged on the random pairs; the
// field's u given that agreement is then used whenever the parent agrees exactly.
//
// Random pairs that agree on a field are much richer in true matches than random pairs in
// general (when every record has a match, one pair in 25 sharing a given name may be one), so
// each random pair counts by its chance of being a non-match under the model fitted so far.
const (
	minParentPairs = 50  // random pairs with the parent agreeing, to trust the conditional u
	minParentKL    = 0.1 // nats of divergence between conditional and plain u to bother
)

// kindRank orders kinds for choosing parents: the more identifying kinds come first.
var kindRank = [...]int{kName: 0, kDate: 1, kAge: 2, kCode: 3, kNumber: 4, kPlace: 5, kText: 6, kCategory: 7}

// chooseParents picks each field's parent and its u given the parent's exact agreement, from
// the random pairs weighted by their chance of being non-matches under sc and lambda.
func chooseParents(e *engine, random *pairSet, u [][]float64, sc *scorer, lambda float64) (parent []int, ucond [][]float64) {
	cond := make([][][]float64, e.nf) // cond[a][b][l]: weight of pairs with a exact and b at l
	for a := range cond {
		cond[a] = newCounts(e)
	}
	for i := 0; i < random.len(); i++ {
		row := random.row(i)
		wt := 1 - posterior(sc.rowWeight(row), lambda)
		for a, la := range row {
			if la != 0 {
				continue
			}
			for b, lb := range row {
				if b != a && lb != levelMissing {
					cond[a][b][lb] += wt
				}
			}
		}
	}
	parent = make([]int, e.nf)
	ucond = make([][]float64, e.nf)
	before := func(a, b int) bool {
		ra, rb := kindRank[e.kinds[a]], kindRank[e.kinds[b]]
		return ra < rb || (ra == rb && a < b)
	}
	for b := range parent {
		parent[b] = -1
		best := minParentKL
		for a := range parent {
			if a == b || !before(a, b) {
				continue
			}
			n := 0.0
			for _, c := range cond[a][b] {
				n += c
			}
			if n < minParentPairs {
				continue
			}
			uc := smooth(cond[a][b], u[b], uPriorStrength)
			kl := 0.0
			for l := range uc {
				kl += uc[l] * math.Log(uc[l]/u[b][l])
			}
			if kl > best {
				best, parent[b], ucond[b] = kl, a, uc
			}
		}
	}
	return parent, ucond
}

// patterns aggregates the level rows of the pairs that rule bit r proposed (all pairs when
// r < 0), with the fields in drop set to missing, into unique patterns and their counts,
// sorted so that the fit does not depend on map order.
func patterns(ps *pairSet, r int, drop uint64) (pats []uint8, counts []float64) {
	nf := ps.nf
	idx := map[string]int{}
	row := make([]uint8, nf)
	var keys []string
	var cnt []float64
	for i := 0; i < ps.len(); i++ {
		if r >= 0 && ps.masks[i]&(1<<r) == 0 {
			continue
		}
		copy(row, ps.row(i))
		for f := 0; f < nf; f++ {
			if drop&(1<<f) != 0 {
				row[f] = levelMissing
			}
		}
		if j, ok := idx[string(row)]; ok {
			cnt[j]++
			continue
		}
		idx[string(row)] = len(keys)
		keys = append(keys, string(row))
		cnt = append(cnt, 1)
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if keys[a] < keys[b] {
			return -1
		}
		if keys[a] > keys[b] {
			return 1
		}
		return 0
	})
	pats = make([]uint8, 0, len(keys)*nf)
	counts = make([]float64, 0, len(keys))
	for _, j := range order {
		pats = append(pats, keys[j]...)
		counts = append(counts, cnt[j])
	}
	return pats, counts
}

// emResult is the outcome of EM on one rule's pairs.
type emResult struct {
	m       [][]float64
	lambda  float64
	matches float64   // expected matches
	present []float64 // expected matches with each field present
}

// em fits m, u and lambda on one rule's aggregated patterns, starting from m0 and u0 and shrunk
// towards them. u is fitted too because the non-matches a rule proposes are not random pairs:
// people who share a given name nearly always share its sex, and people who share both
// surnames often share a town. Fixing u to the random-pair values would leave that agreement
// to be explained by the match class, which then grows into "same sex" or "same family". Only
// m is kept; scoring uses the u of random pairs.
func em(e *engine, pats []uint8, counts []float64, m0, u0 [][]float64) emResult {
	nf := e.nf
	m := make([][]float64, nf)
	u := make([][]float64, nf)
	lr := make([][]float64, nf)
	accM := make([][]float64, nf)
	accU := make([][]float64, nf)
	for f := range m {
		m[f] = append([]float64(nil), m0[f]...)
		u[f] = append([]float64(nil), u0[f]...)
		lr[f] = make([]float64, len(m0[f]))
		accM[f] = make([]float64, len(m0[f]))
		accU[f] = make([]float64, len(m0[f]))
	}
	presentM := make([]float64, nf)
	presentU := make([]float64, nf)
	lambda := 0.1
	total := 0.0
	for _, c := range counts {
		total += c
	}
	var matches float64
	for iter := 0; iter < emMaxIter; iter++ {
		for f := range m {
			for l := range m[f] {
				lr[f][l] = math.Log(math.Max(m[f][l], 1e-12)) - math.Log(math.Max(u[f][l], 1e-12))
			}
			clear(accM[f])
			clear(accU[f])
		}
		clear(presentM)
		clear(presentU)
		prior := math.Log(lambda) - math.Log1p(-lambda)
		matches = 0
		for p, c := range counts {
			row := pats[p*nf : (p+1)*nf]
			s := prior
			for f, l := range row {
				if l != levelMissing {
					s += lr[f][l]
				}
			}
			g := 1 / (1 + math.Exp(-s))
			gm, gu := c*g, c*(1-g)
			matches += gm
			for f, l := range row {
				if l != levelMissing {
					accM[f][l] += gm
					presentM[f] += gm
					accU[f][l] += gu
					presentU[f] += gu
				}
			}
		}
		delta := 0.0
		for f := range m {
			for l := range m[f] {
				nm := (accM[f][l] + emPriorStrength*m0[f][l]) / (presentM[f] + emPriorStrength)
				nu := (accU[f][l] + uPriorStrength*u0[f][l]) / (presentU[f] + uPriorStrength)
				delta = math.Max(delta, math.Max(math.Abs(nm-m[f][l]), math.Abs(nu-u[f][l])))
				m[f][l], u[f][l] = nm, nu
			}
		}
		nl := math.Min(math.Max(matches/total, 1e-6), 0.999)
		delta = math.Max(delta, math.Abs(nl-lambda))
		lambda = nl
		if delta < emTol {
			break
		}
	}
	return emResult{m: m, lambda: lambda, matches: matches, present: presentM}
}

// fitInput is what fit needs.
type fitInput struct {
	e      *engine
	prior  *Model
	cand   *pairSet
	u      [][]float64 // from estimateU
	random *pairSet    // the random pairs u came from
	tf     tfTables
	// allPairs is the number of pairs lambda is a probability over (all pairs, not only the
	// candidates), times the share of them the candidates were drawn from.
	allPairs float64
	records  int
	// maxMatches is the most matches the data can hold (the smaller file for Link, the
	// records for Dedup); a rule whose EM expects more has found something else.
	maxMatches float64
}

// fit estimates a model from candidate pairs and random pairs.
func fit(in fitInput) *Model {
	e := in.e
	u := in.u
	m0 := make([][]float64, e.nf)
	for i, f := range e.fields {
		if fm, ok := in.prior.field(f.Name, e.kinds[i]); ok {
			m0[i] = fm.M
		} else {
			m0[i] = priorM[e.kinds[i]]
		}
	}
	// EM per rule, leaving out the rule's own fields.
	sum := make([][]float64, e.nf)
	weight := make([]float64, e.nf)
	for f := range sum {
		sum[f] = make([]float64, len(m0[f]))
	}
	for r, rl := range e.rules {
		pats, counts := patterns(in.cand, r, rl.fields)
		if len(counts) == 0 {
			continue
		}
		res := em(e, pats, counts, m0, u)
		ok := res.matches >= minRuleMatches && res.matches <= in.maxMatches
		// A class of matches disagrees on no field most of the time; one that does is a
		// family, a sex or a town, not a person.
		for f := range res.m {
			if ok && rl.fields&(1<<f) == 0 && res.present[f] >= minFieldMatches && res.m[f][len(res.m[f])-1] > maxMDisagree {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for f := range sum {
			if rl.fields&(1<<f) != 0 || res.present[f] < minFieldMatches {
				continue
			}
			for l, v := range res.m[f] {
				sum[f][l] += res.present[f] * v
			}
			weight[f] += res.present[f]
		}
	}
	model := &Model{Records: in.records, Fitted: true, asOf: in.prior.asOf, tf: in.tf}
	for i, f := range e.fields {
		k := e.kinds[i]
		mf := make([]float64, len(m0[i]))
		for l := range mf {
			mf[l] = (sum[i][l] + emPriorStrength*m0[i][l]) / (weight[i] + emPriorStrength)
		}
		model.Fields = append(model.Fields, FieldModel{Name: f.Name, Kind: f.Kind,
			Levels: append([]string(nil), levelNames[k]...), M: mf, U: u[i]})
	}
	// Lambda under independence, then the dependences among non-matches, then lambda again.
	sc := newScorer(e, model)
	lambda := fitLambda(sc, in.cand, in.allPairs, float64(in.records))
	parent, ucond := chooseParents(e, in.random, u, sc, lambda)
	for i, p := range parent {
		if p >= 0 {
			model.Fields[i].Parent, model.Fields[i].UGivenParent = e.fields[p].Name, ucond[i]
		}
	}
	model.Lambda = fitLambda(newScorer(e, model), in.cand, in.allPairs, float64(in.records))
	return model
}

// fitLambda finds the prior that makes the expected number of matches over all pairs equal to
// the sum of the candidates' posteriors: EM for lambda alone, on a histogram of weights.
func fitLambda(s *scorer, ps *pairSet, allPairs, records float64) float64 {
	const lo, hi, step = -80.0, 80.0, 0.05
	hist := make([]float64, int((hi-lo)/step)+1)
	for i := 0; i < ps.len(); i++ {
		w := float64(ps.tf[i]) + s.rowWeight(ps.row(i))
		b := int((math.Min(math.Max(w, lo), hi) - lo) / step)
		hist[b]++
	}
	if allPairs < 1 {
		allPairs = 1
	}
	lambda := math.Min(math.Max(records/2, 1)/allPairs, 0.5)
	for iter := 0; iter < 500; iter++ {
		prior := logit2(lambda)
		sum := 0.0
		for b, c := range hist {
			if c == 0 {
				continue
			}
			w := lo + (float64(b)+0.5)*step
			sum += c / (1 + math.Exp2(-(w + prior)))
		}
		nl := math.Min(math.Max(sum/allPairs, 1e-15), 0.5)
		done := math.Abs(nl-lambda) <= 1e-9*lambda
		lambda = nl
		if done {
			break
		}
	}
	return lambda
}
