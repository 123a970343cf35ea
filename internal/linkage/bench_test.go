package linkage_test

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"caravana/internal/demo"
	"caravana/internal/linkage"
)

// millionIndex is built once per test binary: a million demo people, indexed and fitted.
type millionIndex struct {
	ix      *linkage.Index
	c       demo.Caravan
	build   time.Duration // Put of every person, then Fit
	indexMB float64       // heap held by the index alone
}

var million = sync.OnceValue(func() millionIndex {
	c := demo.Generate(42, 1_000_000, asOf)
	before := heapMB()
	start := time.Now()
	ix := linkage.NewIndex(linkage.PersonFields)
	ix.SetAsOf(asOf)
	for i, p := range c.People {
		ix.Put(personRecord(personID(i), demo.Describe(p, asOf)))
	}
	if _, err := ix.Fit(); err != nil {
		panic(err)
	}
	build := time.Since(start)
	return millionIndex{ix: ix, c: c, build: build, indexMB: heapMB() - before}
})

// heapMB is the live heap after a collection.
func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkQueryMillion measures a missing-person query (a corrupted report, top 10) against
// a million registered people, and reports latency percentiles and the heap the index holds.
// Building the million (about half a minute) happens once, outside the timer.
func BenchmarkQueryMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million-person index")
	}
	m := million()
	ix, c := m.ix, m.c
	runtime.GC()

	r := rand.New(rand.NewPCG(3, 4))
	const pool = 2000
	reports := make([]linkage.Record, pool)
	who := make([]int, pool)
	for i := range reports {
		who[i] = r.IntN(len(c.People))
		reports[i] = personRecord("q", demo.CorruptReport(r, c.People[who[i]], asOf))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		ix.Query(reports[i%pool], 10, 0)
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	// The same reports, scored: at a million the prior is steeper and namesakes many.
	tp, found := 0, 0
	for i, rep := range reports {
		if ms := ix.Query(rep, 1, 0.5); len(ms) > 0 {
			found++
			if ms[0].ID == personID(who[i]) {
				tp++
			}
		}
	}
	x := newPRF(tp, found, pool)
	b.ReportMetric(x.F1, "F1")
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(m.indexMB, "index-MB")
	b.Logf("1M people indexed and fitted in %v; the index holds %.0f MB of heap; %d queries; registry match %v",
		m.build.Round(time.Millisecond), m.indexMB, len(lat), x)
}
