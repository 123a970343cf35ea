package replication_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/demo"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/replication"
)

// benchSource fills a founding node with about total events the way a
// caravan makes them: the demo caravan of 7,200 people (registrations and
// households), then check-ins of those people at the route's checkpoints,
// one day after another, appended in large batches (one commit each).
//
// CARAVANA_BENCH_SOURCE=DIR keeps the source node in DIR and reuses it on
// the next run (making a million events takes minutes; syncing them is
// what is measured).
func benchSource(b *testing.B, total int) *node.Node {
	b.Helper()
	ctx := context.Background()
	var a *node.Node
	if dir := os.Getenv("CARAVANA_BENCH_SOURCE"); dir != "" {
		cfg := node.Config{Dir: dir, Passphrase: e2ePass, KDF: e2eKDF, PasswordKDF: e2eKDF}
		if _, err := os.Stat(filepath.Join(dir, crypto.KeyFileName)); err == nil {
			var err error
			if a, err = node.Open(ctx, cfg); err != nil {
				b.Fatal(err)
			}
		} else {
			var err error
			if a, err = node.Init(ctx, cfg, node.InitOptions{Name: "front", AdminUser: "ana", AdminPassword: "long enough pw"}); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { a.Close() })
	} else {
		a = e2eFounder(b)
	}
	op := auth.Operator("bench")
	if v, err := a.Ledger.Vector(ctx); err == nil && int(v[a.Keys.NodeID]) >= total {
		return a
	}
	start := time.Now()
	c := demo.Generate(1, 7200, time.Now())
	if _, err := demo.Load(ctx, a.Registry, a.Ledger, op, c); err != nil {
		b.Fatal(err)
	}
	people, err := a.Registry.RegistrationOrder(ctx, op)
	if err != nil {
		b.Fatal(err)
	}
	stages := journey.DefaultRoute().Stages
	held := func() int {
		v, err := a.Ledger.Vector(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return int(v[a.Keys.NodeID])
	}
	day := time.Now().Add(-90 * 24 * time.Hour)
	const batch = 10_000
	seen := make([]journey.Seen, 0, batch)
	for n, round := held(), 0; n < total; round++ {
		stage := stages[round%len(stages)].ID
		at := day.Add(time.Duration(round) * time.Hour)
		for i, p := range people {
			if n+len(seen) >= total {
				break
			}
			seen = append(seen, journey.Seen{Person: p, At: at.Add(time.Duration(i) * 100 * time.Millisecond)})
			if len(seen) == batch || i == len(people)-1 || n+len(seen) == total {
				drafts, err := a.Journey.PrepareCheckins(ctx, op, stage, seen)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.Ledger.Append(ctx, op.Actor(), drafts); err != nil {
					b.Fatal(err)
				}
				n += len(seen)
				seen = seen[:0]
			}
		}
	}
	b.Logf("source: %d events of %d people made in %s", held(), len(people), time.Since(start).Round(time.Second))
	return a
}

// benchSink makes an empty node of a's organisation, enrolled by a (as an
// invitation would, without the join's own first sync).
func benchSink(b *testing.B, a *node.Node) *node.Node {
	b.Helper()
	ctx := context.Background()
	keys, err := crypto.NewKeys(e2eKDF)
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.Join(ctx, e2eConfig(b, ""), keys, e2ePass, a.Keys.KeyID, a.Keys.DataKey)
	if err != nil {
		b.Fatal(err)
	}
	founder, err := a.Ledger.Founder(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Ledger.Trust(ctx, founder); err != nil {
		b.Fatal(err)
	}
	// As a join does: the inviter's key, until its enrolment arrives.
	if err := replication.UpdatePeer(ctx, n.Store, a.Keys.NodeID, func(p *replication.Peer) { p.Key = a.Ledger.PublicKey() }); err != nil {
		b.Fatal(err)
	}
	if err := a.Ledger.Enrol(ctx, "bench", ledger.NodeInfo{ID: keys.NodeID, Name: "sink",
		SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkSyncMillion: 1,000,000 events from one node to an empty one
// over loopback HTTP, through the real web handler, SQLite on both sides
// (target < 30 s on 2 cores). Reports seconds, events per second and body
// bytes on the wire per event, with gzip (the default) and plain, and how
// much of the time went to applying the batches (Ledger.Import) and to
// waiting for the peer's answers.
//
// Environment: CARAVANA_BENCH_EVENTS sets another size; CARAVANA_BENCH_SOURCE
// keeps the source node between runs (see benchSource);
// CARAVANA_BENCH_BATCH sets the events per request; CARAVANA_BENCH_PROFILE=F
// writes a CPU profile of each sync alone to F.gzip and F.plain.
func BenchmarkSyncMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("a million events: not in -short")
	}
	total := 1_000_000
	if s := os.Getenv("CARAVANA_BENCH_EVENTS"); s != "" {
		var err error
		if total, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	a := benchSource(b, total)
	srv := e2eServe(b, a, false)
	for _, plain := range []bool{false, true} {
		name := "gzip"
		if plain {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			var rep replication.Report
			for range b.N {
				b.StopTimer()
				sink := benchSink(b, a)
				b.StartTimer()
				var prof *os.File
				if f := os.Getenv("CARAVANA_BENCH_PROFILE"); f != "" {
					var err error
					if prof, err = os.Create(f + "." + name); err != nil {
						b.Fatal(err)
					}
					pprof.StartCPUProfile(prof)
				}
				var err error
				rep, err = (&replication.Client{Plain: plain, Batch: benchBatch()}).Sync(context.Background(), sink, srv.URL, nil)
				b.StopTimer()
				if prof != nil {
					pprof.StopCPUProfile()
					prof.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
				if rep.Pulled < total || len(rep.Rejected) > 0 {
					b.Fatalf("moved %d events (%d refused), want at least %d", rep.Pulled, len(rep.Rejected), total)
				}
				sink.Close()
				b.StartTimer()
			}
			secs := rep.Took.Seconds()
			b.ReportMetric(secs, "s/sync")
			b.ReportMetric(float64(rep.Pulled)/secs, "events/s")
			b.ReportMetric(float64(rep.BytesReceived+rep.BytesSent)/float64(rep.Pulled), "B/event")
			b.ReportMetric(rep.Importing.Seconds(), "s-importing")
			b.ReportMetric(rep.Waiting.Seconds(), "s-waiting")
			b.Logf("%s: %d events in %s (%d requests, %s received)", name, rep.Pulled, rep.Took.Round(time.Millisecond),
				rep.Requests, fmt.Sprintf("%.1f MB", float64(rep.BytesReceived)/1e6))
		})
	}
}

func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("CARAVANA_BENCH_BATCH"))
	return n
}
