package supply

// Property test: items, donations, distributions and reviews made on
// several nodes give the same projection (stock, entitlements, conflicts)
// and state hash for any arrival order and any repeated delivery, and the
// projection is what the events say: stock sums each event once, and an
// entitlement is in conflict exactly when it has two distributions some
// of which no review has seen.

import (
	"context"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"

	"caravana/internal/event"
	"caravana/internal/projtest"
	"caravana/internal/store"
)

var (
	genNodes  = []string{"na", "nb", "nc"}
	genItems  = []string{"tent", "water"}
	genStages = []string{"s1", "s2"}
	genUnits  = []string{"h1", "h2", ""} // "" : a person with no household
	genPeriod = []string{"once", "stage:s1", "day:2018-10-20"}
)

func genEvents(t *rapid.T) []*event.Event {
	g := projtest.NewGen(genNodes, nil)
	n := rapid.IntRange(1, 30).Draw(t, "events")
	var out, dists []*event.Event
	for range n {
		item := rapid.SampledFrom(genItems).Draw(t, "item")
		stage := rapid.SampledFrom(genStages).Draw(t, "stage")
		var e *event.Event
		switch kind := rapid.SampledFrom([]string{KindItemDefined, KindReceived, KindDistributed, KindDistributed,
			KindDistributed, KindReviewed}).Draw(t, "kind"); kind {
		case KindItemDefined:
			e = g.Next(t, kind, "supply-item/"+item, itemBody{ID: item, NameES: "Cosa", Unit: "u",
				Per: rapid.SampledFrom(Pers).Draw(t, "per"), Qty: rapid.IntRange(1, 20).Draw(t, "qty"),
				Period: rapid.SampledFrom(Periods).Draw(t, "period")})
		case KindReceived:
			e = g.Next(t, kind, "supply-stock/"+stockID(item, stage), receivedBody{Item: item, Stage: stage,
				Qty: rapid.IntRange(1, 100).Draw(t, "qty")})
		case KindDistributed:
			b := distributedBody{Item: item, Household: rapid.SampledFrom(genUnits).Draw(t, "unit"), Person: "p1",
				Qty: rapid.IntRange(1, 5).Draw(t, "qty"), Stage: stage, Period: rapid.SampledFrom(genPeriod).Draw(t, "period")}
			e = g.Next(t, kind, "supply-ent/"+entKey(b.unit(), b.Item, b.Period), b)
			dists = append(dists, e)
		case KindReviewed:
			var key string
			var seen []string
			if len(dists) > 0 && rapid.IntRange(0, 4).Draw(t, "known") > 0 {
				d := rapid.SampledFrom(dists).Draw(t, "reviewed")
				var b distributedBody
				json.Unmarshal(d.Body, &b)
				key = entKey(b.unit(), b.Item, b.Period)
				for _, x := range dists {
					var xb distributedBody
					json.Unmarshal(x.Body, &xb)
					if entKey(xb.unit(), xb.Item, xb.Period) == key && rapid.IntRange(0, 3).Draw(t, "saw") > 0 {
						seen = append(seen, x.ID())
					}
				}
			} else {
				key = entKey("h1", item, "once") // a review arriving before what it reviewed
				seen = []string{"na/1", "nb/1"}
			}
			e = g.Next(t, kind, "supply-ent/"+key, reviewedBody{Key: key, Outcome: rapid.SampledFrom(Outcomes).Draw(t, "outcome"),
				Note: "nota", Seen: seen})
		}
		out = append(out, e)
		if rapid.IntRange(0, 5).Draw(t, "dup") == 0 {
			out = append(out, e) // sync delivers some events twice
		}
	}
	return out
}

type snapshot struct {
	hash string
	docs map[string]string
	open []string
}

func project(t projtest.Fataler, dir string, evs []*event.Event) snapshot {
	snap := snapshot{docs: map[string]string{}}
	snap.hash = projtest.Apply(t, dir, Register, evs, func(ctx context.Context, tx store.ReadTx) error {
		var err error
		if snap.open, err = tx.Lookup(ctx, idxOpen, openKey); err != nil {
			return err
		}
		return projtest.Docs(ctx, tx, snap.docs)
	})
	return snap
}

// checkModel works stock and conflicts out directly from the set of events.
func checkModel(t *rapid.T, snap snapshot, evs []*event.Event) {
	uniq := map[string]*event.Event{}
	for _, e := range evs {
		uniq[e.ID()] = e
	}
	type sums struct{ in, out int64 }
	stock := map[string]sums{}
	sides := map[string][]string{}
	seen := map[string]map[string]bool{}
	for _, e := range uniq {
		switch e.Kind {
		case KindReceived:
			var b receivedBody
			json.Unmarshal(e.Body, &b)
			s := stock[stockID(b.Item, b.Stage)]
			s.in += int64(b.Qty)
			stock[stockID(b.Item, b.Stage)] = s
		case KindDistributed:
			var b distributedBody
			json.Unmarshal(e.Body, &b)
			s := stock[stockID(b.Item, b.Stage)]
			s.out += int64(b.Qty)
			stock[stockID(b.Item, b.Stage)] = s
			k := entKey(b.unit(), b.Item, b.Period)
			sides[k] = append(sides[k], e.ID())
		case KindReviewed:
			var b reviewedBody
			json.Unmarshal(e.Body, &b)
			if seen[b.Key] == nil {
				seen[b.Key] = map[string]bool{}
			}
			for _, id := range b.Seen {
				seen[b.Key][id] = true
			}
		}
	}
	for id, s := range stock {
		var d stockDoc
		if err := json.Unmarshal([]byte(snap.docs[docStock+"/"+id]), &d); err != nil {
			t.Fatalf("no stock doc %s: %v", id, err)
		}
		if d.Received != s.in || d.Distributed != s.out {
			t.Fatalf("stock %s = %+v, want received %d distributed %d", id, d, s.in, s.out)
		}
	}
	var wantOpen []string
	for k, ids := range sides {
		open := false
		for _, id := range ids {
			open = open || !seen[k][id]
		}
		if len(ids) > 1 && open {
			wantOpen = append(wantOpen, k)
		}
		var d entDoc
		json.Unmarshal([]byte(snap.docs[docEnt+"/"+k]), &d)
		if len(d.Sides) != len(ids) {
			t.Fatalf("entitlement %s has %d sides, want %d", k, len(d.Sides), len(ids))
		}
	}
	if len(wantOpen) != len(snap.open) {
		t.Fatalf("open conflicts %v, want %v", snap.open, wantOpen)
	}
	for _, k := range wantOpen {
		var d entDoc
		json.Unmarshal([]byte(snap.docs[docEnt+"/"+k]), &d)
		if !d.Open {
			t.Fatalf("entitlement %s not marked open", k)
		}
	}
}

func TestProjectionConverges(t *testing.T) {
	dir := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		evs := genEvents(t)
		other := rapid.Permutation(evs).Draw(t, "other order")
		a := project(t, dir, evs)
		b := project(t, dir, other)
		if a.hash != b.hash {
			for k, v := range a.docs {
				if b.docs[k] != v {
					t.Logf("%s:\n  %s\n  %s", k, v, b.docs[k])
				}
			}
			t.Fatalf("state hash differs by arrival order")
		}
		checkModel(t, a, evs)
	})
}
