package linkage_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"caravana/internal/demo"
	"caravana/internal/linkage"
)

// asOf is the demo caravan's reference date.
var asOf = time.Date(2018, 10, 20, 0, 0, 0, 0, time.UTC)

// personRecord turns a demo description into a record of linkage.PersonFields.
func personRecord(id string, r demo.Report) linkage.Record {
	bd, age := "", ""
	if !r.BirthDate.IsZero() {
		bd = r.BirthDate.Format(time.DateOnly)
	}
	if r.Age >= 0 {
		age = strconv.Itoa(r.Age)
	}
	return linkage.Record{ID: id, Values: []string{r.GivenNames, r.Surnames, bd, age, r.Sex, r.OriginTown, r.Nationality}}
}

func personID(i int) string { return fmt.Sprintf("p%07d", i) }

// registryIndex indexes a demo caravan of n people as the registry holds them.
func registryIndex(tb testing.TB, seed int64, n int) (*linkage.Index, demo.Caravan) {
	tb.Helper()
	c := demo.Generate(seed, n, asOf)
	ix := linkage.NewIndex(linkage.PersonFields)
	ix.SetAsOf(asOf)
	for i, p := range c.People {
		ix.Put(personRecord(personID(i), demo.Describe(p, asOf)))
	}
	return ix, c
}

// prf holds precision, recall and F1.
type prf struct{ P, R, F1 float64 }

func newPRF(tp, found, truth int) prf {
	var x prf
	if found > 0 {
		x.P = float64(tp) / float64(found)
	}
	if truth > 0 {
		x.R = float64(tp) / float64(truth)
	}
	if x.P+x.R > 0 {
		x.F1 = 2 * x.P * x.R / (x.P + x.R)
	}
	return x
}

func (x prf) String() string {
	return fmt.Sprintf("precision %.4f recall %.4f F1 %.4f", x.P, x.R, x.F1)
}

// registryAccuracy files corrupted reports of `reports` random people of the index's caravan
// and scores the top candidate at or above 0.5.
func registryAccuracy(tb testing.TB, ix *linkage.Index, c demo.Caravan, reports int, seed uint64) prf {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	tp, found := 0, 0
	for k := 0; k < reports; k++ {
		i := r.IntN(len(c.People))
		rep := demo.CorruptReport(r, c.People[i], asOf)
		ms := ix.Query(personRecord("report", rep), 1, 0.5)
		if len(ms) == 0 {
			continue
		}
		found++
		if ms[0].ID == personID(i) {
			tp++
		}
	}
	return newPRF(tp, found, reports)
}

// dedupIndex indexes a demo caravan with a share of its people registered twice, and returns
// the true duplicate pairs.
func dedupIndex(tb testing.TB, seed int64, n int, share float64) (*linkage.Index, map[[2]string]bool) {
	tb.Helper()
	ix, c := registryIndex(tb, seed, n)
	r := rand.New(rand.NewPCG(uint64(seed), 11))
	truth := map[[2]string]bool{}
	for i, p := range c.People {
		if r.Float64() >= share {
			continue
		}
		dup := "d" + personID(i)[1:]
		ix.Put(personRecord(dup, demo.CorruptDuplicate(r, p, asOf)))
		a, b := dup, personID(i)
		if a > b {
			a, b = b, a
		}
		truth[[2]string{a, b}] = true
	}
	return ix, truth
}

func dedupAccuracy(ix *linkage.Index, truth map[[2]string]bool) prf {
	ds := ix.Duplicates(0.5, 0)
	tp := 0
	for _, d := range ds {
		if truth[[2]string{d.A, d.B}] {
			tp++
		}
	}
	return newPRF(tp, len(ds), len(truth))
}
