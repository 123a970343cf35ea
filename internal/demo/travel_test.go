package demo_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/journey"
	"caravana/internal/node"
)

func travel(t *testing.T, n *node.Node, seed int64, people int, now time.Time) demo.Travelled {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	c := demo.Generate(seed, people, now)
	if _, err := demo.Load(ctx, n.Registry, n.Ledger, op, c); err != nil {
		t.Fatal(err)
	}
	tr, err := demo.Travel(ctx, n.Journey, n.Registry, n.Ledger, op, c, demo.TravelOptions{Seed: seed, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTravel7200: the demo caravan's first week gives the missing list,
// headcounts and map something true to show.
func TestTravel7200(t *testing.T) {
	ctx := context.Background()
	op := auth.Operator("test")
	n := newNode(t)
	start := time.Now()
	tr := travel(t, n, 1, 7200, time.Now())
	t.Logf("travelled %+v in %v", tr, time.Since(start))
	if len(tr.Checkpoints) != 4 || tr.Checkins < 4*6500 || tr.Incidents != 6 || tr.Hazards != 4 || tr.Found == 0 || tr.Left == 0 {
		t.Fatalf("travelled %+v", tr)
	}
	l, err := n.Journey.Missing(ctx, op, journey.MissingQuery{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("missing at %s: %d people (%d children) in %d households, %d left since", l.Stage.ID, l.MissingPeople, l.MissingChildren, len(l.Households), l.LeftSince)
	if l.Stage.ID != "ciudad-hidalgo" || l.MissingPeople < 150 || l.MissingPeople > 450 || l.MissingChildren == 0 {
		t.Errorf("missing list at %s: %d people, %d children; want a few hundred at the river", l.Stage.ID, l.MissingPeople, l.MissingChildren)
	}
	// Not seen at the river, less those marked as having left, less (some
	// of) those found there.
	if max := tr.NotSeenAtLast - l.LeftSince; l.MissingPeople > max || l.MissingPeople < max-tr.Found {
		t.Errorf("missing %d; %d not seen at the last checkpoint, %d left since, %d found", l.MissingPeople, tr.NotSeenAtLast, l.LeftSince, tr.Found)
	}
	if len(l.Households) == 0 || l.Households[0].Priority != "child_alone" {
		t.Errorf("the list does not start with a child alone")
	}
	hc, err := n.Journey.Headcounts(ctx, op, journey.HeadcountQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if hc.Registered != 7200 || hc.Stages[0].Seen != 7200 || hc.Left != tr.Left {
		t.Errorf("headcount registered %d, seen at the start %d, left %d", hc.Registered, hc.Stages[0].Seen, hc.Left)
	}
	d, err := n.Journey.MapData(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if d.Column.Stage == nil || d.Column.Stage.ID != "ciudad-hidalgo" || len(d.Hazards) != 3 || len(d.Incidents) != 6 {
		t.Errorf("map: column %v, %d live hazards, %d incidents", d.Column.Stage, len(d.Hazards), len(d.Incidents))
	}
	svg := string(journey.MapSVG(d, journey.EnglishMap))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("map is not XML: %v", err)
	}
	if !strings.Contains(svg, "Column: Ciudad Hidalgo") {
		t.Error("the map does not show the column at Ciudad Hidalgo")
	}
	// The journey is events like everything else: it verifies and rebuilds
	// to the same state.
	rep, err := n.Ledger.Verify(ctx, false)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.Problems, err)
	}
	if err := n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if rep2, _ := n.Ledger.Verify(ctx, false); rep2.StateHash != rep.StateHash {
		t.Error("rebuild changed the state hash")
	}
	again, err := n.Journey.Missing(ctx, op, journey.MissingQuery{})
	if err != nil || again.MissingPeople != l.MissingPeople {
		t.Errorf("after rebuild %d missing, before %d (%v)", again.MissingPeople, l.MissingPeople, err)
	}
}

// TestTravelDeterministic: the same seed gives the same journey.
func TestTravelDeterministic(t *testing.T) {
	now := time.Now()
	a := travel(t, newNode(t), 3, 1500, now)
	b := travel(t, newNode(t), 3, 1500, now)
	if strings.Join(a.Checkpoints, ",") != strings.Join(b.Checkpoints, ",") || a.Checkins != b.Checkins ||
		a.NotSeenAtLast != b.NotSeenAtLast || a.Found != b.Found || a.Left != b.Left {
		t.Errorf("same seed, different journeys:\n%+v\n%+v", a, b)
	}
	c := travel(t, newNode(t), 4, 1500, now)
	if c.Checkins == a.Checkins && c.NotSeenAtLast == a.NotSeenAtLast && c.Left == a.Left {
		t.Errorf("another seed gave the same journey: %+v", c)
	}
}

func TestTravelNeedsLoad(t *testing.T) {
	n := newNode(t)
	c := demo.Generate(1, 10, time.Now())
	_, err := demo.Travel(context.Background(), n.Journey, n.Registry, n.Ledger, auth.Operator("test"), c, demo.TravelOptions{Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "load it first") {
		t.Errorf("travel before load: %v", err)
	}
}
