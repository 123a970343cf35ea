package journey

// Property tests: check-ins, found and left marks, routes, incidents and
// hazards made on several nodes converge, so the same set of events gives
// the same projections (and state hash) in any arrival order, and the
// projection is what first-writer-wins (check-ins, records) and
// last-writer-wins (statuses, routes) say it should be.

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
	genPeople  = []string{"p1", "p2", "p3"}
	genStages  = []string{"s1", "s2", "s3"}
	genHazards = []string{"h1", "h2"}
)

func genEvents(t *rapid.T) []*event.Event {
	g := projtest.NewGen(genNodes, nil)
	n := rapid.IntRange(1, 24).Draw(t, "events")
	var out []*event.Event
	for range n {
		person := rapid.SampledFrom(genPeople).Draw(t, "person")
		stage := rapid.SampledFrom(genStages).Draw(t, "stage")
		var e *event.Event
		switch kind := rapid.SampledFrom([]string{KindCheckin, KindCheckin, KindFound, KindLeft, KindRejoined,
			KindRouteSet, KindHazard, KindHazardCleared, KindIncident}).Draw(t, "kind"); kind {
		case KindCheckin, KindFound:
			at := int64(0)
			if rapid.Bool().Draw(t, "has at") {
				at = int64(rapid.IntRange(1, 1000).Draw(t, "at"))
			}
			e = g.Next(t, kind, "person/"+person, checkinBody{Person: person, Stage: stage, At: at})
		case KindLeft:
			e = g.Next(t, kind, "person/"+person, statusBody{Person: person,
				Reason: rapid.SampledFrom(LeftReasons).Draw(t, "reason"), Stage: stage})
		case KindRejoined:
			e = g.Next(t, kind, "person/"+person, statusBody{Person: person})
		case KindRouteSet:
			k := rapid.IntRange(2, 3).Draw(t, "stages")
			var st []Stage
			for i := range k {
				st = append(st, Stage{ID: genStages[i], Name: strings.ToUpper(genStages[i]), Country: "MX", Lat: float64(i), Lon: float64(i), Km: float64(10 * i)})
			}
			e = g.Next(t, kind, routeSubject, routeBody{Stages: st})
		case KindHazard:
			e = g.Next(t, kind, "hazard/"+rapid.SampledFrom(genHazards).Draw(t, "hazard"),
				hazardBody{Kind: rapid.SampledFrom(HazardKinds).Draw(t, "hkind"), Stage: stage, From: 1, Until: int64(rapid.IntRange(2, 9).Draw(t, "until"))})
		case KindHazardCleared:
			e = g.Next(t, kind, "hazard/"+rapid.SampledFrom(genHazards).Draw(t, "hazard"), struct{}{})
		case KindIncident:
			// Two records of one incident id only happen on a replay; the
			// projection must still not depend on order.
			e = g.Next(t, kind, "incident/"+rapid.SampledFrom([]string{"i1", "i2"}).Draw(t, "incident"),
				incidentBody{Kind: rapid.SampledFrom(IncidentKinds).Draw(t, "ikind"), Severity: "low", Stage: stage, People: []string{person}, Count: 1})
		}
		out = append(out, e)
		// Sync delivers some events twice.
		if rapid.IntRange(0, 9).Draw(t, "dup") == 0 {
			out = append(out, e)
		}
	}
	return out
}

type snapshot struct {
	hash string
	docs map[string]string // kind/id -> data
}

func project(t projtest.Fataler, dir string, evs []*event.Event) snapshot {
	snap := snapshot{docs: map[string]string{}}
	snap.hash = projtest.Apply(t, dir, Register, evs, func(ctx context.Context, tx store.ReadTx) error {
		return projtest.Docs(ctx, tx, snap.docs)
	})
	return snap
}

func stampLess(a, b *event.Event) bool { return event.StampOf(a).Before(event.StampOf(b)) }

// checkModel compares the projection with first- and last-writer-wins
// worked out directly from the events.
func checkModel(t *rapid.T, snap snapshot, evs []*event.Event) {
	first := map[string]*event.Event{} // stage|person -> earliest check-in or found
	status := map[string]*event.Event{}
	var route *event.Event
	for _, e := range evs {
		switch e.Kind {
		case KindCheckin, KindFound:
			var b checkinBody
			json.Unmarshal(e.Body, &b)
			k := b.Stage + "|" + b.Person
			if first[k] == nil || stampLess(e, first[k]) {
				first[k] = e
			}
		case KindLeft, KindRejoined:
			var b statusBody
			json.Unmarshal(e.Body, &b)
			if status[b.Person] == nil || stampLess(status[b.Person], e) {
				status[b.Person] = e
			}
		case KindRouteSet:
			if route == nil || stampLess(route, e) {
				route = e
			}
		}
	}
	perStage := map[string]int{}
	for k, e := range first {
		stage, person, _ := strings.Cut(k, "|")
		perStage[stage]++
		d, err := decodeCheckinDoc([]byte(snap.docs[checkinKind(stage)+"/"+person]))
		if err != nil {
			t.Fatalf("no check-in doc for %s: %v", k, err)
		}
		wantVia := viaCheckin
		if e.Kind == KindFound {
			wantVia = viaFound
		}
		if d.T != e.HLC || d.N != e.Node || d.Via != wantVia {
			t.Fatalf("check-in %s = %+v, want the earliest event %s (%s)", k, d, e.ID(), e.Kind)
		}
	}
	for _, stage := range genStages {
		seen := 0
		for k := range snap.docs {
			if strings.HasPrefix(k, checkinKind(stage)+"/") {
				seen++
			}
		}
		if seen != perStage[stage] {
			t.Fatalf("stage %s has %d check-in docs, want %d", stage, seen, perStage[stage])
		}
	}
	for person, e := range status {
		var d statusDoc
		json.Unmarshal([]byte(snap.docs[docStatus+"/"+person]), &d)
		if d.Left != (e.Kind == KindLeft) || d.T != e.HLC {
			t.Fatalf("status of %s = %+v, want the latest event %s (%s)", person, d, e.ID(), e.Kind)
		}
	}
	if route != nil {
		var d routeDoc
		json.Unmarshal([]byte(snap.docs[docRoute+"/"+docRouteID]), &d)
		if d.T != route.HLC || d.N != route.Node {
			t.Fatalf("route from %v/%s, want the latest %s", d.T, d.N, route.ID())
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
