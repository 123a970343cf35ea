package journey_test

import (
	"sync/atomic"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/journey"
	"caravana/internal/node"
)

// travelledCaravan is the demo caravan of 7,200 people after its first
// week on the road (four checkpoints, a few hundred missing at the river).
func travelledCaravan(b *testing.B) (*node.Node, demo.Caravan) {
	b.Helper()
	n := newNode(b)
	op := auth.Operator("bench")
	c := demo.Generate(1, 7200, time.Now())
	if _, err := demo.Load(ctx, n.Registry, n.Ledger, op, c); err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Travel(ctx, n.Journey, n.Registry, n.Ledger, op, c, demo.TravelOptions{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return n, c
}

// BenchmarkMissing7200 measures the missing list for the latest checkpoint
// of the travelled demo caravan (target: under 100 ms), as ids and facts,
// and with every name shown and audited.
func BenchmarkMissing7200(b *testing.B) {
	n, _ := travelledCaravan(b)
	for _, tc := range []struct {
		name  string
		q     journey.MissingQuery
		names bool
	}{{"ids", journey.MissingQuery{}, false}, {"names", journey.MissingQuery{Names: true}, true}} {
		b.Run(tc.name, func(b *testing.B) {
			var l journey.MissingList
			for b.Loop() {
				var err error
				if l, err = n.Journey.Missing(ctx, auth.Operator("bench"), tc.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(l.MissingPeople), "missing")
			b.ReportMetric(float64(len(l.Households)), "households")
		})
	}
}

// BenchmarkHeadcounts7200 measures the headcount table over the same caravan.
func BenchmarkHeadcounts7200(b *testing.B) {
	n, _ := travelledCaravan(b)
	for b.Loop() {
		if _, err := n.Journey.Headcounts(ctx, auth.Operator("bench"), journey.HeadcountQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckinConcurrent measures durable check-ins per second through
// the service (not yet HTTP) with 200 concurrent clients, each scan a new
// (person, stage) pair with its glance audited in the same commit.
func BenchmarkCheckinConcurrent(b *testing.B) {
	n := newNode(b)
	op := auth.Operator("bench")
	c := demo.Generate(2, 2000, time.Now())
	if _, err := demo.Load(ctx, n.Registry, n.Ledger, op, c); err != nil {
		b.Fatal(err)
	}
	people, err := n.Registry.RegistrationOrder(ctx, op)
	if err != nil {
		b.Fatal(err)
	}
	stages := journey.DefaultRoute().Stages
	var next atomic.Int64
	b.SetParallelism(100) // x GOMAXPROCS(2) = 200 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			p, st := people[i%len(people)], stages[(i/len(people))%len(stages)]
			if _, err := n.Journey.CheckIn(ctx, op, st.ID, journey.CheckinInput{PersonRef: journey.PersonRef{Person: p}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkins/s")
}
