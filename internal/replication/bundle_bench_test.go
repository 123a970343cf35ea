package replication

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/ledger"
	"caravana/internal/node"
)

// bundleBenchLog appends count events to n, shaped like the demo
// caravan's log after a week on the road: 72% check-ins (a 71-byte
// body), 19% registrations (about 1 KB of sealed fields), 9% households
// (233 bytes). Their kinds are unknown to the projections, so the log
// grows fast; the import figure therefore leaves out projecting them.
func bundleBenchLog(b *testing.B, n *node.Node, count int) {
	b.Helper()
	sealed := func(size int) string {
		raw := make([]byte, size)
		rand.Read(raw)
		return "s1.6354191d." + base64.RawURLEncoding.EncodeToString(raw)
	}
	hexID := func() string {
		raw := make([]byte, 8)
		rand.Read(raw)
		return fmt.Sprintf("%x", raw)
	}
	var drafts []ledger.Draft
	for i := range count {
		var d ledger.Draft
		switch r := i % 100; {
		case r < 72:
			d = ledger.Draft{Kind: "bench.checkin", Subject: "person/" + hexID(),
				Body: json.RawMessage(fmt.Sprintf(`{"stage":"tapachula","person":"%s","at":%d}`, hexID(), time.Now().UnixMilli()))}
		case r < 91:
			fields := map[string]string{}
			for _, f := range []string{"given_names", "surname1", "surname2", "birth_date", "sex", "nationality", "origin_town", "phone", "code"} {
				fields[f] = sealed(40)
			}
			body, _ := json.Marshal(map[string]any{"fields": fields, "index": map[string][]string{"code": {hexID() + hexID()},
				"given_names": {hexID() + hexID()}, "surname1": {hexID() + hexID()}}, "consent": map[string]bool{"registration": true}})
			d = ledger.Draft{Kind: "bench.registered", Subject: "person/" + hexID(), Body: json.RawMessage(body)}
		default:
			d = ledger.Draft{Kind: "bench.household", Subject: "household/" + hexID(),
				Body: json.RawMessage(fmt.Sprintf(`{"label":%q,"kind":"family","members":[{"person":"%s","role":"head"},{"person":"%s","role":"child"}]}`,
					sealed(40), hexID(), hexID()))}
		}
		drafts = append(drafts, d)
		if len(drafts) == 5000 || i == count-1 {
			if _, err := n.Ledger.Append(context.Background(), "cli:bench", drafts); err != nil {
				b.Fatal(err)
			}
			drafts = drafts[:0]
		}
	}
}

// benchBundle measures writing a bundle of a's whole log for a fresh
// node, and importing it there, and prints the size per event.
func benchBundle(b *testing.B, a *node.Node) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bundle.age")
	newRecipient := func() *node.Node {
		return bundleJoin(b, a, a, "rear")
	}
	export := func(to *node.Node) BundleInfo {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		info, err := ExportBundle(ctx, a, []string{to.Keys.NodeID}, true, f)
		if err != nil {
			b.Fatal(err)
		}
		return info
	}
	b.Run("export", func(b *testing.B) {
		to := newRecipient()
		var info BundleInfo
		for b.Loop() {
			info = export(to)
		}
		b.ReportMetric(float64(info.Bytes)/float64(info.Events), "bytes/event")
		b.ReportMetric(float64(info.Events)/(b.Elapsed().Seconds()/float64(b.N)), "events/s")
		b.ReportMetric(float64(info.Events), "events")
	})
	b.Run("import", func(b *testing.B) {
		var res BundleResult
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			to := newRecipient()
			info := export(to)
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			res, err = ImportBundle(ctx, to, f)
			b.StopTimer()
			f.Close()
			if err != nil || res.Events != info.Events || res.Applied != int(info.Events) {
				b.Fatalf("import: %d applied, %d known of %d: %v", res.Applied, res.Known, info.Events, err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(res.Events)/(b.Elapsed().Seconds()/float64(b.N)), "events/s")
	})
}

// BenchmarkBundle100k: a bundle of 100,000 events (plus the founder's own).
//
//	go test ./internal/replication -run '^$' -bench 'Bundle100k' -benchtime 1x
func BenchmarkBundle100k(b *testing.B) {
	a := bundleFounder(b)
	bundleBenchLog(b, a, 100_000)
	benchBundle(b, a)
}

// BenchmarkBundleDemo: a bundle of the demo caravan after its first week
// (7,200 people: registrations, households, check-ins, incidents; about
// 38,000 events), imported with every projection. Slow to set up.
//
//	go test ./internal/replication -run '^$' -bench 'BundleDemo' -benchtime 1x -timeout 30m
func BenchmarkBundleDemo(b *testing.B) {
	a := bundleFounder(b)
	op := auth.Operator("bench")
	c := demo.Generate(1, 7200, time.Now())
	if _, err := demo.Load(context.Background(), a.Registry, a.Ledger, op, c); err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Travel(context.Background(), a.Journey, a.Registry, a.Ledger, op, c, demo.TravelOptions{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	benchBundle(b, a)
}
