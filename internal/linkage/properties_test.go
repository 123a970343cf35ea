package linkage

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Generators of person rows from a small vocabulary full of near misses: nicknames, spelling
// variants, swapped and missing surnames, day/month swaps, approximate ages.
var (
	genGiven = rapid.SampledFrom([]string{"José", "Pepe", "Jose", "José Luis", "Luis", "Chema", "José María",
		"María", "Maria José", "Majo", "Beto", "Roberto", "Alberto", "J", "Ana", "Ana María", ""})
	genSurnames = rapid.SampledFrom([]string{"Hernández López", "López Hernández", "Hernandez", "Ernandes Lopez",
		"Hernández y López", "Velásquez", "Belasques Cruz", "Cruz", "García Pérez", "Garsia", ""})
	genDate = rapid.SampledFrom([]string{"1985-03-14", "1985-04-03", "14/03/1985", "1985-03-17", "1986-03-14",
		"1985", "1990-07-01", ""})
	genAge  = rapid.SampledFrom([]string{"33", "30", "35", "28", "5", ""})
	genSex  = rapid.SampledFrom([]string{"F", "M", ""})
	genTown = rapid.SampledFrom([]string{"San Pedro Sula", "Sula", "Choloma", "Tegucigalpa", "Tegucigalpa, FM", ""})
	genNat  = rapid.SampledFrom([]string{"HN", "GT", ""})
)

func genPerson(t *rapid.T, label string) []string {
	return []string{genGiven.Draw(t, label+"given"), genSurnames.Draw(t, label+"surnames"), genDate.Draw(t, label+"date"),
		genAge.Draw(t, label+"age"), genSex.Draw(t, label+"sex"), genTown.Draw(t, label+"town"), genNat.Draw(t, label+"nat")}
}

// otherFields exercises the kinds PersonFields lacks, with arbitrary strings mixed in.
var otherFields = []Field{{"code", KindCode}, {"num", KindNumber}, {"text", KindText}, {"place", KindPlace}, {"cat", KindCategory}}

func genOther(t *rapid.T, label string) []string {
	any := func(vals ...string) *rapid.Generator[string] {
		return rapid.OneOf(rapid.SampledFrom(vals), rapid.String())
	}
	return []string{
		any("2000", "2001", "2100", "").Draw(t, label+"code"),
		any("12", "012", "13", "").Draw(t, label+"num"),
		any("12 wattle street", "wattel street", "wattle road", "").Draw(t, label+"text"),
		any("Choloma", "Cholome", "Choloma, Cortés", "").Draw(t, label+"place"),
		any("F", "femenino", "M", "").Draw(t, label+"cat"),
	}
}

func TestCompareSymmetric(t *testing.T) {
	for _, schema := range []struct {
		fields []Field
		gen    func(*rapid.T, string) []string
	}{{PersonFields, genPerson}, {otherFields, genOther}} {
		e, err := newEngine(schema.fields, testAsOf)
		if err != nil {
			t.Fatal(err)
		}
		rapid.Check(t, func(t *rapid.T) {
			tf := newTFTables(e.nf)
			for i := range 5 {
				tf.addRecord(e, e.featurize(schema.gen(t, fmt.Sprint("bg", i))), 1)
			}
			a, b := e.featurize(schema.gen(t, "a")), e.featurize(schema.gen(t, "b"))
			tf.addRecord(e, a, 1)
			tf.addRecord(e, b, 1)
			c := newComparer(e)
			ab, ba := make([]fieldCmp, e.nf), make([]fieldCmp, e.nf)
			c.compare(a, b, ab)
			c.compare(b, a, ba)
			sc := newScorer(e, priorModel(e, 7))
			for i := range ab {
				if ab[i].level != ba[i].level || ab[i].swapped != ba[i].swapped {
					t.Fatalf("field %s: a~b level %d swapped %v, b~a level %d swapped %v",
						e.fields[i].Name, ab[i].level, ab[i].swapped, ba[i].level, ba[i].swapped)
				}
				if wa, wb := sc.fieldWeight(i, ab, tf), sc.fieldWeight(i, ba, tf); wa != wb {
					t.Fatalf("field %s: weight %v one way, %v the other", e.fields[i].Name, wa, wb)
				}
			}
		})
	}
}

func TestPosteriorInRange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := rapid.Float64Range(-1e4, 1e4).Draw(t, "w")
		lambda := rapid.Float64Range(0, 1).Draw(t, "lambda")
		p := posterior(w, lambda)
		if !(p >= 0 && p <= 1) {
			t.Fatalf("posterior(%v, %v) = %v", w, lambda, p)
		}
	})
}

// TestIndexMatchesBruteForce runs random Put and Delete sequences and checks every query
// against a scan of all live records: the same weights, the right order, no deleted or stale
// record, and every strong match found despite blocking. Half the runs split each query
// across the cores, as a large index does.
func TestIndexMatchesBruteForce(t *testing.T) {
	const strong = 25 // bits: a record this close must share a blocking key with the query
	defer func(p int) { parallelScan = p }(parallelScan)
	rapid.Check(t, func(t *rapid.T) {
		parallelScan = rapid.SampledFrom([]int{1, 8192}).Draw(t, "parallelScan")
		ix := NewIndex(PersonFields)
		ix.SetAsOf(testAsOf)
		live := map[string][]string{}
		for i, n := 0, rapid.IntRange(1, 40).Draw(t, "ops"); i < n; i++ {
			id := fmt.Sprintf("r%d", rapid.IntRange(0, 14).Draw(t, "id"))
			if rapid.IntRange(0, 4).Draw(t, "op") == 0 {
				ix.Delete(id)
				delete(live, id)
				continue
			}
			v := genPerson(t, "put")
			ix.Put(Record{ID: id, Values: v})
			live[id] = v
		}
		if ix.Len() != len(live) {
			t.Fatalf("Len() = %d, want %d", ix.Len(), len(live))
		}
		q := Record{ID: "query", Values: genPerson(t, "q")}
		got := ix.Query(q, 100, 0)

		// The brute force: every live record, compared and weighed the index's way.
		e := ix.e
		fq := e.featurize(q.Values)
		c := newComparer(e)
		fcs := make([]fieldCmp, e.nf)
		want := map[string]float64{}
		for id, v := range live {
			c.compare(fq, e.featurize(v), fcs)
			want[id] = ix.sc.total(fcs, ix.tf)
		}
		seen := map[string]bool{}
		for i, m := range got {
			w, ok := want[m.ID]
			if !ok {
				t.Fatalf("Query returned %s, which is not in the index", m.ID)
			}
			if math.Abs(w-m.Weight) > 1e-9 {
				c.compare(fq, e.featurize(live[m.ID]), fcs)
				t.Fatalf("%s: Query weight %v %v, brute force %v %v", m.ID, m.Weight, m.Fields, w, ix.sc.agreements(e, fcs, ix.tf))
			}
			if m.Probability < 0 || m.Probability > 1 || len(m.Fields) != len(PersonFields) {
				t.Fatalf("%s: probability %v, %d fields", m.ID, m.Probability, len(m.Fields))
			}
			if i > 0 {
				prev := got[i-1]
				if prev.Weight < m.Weight || (prev.Weight == m.Weight && prev.ID > m.ID) || prev.Probability < m.Probability {
					t.Fatalf("results out of order: %+v before %+v", prev, m)
				}
			}
			seen[m.ID] = true
		}
		for id, w := range want {
			if w >= strong && !seen[id] {
				t.Fatalf("%s (weight %.1f) not found: %q vs %q", id, w, live[id], q.Values)
			}
		}
		// A smaller k is a prefix; a probability floor cuts the tail.
		top := ix.Query(q, 3, 0)
		for i := range top {
			if top[i].ID != got[i].ID {
				t.Fatalf("Query(k=3)[%d] = %s, Query(k=100)[%d] = %s", i, top[i].ID, i, got[i].ID)
			}
		}
		for _, m := range ix.Query(q, 100, 0.5) {
			if m.Probability < 0.5 {
				t.Fatalf("Query(min 0.5) returned %s at %v", m.ID, m.Probability)
			}
		}
	})
}

// TestLinkOrderIndependent shuffles the inputs of Link and Dedup: the pairs and their
// probabilities must not move.
func TestLinkOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mk := func(prefix string, n int) []Record {
			out := make([]Record, n)
			for i := range out {
				out[i] = Record{ID: fmt.Sprintf("%s%d", prefix, i), Values: genPerson(t, prefix)}
			}
			return out
		}
		left := mk("L", rapid.IntRange(2, 12).Draw(t, "nl"))
		right := mk("R", rapid.IntRange(2, 12).Draw(t, "nr"))
		opt := Options{Threshold: 1e-9, AsOf: testAsOf}
		key := func(res Result, l, r []Record) map[[2]string]float64 {
			m := map[[2]string]float64{}
			for _, p := range res.Pairs {
				a, b := l[p.Left].ID, r[p.Right].ID
				if a > b && &l[0] == &r[0] {
					a, b = b, a
				}
				m[[2]string{a, b}] = p.Probability
			}
			return m
		}
		same := func(what string, x, y map[[2]string]float64) {
			if len(x) != len(y) {
				t.Fatalf("%s: %d pairs, then %d after shuffling", what, len(x), len(y))
			}
			for k, p := range x {
				if q, ok := y[k]; !ok || math.Abs(p-q) > 1e-9 {
					t.Fatalf("%s: pair %v probability %v, then %v (present %v)", what, k, p, q, ok)
				}
			}
		}
		res1, err := Link(PersonFields, left, right, opt)
		if err != nil {
			t.Fatal(err)
		}
		l2 := rapid.Permutation(left).Draw(t, "l2")
		r2 := rapid.Permutation(right).Draw(t, "r2")
		res2, err := Link(PersonFields, l2, r2, opt)
		if err != nil {
			t.Fatal(err)
		}
		if res1.Candidates != res2.Candidates {
			t.Fatalf("Link: %d candidates, then %d", res1.Candidates, res2.Candidates)
		}
		same("Link", key(res1, left, right), key(res2, l2, r2))
		for _, p := range res1.Pairs {
			if p.Probability < 0 || p.Probability > 1 {
				t.Fatalf("probability %v", p.Probability)
			}
		}

		all := append(slices.Clone(left), right...)
		d1, err := Dedup(PersonFields, all, opt)
		if err != nil {
			t.Fatal(err)
		}
		all2 := rapid.Permutation(all).Draw(t, "all2")
		d2, err := Dedup(PersonFields, all2, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range d1.Pairs {
			if p.Left >= p.Right {
				t.Fatalf("Dedup pair %d,%d: want Left < Right", p.Left, p.Right)
			}
		}
		same("Dedup", key(d1, all, all), key(d2, all2, all2))
	})
}
