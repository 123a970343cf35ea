package demo_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
)

// BenchmarkFill7200 measures the caravan part of `caravana demo`: Generate
// and Fill (Load, Travel and Supplies) on a node with cheap keys. The node
// is made outside the timer; BenchmarkDemoCommand in internal/cli measures
// the whole command, keys included.
func BenchmarkFill7200(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	op := auth.Operator("bench")
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		n := newNode(b)
		b.StartTimer()
		start := time.Now()
		c := demo.Generate(1, 7200, now)
		if _, err := demo.Fill(ctx, services(n), op, c, 1, now); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s/caravan")
}
