package linkage_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"caravana/internal/demo"
	"caravana/internal/linkage"
)

// TestAccuracyFloor catches regressions on small samples, far below the targets the
// benchmarks measure (F1 >= 0.95 on the whole demo caravan).
func TestAccuracyFloor(t *testing.T) {
	ix, c := registryIndex(t, 11, 1000)
	if _, err := ix.Fit(); err != nil {
		t.Fatal(err)
	}
	reg := registryAccuracy(t, ix, c, 300, 11)
	t.Logf("registry match, 300 reports against 1,000 people: %v", reg)
	if reg.F1 < 0.85 {
		t.Errorf("registry F1 %.3f, want at least 0.85", reg.F1)
	}
	dx, truth := dedupIndex(t, 12, 1000, 0.05)
	if _, err := dx.Fit(); err != nil {
		t.Fatal(err)
	}
	dd := dedupAccuracy(dx, truth)
	t.Logf("dedup, 1,000 people and %d registered twice: %v", len(truth), dd)
	if dd.F1 < 0.85 {
		t.Errorf("dedup F1 %.3f, want at least 0.85", dd.F1)
	}
}

// TestPairsCompleteness measures what blocking loses: the share of true pairs that at least
// one blocking rule proposes (FEBRL-shaped link, and the demo caravan with duplicates).
func TestPairsCompleteness(t *testing.T) {
	left, right := febrlFiles(1, 2000)
	blocked, err := linkage.BlockedPairs(febrlFields, left, right, false, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, r := range right {
		pos[r.ID] = i
	}
	found := 0
	for i, l := range left {
		if blocked[[2]int{i, pos[l.ID[:len(l.ID)-len("-org")]+"-dup-0"]}] {
			found++
		}
	}
	fc := float64(found) / float64(len(left))
	t.Logf("FEBRL-shaped 2000x2000: pairs completeness %.4f with %d candidates (reduction %.4f)",
		fc, len(blocked), 1-float64(len(blocked))/float64(len(left)*len(right)))
	if fc < 0.98 {
		t.Errorf("pairs completeness %.4f, want at least 0.98", fc)
	}

	c := demo.Generate(13, 3000, asOf)
	r := rand.New(rand.NewPCG(13, 1))
	var recs []linkage.Record
	var truth [][2]int
	for i, p := range c.People {
		orig := len(recs)
		recs = append(recs, personRecord(personID(i), demo.Describe(p, asOf)))
		if r.IntN(10) == 0 {
			truth = append(truth, [2]int{orig, len(recs)})
			recs = append(recs, personRecord("d"+personID(i), demo.CorruptDuplicate(r, p, asOf)))
		}
	}
	blocked, err = linkage.BlockedPairs(linkage.PersonFields, recs, recs, true, asOf)
	if err != nil {
		t.Fatal(err)
	}
	found = 0
	for _, p := range truth {
		if blocked[p] {
			found++
		}
	}
	fc = float64(found) / float64(len(truth))
	t.Logf("demo caravan dedup, %d records: pairs completeness %.4f with %d candidates", len(recs), fc, len(blocked))
	if fc < 0.98 {
		t.Errorf("pairs completeness %.4f, want at least 0.98", fc)
	}
}

// BenchmarkAccuracyRegistry files corrupted missing-person reports about people of the demo
// caravan (7,200 people, and a 100,000-person registry) against it, fitted without labels,
// and reports precision, recall and F1 of the top candidate at or above 0.5.
func BenchmarkAccuracyRegistry(b *testing.B) {
	for _, n := range []int{7200, 100_000} {
		b.Run(fmt.Sprintf("people=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("large registry")
			}
			ix, c := registryIndex(b, 1, n)
			if _, err := ix.Fit(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var x prf
			for i := 0; i < b.N; i++ {
				x = registryAccuracy(b, ix, c, 3000, uint64(i+1))
			}
			b.StopTimer()
			b.ReportMetric(x.P, "precision")
			b.ReportMetric(x.R, "recall")
			b.ReportMetric(x.F1, "F1")
			b.Logf("registry match, 3,000 reports against %d people: %v", n, x)
		})
	}
}

// BenchmarkAccuracyDedup registers 5% of the demo caravan twice (CorruptDuplicate), fits
// without labels and reports precision, recall and F1 of Index.Duplicates at 0.5; the timer
// covers Fit and Duplicates.
func BenchmarkAccuracyDedup(b *testing.B) {
	for _, n := range []int{7200, 100_000} {
		b.Run(fmt.Sprintf("people=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("large registry")
			}
			var x prf
			var dups int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dx, truth := dedupIndex(b, int64(2+i), n, 0.05)
				b.StartTimer()
				if _, err := dx.Fit(); err != nil {
					b.Fatal(err)
				}
				x = dedupAccuracy(dx, truth)
				dups = len(truth)
			}
			b.ReportMetric(x.P, "precision")
			b.ReportMetric(x.R, "recall")
			b.ReportMetric(x.F1, "F1")
			b.Logf("dedup, %d people and %d registered twice: %v", n, dups, x)
		})
	}
}
