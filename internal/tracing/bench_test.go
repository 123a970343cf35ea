package tracing_test

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"caravana/internal/demo"
	"caravana/internal/node"
	"caravana/internal/tracing"
)

// demoAsOf is the day the demo caravan is generated for and reported on.
var demoAsOf = time.Date(2018, 10, 25, 0, 0, 0, 0, time.UTC)

// reportFrom turns a corrupted demo description into a report.
func reportFrom(d demo.Report) tracing.ReportInput {
	in := tracing.ReportInput{GivenNames: d.GivenNames, Surnames: d.Surnames, Sex: d.Sex, Nationality: d.Nationality,
		OriginTown: d.OriginTown, Relation: "relative"}
	if !d.BirthDate.IsZero() {
		in.BirthDate = d.BirthDate.Format(time.DateOnly)
	}
	if d.Age >= 0 {
		in.Age = age(d.Age)
	}
	return in
}

type scored struct{ tp, fp, fn int }

func (s scored) metrics(b *testing.B, prefix string) {
	p := float64(s.tp) / float64(max(1, s.tp+s.fp))
	r := float64(s.tp) / float64(max(1, s.tp+s.fn))
	b.ReportMetric(p, prefix+"precision")
	b.ReportMetric(r, prefix+"recall")
	b.ReportMetric(2*p*r/max(1e-9, p+r), prefix+"F1")
}

func percentile(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
}

// BenchmarkTracingDemo runs the whole tracing path on the demo caravan of
// 7,200 people in a real node: relatives' reports corrupted the way real
// ones differ (demo.CorruptReport) are recorded through Service.Report,
// which matches them at once; a report counts as found when its first
// candidate, at 0.5 or more, is the person described. It prints
// precision, recall and F1 of that, and the latency of Service.Matches
// (index query, reads of the candidates, durable audit) per report.
//
//	go test ./internal/tracing -run '^$' -bench TracingDemo -benchtime 200x
func BenchmarkTracingDemo(b *testing.B) {
	n := newNode(b)
	tracing.SetNow(n.Tracing, func() time.Time { return demoAsOf })
	c := demo.Generate(1, 7200, demoAsOf)
	loaded, err := demo.Load(ctx, n.Registry, n.Ledger, coord, c)
	if err != nil {
		b.Fatal(err)
	}
	// The first look loads the index and starts fitting the model.
	if _, _, err := n.Tracing.List(ctx, vol, tracing.StatusOpen, 0, 1); err != nil {
		b.Fatal(err)
	}
	waitFitted(b, n)
	rng := rand.New(rand.NewPCG(7, 7))
	const reports = 300
	var s scored
	var ids []string
	var took []time.Duration
	for range reports {
		i := rng.IntN(len(c.People))
		if i%23 == 0 {
			continue // no consent to tracing (demo.Load): never offered
		}
		start := time.Now()
		r, cands, err := n.Tracing.Report(ctx, vol, reportFrom(demo.CorruptReport(rng, c.People[i], demoAsOf)))
		took = append(took, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, r.ID)
		var top *tracing.Candidate
		for k := range cands {
			if cands[k].Kind == tracing.CandidatePerson {
				top = &cands[k]
				break
			}
		}
		switch {
		case top == nil || top.Probability < 0.5:
			s.fn++
		case top.ID == loaded.IDs[i]:
			s.tp++
		default:
			s.fp++
			s.fn++
		}
	}
	b.ResetTimer()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := n.Tracing.Matches(ctx, vol, ids[i%len(ids)], 10, tracing.DefaultMin); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	s.metrics(b, "match-")
	b.ReportMetric(percentile(took, 0.5), "report-p50-ms")
	b.ReportMetric(percentile(lat, 0.5), "matches-p50-ms")
	b.ReportMetric(percentile(lat, 0.95), "matches-p95-ms")
}

// waitFitted gives the background model fit a moment to finish, so the
// timed part measures queries, not a fit running beside them.
func waitFitted(b *testing.B, n *node.Node) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !tracing.Fitted(n.Tracing) {
		time.Sleep(50 * time.Millisecond)
	}
}
