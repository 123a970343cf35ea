package demo_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/journey"
)

// TestFillDatesEverythingFromNow: a caravan filled as of ten days ago has
// its check-ins, incidents, hazards and supplies dated from then, not from
// when it was written.
func TestFillDatesEverythingFromNow(t *testing.T) {
	ctx := context.Background()
	op := auth.Operator("test")
	n := newNode(t)
	now := time.Now().UTC().AddDate(0, 0, -10).Truncate(time.Minute)
	start := now.Add(-6*24*time.Hour - 10*time.Hour)
	c := demo.Generate(2, 600, now)
	f, err := demo.Fill(ctx, services(n), op, c, 2, now)
	if err != nil {
		t.Fatal(err)
	}
	if f.People != 600 || len(f.IDs) != 600 || f.Events != 600+len(c.Households) || len(f.Travelled.Checkpoints) != 4 || f.Supplied.Distributions == 0 {
		t.Fatalf("filled %+v", f)
	}
	st, err := n.Registry.Stats(ctx, op)
	if err != nil || st.People != 600 || st.Households != len(c.Households) {
		t.Fatalf("registry holds %d people and %d households (%v), want 600 and %d", st.People, st.Households, err, len(c.Households))
	}
	ins, err := n.Journey.Incidents(ctx, op, journey.IncidentFilter{})
	if err != nil || len(ins) != 6 {
		t.Fatalf("%d incidents (%v)", len(ins), err)
	}
	for _, in := range ins {
		if in.At.Before(start) || !in.At.Before(now) {
			t.Errorf("incident %s at %v, want within the week before %v", in.Kind, in.At, now)
		}
	}
	// Ten days on, every hazard of the journey has expired: none is recorded.
	if hs, err := n.Journey.Hazards(ctx, op, false); err != nil || len(hs) != 0 || f.Travelled.Hazards != 0 {
		t.Errorf("%d hazards recorded (%d reported), want none (%v)", len(hs), f.Travelled.Hazards, err)
	}
	for _, id := range f.IDs[:50] {
		tr, err := n.Journey.Trail(ctx, op, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tr.Seen {
			if s.Via == "checkin" && (s.At.Before(start) || !s.At.Before(now)) {
				t.Errorf("seen at %s on %v, want within the week before %v", s.Stage, s.At, now)
			}
		}
	}
	hs, err := n.Registry.HouseholdsOf(ctx, op, f.IDs[:1])
	if err != nil || len(hs[f.IDs[0]]) == 0 {
		t.Fatalf("households of the first person: %v %v", hs, err)
	}
	ds, err := n.Supply.History(ctx, op, hs[f.IDs[0]][0])
	if err != nil || len(ds) == 0 {
		t.Fatalf("the first household got nothing (%v)", err)
	}
	for _, d := range ds {
		if want := start.Add(5*24*time.Hour + 7*time.Hour); !d.At.Equal(want) || d.Stage != "tecun-uman" {
			t.Errorf("%s given at %s on %v, want at tecun-uman on %v", d.Item, d.Stage, d.At, want)
		}
	}
}
