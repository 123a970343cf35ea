package tracing

// Property test: reports, rejections, links, confirmations, withdrawals
// and "different people" marks made on several nodes converge: the same
// set of events gives the same documents, index and state hash in any
// arrival order (duplicates included), and a report's status and outcome
// are what the earliest closing event says.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"caravana/internal/event"
	"caravana/internal/projtest"
	"caravana/internal/store"
)

var (
	genNodes   = []string{"na", "nb", "nc"}
	genReports = []string{"r1", "r2", "r3"}
	genPeople  = []string{"p1", "p2", "p3"}
)

func genEvents(t *rapid.T) []*event.Event {
	g := projtest.NewGen(genNodes, nil)
	var out []*event.Event
	for range rapid.IntRange(1, 20).Draw(t, "events") {
		rep := rapid.SampledFrom(genReports).Draw(t, "report")
		per := rapid.SampledFrom(genPeople).Draw(t, "person")
		var e *event.Event
		switch kind := rapid.SampledFrom([]string{KindReported, KindReported, KindRejected, KindLinked, KindConfirmed,
			KindWithdrawn, KindDistinct}).Draw(t, "kind"); kind {
		case KindReported:
			e = g.Next(t, kind, reportEntity(rep), reportBody{Fields: map[string]string{FieldGivenNames: "sealed-" + rep}})
		case KindRejected:
			e = g.Next(t, kind, reportEntity(rep), decisionBody{Candidate: "person/" + per})
		case KindLinked:
			e = g.Next(t, kind, reportEntity(rep), decisionBody{Candidate: reportEntity(rapid.SampledFrom(genReports).Draw(t, "other"))})
		case KindConfirmed:
			e = g.Next(t, kind, reportEntity(rep), decisionBody{Candidate: "person/" + per,
				Outcome: rapid.SampledFrom(Outcomes).Draw(t, "outcome")})
		case KindWithdrawn:
			e = g.Next(t, kind, reportEntity(rep), decisionBody{Reason: "other"})
		case KindDistinct:
			other := rapid.SampledFrom(genPeople).Draw(t, "other")
			if other == per {
				continue
			}
			a, b := min(per, other), max(per, other)
			e = g.Next(t, kind, "person/"+a, distinctBody{People: []string{a, b}})
		}
		out = append(out, e)
		if rapid.IntRange(0, 9).Draw(t, "dup") == 0 {
			out = append(out, e) // sync delivers some events twice
		}
	}
	return out
}

type snapshot struct {
	hash string
	docs map[string]string
}

func project(t *rapid.T, dir string, evs []*event.Event) snapshot {
	snap := snapshot{docs: map[string]string{}}
	snap.hash = projtest.Apply(t, dir, Register, evs, func(ctx context.Context, tx store.ReadTx) error {
		for _, idx := range []string{idxOpen, idxClosed} {
			ids, err := tx.Range(ctx, idx, false, 0, 0)
			if err != nil {
				return err
			}
			snap.docs["index/"+idx] = strings.Join(ids, ",")
		}
		return projtest.Docs(ctx, tx, snap.docs)
	})
	return snap
}

func TestProjectionConverges(t *testing.T) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		evs := genEvents(t)
		want := project(t, dir, evs)
		perm := rapid.Permutation(evs).Draw(t, "order")
		got := project(t, dir, perm)
		if got.hash != want.hash {
			for k, v := range want.docs {
				if got.docs[k] != v {
					t.Fatalf("%s differs:\n in order: %s\n permuted: %s", k, v, got.docs[k])
				}
			}
			t.Fatalf("state hash differs")
		}
		// The model: a report is listed once it is reported, closed iff
		// some closing event exists, and its outcome is the earliest's.
		for _, rep := range genReports {
			var reported bool
			var first *event.Event
			for _, e := range evs {
				if e.Subject != reportEntity(rep) {
					continue
				}
				switch e.Kind {
				case KindReported:
					reported = true
				case KindConfirmed, KindWithdrawn:
					if first == nil || e.HLC < first.HLC || (e.HLC == first.HLC && e.Node < first.Node) {
						first = e
					}
				}
			}
			open := strings.Contains(","+got.docs["index/"+idxOpen]+",", ","+rep+",")
			closed := strings.Contains(","+got.docs["index/"+idxClosed]+",", ","+rep+",")
			switch {
			case !reported && (open || closed):
				t.Fatalf("%s is listed before it was reported", rep)
			case reported && first == nil && !open:
				t.Fatalf("%s should be open", rep)
			case reported && first != nil && !closed:
				t.Fatalf("%s should be closed", rep)
			}
			if first != nil {
				var d reportDoc
				if err := json.Unmarshal([]byte(got.docs[docReport+"/"+rep]), &d); err != nil {
					t.Fatal(err)
				}
				if c := d.Closures[0]; c.T != first.HLC || c.N != first.Node {
					t.Fatalf("%s closed by %v/%s, want the earliest %v/%s", rep, c.T, c.N, first.HLC, first.Node)
				}
			}
		}
	})
}
