package linkage

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Index is an incremental in-memory index for the registry: add people as they arrive, query
// a report. Safe for concurrent use: queries run in parallel with each other, and Put, Delete
// and SetModel wait for them.
//
// Each record is prepared once, at Put (folded words, phonetic keys, canonical nicknames,
// parsed dates), and filed under its blocking keys; a query compares only the records that
// share a key with it, so its cost follows the size of those blocks, not of the index.
type Index struct {
	mu      sync.RWMutex
	e       *engine
	ids     map[string]int32 // record ID -> slot
	slotID  []string         // slot -> record ID ("" for a free slot)
	offs    []uint32         // slot -> offset of its features in arena (noFeat when free)
	arena   []uint32         // every record's feat, back to back: one allocation, not millions
	garbage int              // arena words of deleted or replaced records
	free    []int32
	post    postings
	tf      tfTables
	model   *Model
	sc      *scorer
	scratch sync.Pool // *queryScratch
}

const noFeat = ^uint32(0)

// feat returns the features of slot s (a view into the arena; valid until the next Put).
func (ix *Index) feat(s int32) feat {
	off := ix.offs[s]
	n := ix.arena[off+uint32(2*ix.e.nf)]
	return feat(ix.arena[off : off+n : off+n])
}

// store appends f to the arena for slot s, compacting the arena first when more than half of
// it is garbage.
func (ix *Index) store(s int32, f feat) {
	if ix.garbage > 1<<16 && ix.garbage > len(ix.arena)/2 {
		arena := make([]uint32, 0, len(ix.arena)-ix.garbage+len(f))
		for t, off := range ix.offs {
			if off == noFeat {
				continue
			}
			g := ix.feat(int32(t))
			ix.offs[t] = uint32(len(arena))
			arena = append(arena, g...)
		}
		ix.arena, ix.garbage = arena, 0
	}
	ix.offs[s] = uint32(len(ix.arena))
	ix.arena = append(ix.arena, f...)
}

// Index limits.
const (
	// maxQueryBlock skips a block longer than this in a query: a key that common does not
	// narrow anything down, and the record will share a smaller block under another rule.
	maxQueryBlock = 100_000
	// maxFitPairs bounds the candidate pairs Fit samples.
	maxFitPairs = 1_000_000
	// maxDupBlock skips blocks of more records than this when looking for duplicates inside
	// the index: the pairs of a big block grow with the square of its size, and a duplicate
	// shares a small block too (on the demo caravan of 100,000 with 5% registered twice, 150
	// keeps 99.9% of the true pairs and proposes 2.5 times fewer pairs than no cap).
	maxDupBlock = 150
)

// NewIndex returns an empty index over fields. The schema is the program's, not the user's,
// so an invalid one (no fields, an unknown kind, a name listed twice) panics.
func NewIndex(fields []Field) *Index {
	e, err := newEngine(fields, time.Time{})
	if err != nil {
		panic("linkage: NewIndex: " + err.Error())
	}
	ix := &Index{e: e, ids: map[string]int32{}, post: postings{}, tf: newTFTables(e.nf)}
	ix.setModel(priorModel(e, 1000))
	return ix
}

// SetAsOf sets the date ages are counted at (the default is the day the index was made). It
// re-files records known only by age, so call it before filling the index.
func (ix *Index) SetAsOf(t time.Time) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for s, off := range ix.offs {
		if off != noFeat {
			ix.unfile(int32(s))
		}
	}
	ix.e.setAsOf(t)
	for s, off := range ix.offs {
		if off != noFeat {
			ix.file(int32(s))
		}
	}
}

// Put adds r, or replaces the record with the same ID. Values beyond the index's fields are
// ignored and missing ones are unknown.
func (ix *Index) Put(r Record) {
	f := ix.e.featurize(r.Values)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if s, ok := ix.ids[r.ID]; ok {
		ix.unfile(s)
		ix.garbage += len(ix.feat(s))
		ix.offs[s] = noFeat
		ix.store(s, f)
		ix.file(s)
		return
	}
	var s int32
	if n := len(ix.free); n > 0 {
		s = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		s = int32(len(ix.offs))
		ix.offs = append(ix.offs, noFeat)
		ix.slotID = append(ix.slotID, "")
	}
	ix.slotID[s] = r.ID
	ix.store(s, f)
	ix.ids[r.ID] = s
	ix.file(s)
}

// Delete removes the record with this ID, if any.
func (ix *Index) Delete(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s, ok := ix.ids[id]
	if !ok {
		return
	}
	ix.unfile(s)
	delete(ix.ids, id)
	ix.garbage += len(ix.feat(s))
	ix.offs[s] = noFeat
	ix.slotID[s] = ""
	ix.free = append(ix.free, s)
}

// file adds slot s to the postings and frequency tables; the caller holds the write lock.
func (ix *Index) file(s int32) {
	f := ix.feat(s)
	for _, k := range ix.e.keys(f, false, nil) {
		l := ix.post[k.key]
		if n := len(l); n > 0 && l[n-1] == s {
			continue
		}
		ix.post[k.key] = append(l, s)
	}
	ix.tf.addRecord(ix.e, f, 1)
}

// unfile removes slot s from the postings and frequency tables.
func (ix *Index) unfile(s int32) {
	f := ix.feat(s)
	for _, k := range ix.e.keys(f, false, nil) {
		l := ix.post[k.key]
		for i, x := range l {
			if x == s {
				l[i] = l[len(l)-1]
				l = l[:len(l)-1]
				break
			}
		}
		if len(l) == 0 {
			delete(ix.post, k.key)
		} else {
			ix.post[k.key] = l
		}
	}
	ix.tf.addRecord(ix.e, f, -1)
}

// Len returns the number of records.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}

// Model returns the current model: the prior until Fit or SetModel. Treat it as read-only.
func (ix *Index) Model() *Model {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.model
}

// SetModel replaces the model (nil restores the prior), for a model fitted elsewhere or
// saved from an earlier Fit.
func (ix *Index) SetModel(m *Model) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if m == nil {
		m = priorModel(ix.e, max(len(ix.ids), 1000))
	}
	ix.setModel(m)
}

func (ix *Index) setModel(m *Model) {
	ix.model = m
	ix.sc = newScorer(ix.e, m)
}

// queryScratch is reused between queries.
type queryScratch struct {
	stamp []uint32 // stamp[slot] == gen: slot already a candidate of this query
	gen   uint32
	keys  []blockKey
	cands []int32
	subs  []*scanScratch // one per core
}

// scanScratch is one core's share of a query.
type scanScratch struct {
	c    *comparer
	fcs  []fieldCmp
	top  []scored
	sum  float64 // sum of 2^weight over the candidates scanned
	sink uint32
}

func (ix *Index) getScratch() *queryScratch {
	qs, _ := ix.scratch.Get().(*queryScratch)
	if qs == nil {
		qs = &queryScratch{}
		for range workers() {
			qs.subs = append(qs.subs, &scanScratch{c: newComparer(ix.e), fcs: make([]fieldCmp, ix.e.nf)})
		}
	}
	if len(qs.stamp) < len(ix.offs) {
		qs.stamp = make([]uint32, len(ix.offs)+len(ix.offs)/4)
		qs.gen = 0
	}
	qs.gen++
	if qs.gen == 0 { // wrapped: old stamps could collide
		clear(qs.stamp)
		qs.gen = 1
	}
	return qs
}

// Query scanning: candidates are compared in batches, each batch first touching every
// record's header so that the memory loads (the records are scattered over a large arena)
// overlap instead of waiting one after another; a query with many candidates is split across
// the cores.
const scanBatch = 32

// parallelScan is the number of candidates from which a query uses every core (a variable so
// that tests can exercise the parallel path on small indexes).
var parallelScan = 8192

// scan compares f with cands into ss: the k best at or above minW, and the sum of 2^weight.
func (ix *Index) scan(ss *scanScratch, f feat, cands []int32, k int, minW float64) {
	ss.top, ss.sum = ss.top[:0], 0
	hdr := uint32(2 * ix.e.nf)
	var offs [scanBatch]uint32
	for i := 0; i < len(cands); i += scanBatch {
		chunk := cands[i:min(i+scanBatch, len(cands))]
		for j, s := range chunk {
			offs[j] = ix.offs[s]
		}
		for j := range chunk {
			ss.sink += ix.arena[offs[j]+hdr]
		}
		for j, s := range chunk {
			off := offs[j]
			n := ix.arena[off+hdr]
			ss.c.compare(f, feat(ix.arena[off:off+n:off+n]), ss.fcs)
			w := ix.sc.total(ss.fcs, ix.tf)
			ss.sum += math.Exp2(w)
			if w >= minW {
				ss.top = ix.pushTop(ss.top, scored{s, w}, k)
			}
		}
	}
}

// scored is a record and its weight.
type scored struct {
	slot int32
	w    float64
}

// Query returns the best k records for r at or above probability minProb, best first (ties by
// ID), each explained. A record with r's own ID is skipped, so a stored report can be queried
// against the index that holds it.
//
// The probability answers "is this the person?" knowing the person is registered at most
// once: even odds that they are in the index at all, spread over its Len() records, and
// shared among the candidates that fit (two records that fit equally well get at most one
// half each). Weight is the pair's own evidence, log2 of its Bayes factor.
func (ix *Index) Query(r Record, k int, minProb float64) []Match {
	if k <= 0 {
		return nil
	}
	f := ix.e.featurize(r.Values)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	qs := ix.getScratch()
	defer ix.scratch.Put(qs)
	n := float64(len(ix.ids))
	// Pairwise, a record needs at least this weight to reach min; the shared probability is
	// never higher, so this prunes safely.
	minW := math.Inf(-1)
	if minProb > 0 {
		minW = logit2(minProb) + math.Log2(n)
	}
	self := int32(-1)
	if s, ok := ix.ids[r.ID]; ok {
		self = s
	}
	qs.cands = qs.cands[:0]
	qs.keys = ix.e.keys(f, true, qs.keys[:0])
	for _, key := range qs.keys {
		list := ix.post[key.key]
		if len(list) > maxQueryBlock {
			continue
		}
		for _, s := range list {
			if qs.stamp[s] != qs.gen && s != self {
				qs.stamp[s] = qs.gen
				qs.cands = append(qs.cands, s)
			}
		}
	}
	subs := qs.subs[:1]
	if len(qs.cands) >= parallelScan {
		subs = qs.subs
	}
	var wg sync.WaitGroup
	per := (len(qs.cands) + len(subs) - 1) / len(subs)
	for w, ss := range subs {
		part := qs.cands[min(w*per, len(qs.cands)):min((w+1)*per, len(qs.cands))]
		if w == len(subs)-1 {
			ix.scan(ss, f, part, k, minW)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix.scan(ss, f, part, k, minW)
		}()
	}
	wg.Wait()
	top := make([]scored, 0, k+1)
	sumBF := 0.0
	for _, ss := range subs {
		sumBF += ss.sum
		for _, t := range ss.top {
			top = ix.pushTop(top, t, k)
		}
	}
	c, fcs := subs[0].c, subs[0].fcs
	out := make([]Match, 0, len(top))
	for _, t := range top {
		p := math.Exp2(t.w) / n / (1 + sumBF/n)
		if p < minProb {
			break
		}
		c.compare(f, ix.feat(t.slot), fcs)
		out = append(out, Match{
			ID:          ix.slotID[t.slot],
			Probability: p,
			Weight:      t.w,
			Fields:      ix.sc.agreements(ix.e, fcs, ix.tf),
		})
	}
	return out
}

// better orders results: higher weight first, then lower ID.
func (ix *Index) better(a, b scored) bool {
	if a.w != b.w {
		return a.w > b.w
	}
	return ix.slotID[a.slot] < ix.slotID[b.slot]
}

// pushTop keeps top sorted best first and at most k long. k is small (a page of matches),
// so insertion into a sorted slice beats a heap.
func (ix *Index) pushTop(top []scored, x scored, k int) []scored {
	if len(top) == k && !ix.better(x, top[k-1]) {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, x, func(e, t scored) int {
		if ix.better(e, t) {
			return -1
		}
		return 1
	})
	top = slices.Insert(top, i, x)
	if len(top) > k {
		top = top[:k]
	}
	return top
}
