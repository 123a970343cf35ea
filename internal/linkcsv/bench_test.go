package linkcsv

import (
	"path/filepath"
	"testing"
)

// TestLinkFebrlLike links 1,000 generated FEBRL-like records to their
// corrupted duplicates end to end (files in, pairs file out) and holds a
// floor well below the 0.95 target, so that only a real regression fails
// it; BenchmarkLink5000 reports the full-size figures.
func TestLinkFebrlLike(t *testing.T) {
	left, right := writeLinkFiles(t, 1000)
	out := filepath.Join(t.TempDir(), "pairs.csv")
	s, err := Run(Config{Left: left, Right: right, Out: out, Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	q := scorePairs(t, out, 1000)
	t.Logf("%s; %s", s, q)
	if q.f1() < 0.85 {
		t.Errorf("F1 %.3f on FEBRL-like data, want at least 0.85: %s", q.f1(), q)
	}
	if s.Pairs != q.tp+q.fp || s.Inputs[0].Records != 1000 || s.Inputs[1].Records != 1000 || len(s.Fields) != 10 {
		t.Errorf("summary %+v disagrees with the output", s)
	}
}

func TestDedupFebrlLike(t *testing.T) {
	recs := febrlDedup(5, 700)
	in := filepath.Join(t.TempDir(), "dataset.csv")
	writeFebrl(t, in, recs)
	out := filepath.Join(t.TempDir(), "pairs.csv")
	s, err := Run(Config{Left: in, Out: out, Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	q := scorePairs(t, out, dedupTruth(recs))
	t.Logf("%s; %s", s, q)
	if q.f1() < 0.8 {
		t.Errorf("dedup F1 %.3f on FEBRL-like data, want at least 0.8: %s", q.f1(), q)
	}
}

// BenchmarkLink5000 is the FEBRL4-sized run: 5,000 originals against
// 5,000 corrupted duplicates, from reading both files to writing the
// pairs, with precision, recall and F1 at the default threshold.
func BenchmarkLink5000(b *testing.B) {
	left, right := writeLinkFiles(b, 5000)
	out := filepath.Join(b.TempDir(), "pairs.csv")
	var s *Summary
	var err error
	for b.Loop() {
		if s, err = Run(Config{Left: left, Right: right, Out: out, Threshold: 0.5}); err != nil {
			b.Fatal(err)
		}
	}
	q := scorePairs(b, out, 5000)
	b.ReportMetric(q.precision(), "precision")
	b.ReportMetric(q.recall(), "recall")
	b.ReportMetric(q.f1(), "F1")
	b.ReportMetric(float64(s.Candidates), "candidates")
}

// BenchmarkDedup5000 finds the duplicates in one FEBRL-like file of about
// 5,000 records (3,500 originals, 30% of them with one to three
// duplicates).
func BenchmarkDedup5000(b *testing.B) {
	recs := febrlDedup(2, 3500)
	in := filepath.Join(b.TempDir(), "dataset.csv")
	writeFebrl(b, in, recs)
	out := filepath.Join(b.TempDir(), "pairs.csv")
	var s *Summary
	var err error
	for b.Loop() {
		if s, err = Run(Config{Left: in, Out: out, Threshold: 0.5}); err != nil {
			b.Fatal(err)
		}
	}
	q := scorePairs(b, out, dedupTruth(recs))
	b.ReportMetric(q.precision(), "precision")
	b.ReportMetric(q.recall(), "recall")
	b.ReportMetric(q.f1(), "F1")
	b.ReportMetric(float64(s.Candidates), "candidates")
	b.ReportMetric(float64(len(recs)), "records")
}
