package supply_test

import (
	"errors"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/supply"
	"caravana/internal/testnode"
)

const stage = "tecun-uman"

func give(t *testing.T, s *supply.Service, p auth.Principal, item string, refs ...supply.PersonRef) []supply.GiveResult {
	t.Helper()
	res, err := s.Give(ctx, p, supply.GiveInput{Item: item, Stage: stage, People: refs})
	if err != nil {
		t.Fatalf("give %s: %v", item, err)
	}
	return res
}

func code(c string) supply.PersonRef { return supply.PersonRef{Code: c} }

func stockOf(t *testing.T, s *supply.Service, item string) supply.StockRow {
	t.Helper()
	rows, err := s.Stock(ctx, vol, stage)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Item == item {
			return r
		}
	}
	return supply.StockRow{Item: item, Stage: stage}
}

func TestCatalogueStockAndGive(t *testing.T) {
	n := newNode(t)
	items, err := n.Supply.DefineDefaults(ctx, coord)
	if err != nil || len(items) != len(supply.DefaultCatalogue()) {
		t.Fatalf("default catalogue: %d items, %v", len(items), err)
	}
	before := countEvents(t, n)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil || countEvents(t, n) != before {
		t.Fatalf("defining the defaults again appended events: %v", err)
	}
	water := items[slicesIndex(items, "water")]
	if water.Per != supply.PerPerson || water.Qty != 15 || water.Period != supply.PerDay {
		t.Fatalf("water rule: %+v", water)
	}
	rc, err := n.Supply.Receive(ctx, vol, supply.ReceiptInput{Item: "water", Qty: 1000, Stage: stage, Donor: "Parroquia"})
	if err != nil || rc.Balance != 1000 {
		t.Fatalf("receive: %+v %v", rc, err)
	}
	hh, ps := family(t, n, "Ana", "Beto", "Caro")
	res := give(t, n.Supply, vol, "water", code(ps[1].Code))
	// per_person: 15 L x 3 members, to the household, collected by Beto.
	if d := res[0]; d.Qty != 45 || d.Household != hh || d.Person != ps[1].ID || d.Size != 3 || d.Balance != 955 {
		t.Fatalf("water to a family of 3: %+v", d)
	}
	if g := res[0].Glance; g == nil || len(g.Households) != 1 || len(g.Households[0].Members) != 3 {
		t.Fatalf("the glance shows the household: %+v", g)
	}
	if st := stockOf(t, n.Supply, "water"); st.Received != 1000 || st.Distributed != 45 || st.Balance != 955 {
		t.Fatalf("stock: %+v", st)
	}
	hist, err := n.Supply.History(ctx, vol, hh)
	if err != nil || len(hist) != 1 || hist[0].Item != "water" || hist[0].Qty != 45 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	// The glance was audited, in the distribution's commit.
	var rows []store.AuditEntry
	n.Store.View(ctx, func(tx store.ReadTx) error {
		rows, err = tx.Audit(ctx, store.AuditFilter{Record: "person/" + ps[0].ID, Limit: 100})
		return err
	})
	found := false
	for _, r := range rows {
		if r.Action == "person.read" && strings.Contains(r.Detail, "supply water") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the glance of the household is not audited: %+v", rows)
	}
}

func slicesIndex(items []supply.Item, id string) int {
	for i, it := range items {
		if it.ID == id {
			return i
		}
	}
	return -1
}

// TestEntitlementRefusesSecond: a second tent to the same household on one
// node is refused (whoever of the family collects), with an error naming
// the field, and nothing is written.
func TestEntitlementRefusesSecond(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	_, ps := family(t, n, "Ana", "Beto")
	give(t, n.Supply, vol, "family-tent", code(ps[0].Code))
	before := countEvents(t, n)
	for _, tc := range []struct {
		name string
		refs []supply.PersonRef
	}{
		{"same person", []supply.PersonRef{code(ps[0].Code)}},
		{"another member", []supply.PersonRef{code(ps[1].Code)}},
		{"by id", []supply.PersonRef{{Person: ps[1].ID}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "family-tent", Stage: "tapachula", People: tc.refs})
			fe := fieldErr(t, err)
			if fe.Field != "people[0]" || fe.Code != "already_received" || !strings.Contains(fe.Message, "family-tent") {
				t.Fatalf("refusal: %+v", fe)
			}
			if got := countEvents(t, n); got != before {
				t.Fatalf("a refused distribution wrote %d events", got-before)
			}
		})
	}
	// Two members of one household in one call: the second is refused,
	// and so the whole call, for a once item.
	_, qs := family(t, n, "Dora", "Eli")
	before = countEvents(t, n)
	_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "hygiene-kit", Stage: stage, People: []supply.PersonRef{code(qs[0].Code), code(qs[1].Code)}})
	if fe := fieldErr(t, err); fe.Field != "people[1]" || fe.Code != "already_received" {
		t.Fatalf("two of one household in a call: %+v", fe)
	}
	if got := countEvents(t, n); got != before {
		t.Fatalf("a refused call wrote %d events", got-before)
	}
	// Per-stage and per-day items: water again today is refused; food at
	// another stage is not a per-stage item but per day, so refused too.
	give(t, n.Supply, vol, "water", code(qs[0].Code))
	if _, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: "tapachula", People: []supply.PersonRef{code(qs[1].Code)}}); fieldErr(t, err).Code != "already_received" {
		t.Fatalf("water twice a day: %v", err)
	}
	if cs, err := n.Supply.Conflicts(ctx, coord); err != nil || len(cs) != 0 {
		t.Fatalf("refusals made conflicts: %+v %v", cs, err)
	}
}

// TestNoHousehold: someone in no household is a household of one: a
// per-person ration for one, a per-household item once.
func TestNoHousehold(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	p := register(t, n, "Sola")
	res := give(t, n.Supply, vol, "water", code(p.Code))
	if d := res[0]; d.Qty != 15 || d.Household != "" || d.Size != 1 {
		t.Fatalf("water for one: %+v", d)
	}
	if d := give(t, n.Supply, vol, "family-tent", code(p.Code))[0]; d.Qty != 1 {
		t.Fatalf("tent for one: %+v", d)
	}
	_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "family-tent", Stage: stage, People: []supply.PersonRef{code(p.Code)}})
	if fieldErr(t, err).Code != "already_received" {
		t.Fatalf("second tent to a person alone: %v", err)
	}
	hist, err := n.Supply.History(ctx, vol, "person:"+p.ID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history of a person alone: %+v %v", hist, err)
	}
}

func TestValidation(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	p := register(t, n, "Ana")
	typo := []byte(p.Code)
	if typo[3] == '7' {
		typo[3] = '8'
	} else {
		typo[3] = '7'
	}
	before := countEvents(t, n)
	for _, tc := range []struct {
		name, field, code string
		do                func() error
	}{
		{"unknown item", "item", "unknown_item", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "piano", Stage: stage, People: []supply.PersonRef{code(p.Code)}})
			return err
		}},
		{"unknown stage", "stage", "unknown_stage", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: "paris", People: []supply.PersonRef{code(p.Code)}})
			return err
		}},
		{"no stage, no checkpoint", "stage", "no_checkpoint", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", People: []supply.PersonRef{code(p.Code)}})
			return err
		}},
		{"typo in code", "people[0].code", "check", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: stage, People: []supply.PersonRef{code(string(typo))}})
			return err
		}},
		{"no people", "people", "required", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: stage})
			return err
		}},
		{"unknown person", "people[1]", "not_found", func() error {
			_, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: stage, People: []supply.PersonRef{code(p.Code), {Person: "nobody"}}})
			return err
		}},
		{"zero quantity", "qty", "invalid", func() error {
			_, err := n.Supply.Receive(ctx, vol, supply.ReceiptInput{Item: "water", Qty: 0, Stage: stage})
			return err
		}},
		{"receipt of unknown item", "item", "unknown_item", func() error {
			_, err := n.Supply.Receive(ctx, vol, supply.ReceiptInput{Item: "piano", Qty: 1, Stage: stage})
			return err
		}},
		{"bad item id", "id", "invalid", func() error {
			_, err := n.Supply.DefineItem(ctx, coord, supply.Item{ID: "Big Tent", NameES: "Carpa", Unit: "u", Per: "household", Qty: 1, Period: "once"})
			return err
		}},
		{"bad period", "period", "invalid", func() error {
			_, err := n.Supply.DefineItem(ctx, coord, supply.Item{ID: "tent", NameES: "Carpa", Unit: "u", Per: "household", Qty: 1, Period: "weekly"})
			return err
		}},
		{"bad outcome", "outcome", "invalid", func() error {
			return n.Supply.Review(ctx, coord, "h1+family-tent+once", "lost", "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v registry.ValidationError
			err := tc.do()
			if !errors.As(err, &v) {
				t.Fatalf("want a validation error, got %v", err)
			}
			ok := false
			for _, fe := range v {
				ok = ok || (fe.Field == tc.field && fe.Code == tc.code)
			}
			if !ok {
				t.Fatalf("want %s %s, got %v", tc.field, tc.code, v)
			}
		})
	}
	if got := countEvents(t, n); got != before {
		t.Fatalf("bad input wrote %d events", got-before)
	}
	if err := n.Supply.Review(ctx, coord, "h1+family-tent+once", "accepted", ""); !errors.Is(err, supply.ErrNotFound) {
		t.Fatalf("review of no conflict: %v", err)
	}
}

func TestRoles(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	p := register(t, n, "Ana")
	for _, pr := range []auth.Principal{testnode.Legal, testnode.Medic, testnode.Nobody} {
		if _, err := n.Supply.Items(ctx, pr); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s reads items: %v", pr.Role, err)
		}
		if _, err := n.Supply.Stock(ctx, pr, ""); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s reads stock: %v", pr.Role, err)
		}
		if _, err := n.Supply.Give(ctx, pr, supply.GiveInput{Item: "water", Stage: stage, People: []supply.PersonRef{code(p.Code)}}); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s gives: %v", pr.Role, err)
		}
		if _, err := n.Supply.Receive(ctx, pr, supply.ReceiptInput{Item: "water", Qty: 1, Stage: stage}); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s receives: %v", pr.Role, err)
		}
	}
	if _, err := n.Supply.DefineItem(ctx, vol, supply.DefaultCatalogue()[0]); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a volunteer defines items: %v", err)
	}
	if _, err := n.Supply.Give(ctx, vol, supply.GiveInput{Item: "water", Stage: stage, Override: true, People: []supply.PersonRef{code(p.Code)}}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a volunteer overrides: %v", err)
	}
	if _, err := n.Supply.Conflicts(ctx, vol); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a volunteer lists conflicts: %v", err)
	}
	if err := n.Supply.Review(ctx, vol, "h+water+once", "accepted", ""); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a volunteer reviews: %v", err)
	}
}

// TestOverride: a coordinator may give past the rule; both distributions
// are kept and flagged, as two nodes' would be.
func TestOverride(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	hh, ps := family(t, n, "Ana", "Beto")
	give(t, n.Supply, vol, "family-tent", code(ps[0].Code))
	if _, err := n.Supply.Give(ctx, coord, supply.GiveInput{Item: "family-tent", Stage: stage, Override: true,
		People: []supply.PersonRef{code(ps[1].Code)}}); err != nil {
		t.Fatal(err)
	}
	cs, err := n.Supply.Conflicts(ctx, coord)
	if err != nil || len(cs) != 1 || cs[0].Household != hh || len(cs[0].Sides) != 2 || !cs[0].Sides[1].Override {
		t.Fatalf("override conflict: %+v %v", cs, err)
	}
}

// TestTwoNodesGiveOffline: two nodes, each offline from the other, give
// the same household its one family tent. After sync both hold one
// conflict with both sides, stock counts both, and a review on one node
// closes it on both after the next sync.
func TestTwoNodesGiveOffline(t *testing.T) {
	a := newNode(t)
	if _, err := a.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Supply.Receive(ctx, coord, supply.ReceiptInput{Item: "family-tent", Qty: 10, Stage: stage}); err != nil {
		t.Fatal(err)
	}
	hh, ps := family(t, a, "Ana", "Beto", "Caro")
	b := joinNode(t, a, "rear")
	give(t, a.Supply, vol, "family-tent", code(ps[0].Code))
	give(t, b.Supply, vol, "family-tent", code(ps[2].Code))
	exchange(t, a, b)
	if ha, hb := stateHash(t, a), stateHash(t, b); ha != hb {
		t.Fatalf("state differs after sync")
	}
	for i, n := range [](*struct{ s *supply.Service }){{a.Supply}, {b.Supply}} {
		cs, err := n.s.Conflicts(ctx, coord)
		if err != nil || len(cs) != 1 {
			t.Fatalf("node %d: %d conflicts, %v", i, len(cs), err)
		}
		c := cs[0]
		if c.Household != hh || c.Item != "family-tent" || c.Period != "once" || len(c.Sides) != 2 {
			t.Fatalf("node %d conflict: %+v", i, c)
		}
		nodes := map[string]bool{c.Sides[0].Node: true, c.Sides[1].Node: true}
		if !nodes[a.Keys.NodeID] || !nodes[b.Keys.NodeID] {
			t.Fatalf("node %d: the sides are not one from each node: %+v", i, c.Sides)
		}
		if st := stockOf(t, n.s, "family-tent"); st.Distributed != 2 || st.Balance != 8 {
			t.Fatalf("node %d stock: %+v", i, st)
		}
		// A third tent is refused on either node now.
		if _, err := n.s.Give(ctx, vol, supply.GiveInput{Item: "family-tent", Stage: stage, People: []supply.PersonRef{code(ps[1].Code)}}); fieldErr(t, err).Code != "already_received" {
			t.Fatalf("node %d: a third tent: %v", i, err)
		}
	}
	cs, _ := a.Supply.Conflicts(ctx, coord)
	if err := b.Supply.Review(ctx, coord, cs[0].Key, supply.Recovered, "one tent returned to the store"); err != nil {
		t.Fatal(err)
	}
	if cs, err := b.Supply.Conflicts(ctx, coord); err != nil || len(cs) != 0 {
		t.Fatalf("review did not close it on b: %+v %v", cs, err)
	}
	exchange(t, a, b)
	if cs, err := a.Supply.Conflicts(ctx, coord); err != nil || len(cs) != 0 {
		t.Fatalf("review did not close it on a after sync: %+v %v", cs, err)
	}
	if stateHash(t, a) != stateHash(t, b) {
		t.Fatalf("state differs after the review synced")
	}
	if err := a.Supply.Review(ctx, coord, cs[0].Key, supply.Accepted, ""); !errors.Is(err, supply.ErrNotFound) {
		t.Fatalf("reviewing a closed conflict: %v", err)
	}
}

// TestReviewNoteSealed: a review note may name someone, so it travels and
// is kept sealed; a coordinator reading it again (the conflict reopened by
// a later distribution) sees it, and that read is audited.
func TestReviewNoteSealed(t *testing.T) {
	n := newNode(t)
	if _, err := n.Supply.DefineDefaults(ctx, coord); err != nil {
		t.Fatal(err)
	}
	_, ps := family(t, n, "Ana", "Beto", "Caro")
	give(t, n.Supply, vol, "family-tent", code(ps[0].Code))
	overrideTo := func(p registry.Person) {
		t.Helper()
		if _, err := n.Supply.Give(ctx, coord, supply.GiveInput{Item: "family-tent", Stage: stage, Override: true,
			People: []supply.PersonRef{code(p.Code)}}); err != nil {
			t.Fatal(err)
		}
	}
	overrideTo(ps[1])
	cs, err := n.Supply.Conflicts(ctx, coord)
	if err != nil || len(cs) != 1 {
		t.Fatalf("conflicts: %+v %v", cs, err)
	}
	const note = "Xochitl Tzul devolvió una carpa"
	if err := n.Supply.Review(ctx, coord, cs[0].Key, supply.Recovered, note); err != nil {
		t.Fatal(err)
	}
	// Nowhere in the log or the projections in plaintext.
	err = n.Store.View(ctx, func(tx store.ReadTx) error {
		if err := tx.EachEvent(ctx, func(e *event.Event) error {
			if strings.Contains(string(e.Body), "Xochitl") {
				t.Errorf("event %s %s holds the note in plaintext", e.ID(), e.Kind)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Scan(ctx, "supply.ent", func(id string, data []byte) error {
			if strings.Contains(string(data), "Xochitl") {
				t.Errorf("projection %s holds the note in plaintext", id)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	overrideTo(ps[2]) // a side the review did not see: open again
	cs, err = n.Supply.Conflicts(ctx, coord)
	if err != nil || len(cs) != 1 || len(cs[0].Reviews) != 1 || cs[0].Reviews[0].Note != note {
		t.Fatalf("reopened conflict: %+v %v", cs, err)
	}
	var reads int
	err = n.Store.View(ctx, func(tx store.ReadTx) error {
		rows, err := tx.Audit(ctx, store.AuditFilter{Record: "distribution/" + cs[0].Key})
		for _, r := range rows {
			if r.Action == "supply.note.read" && r.Actor == coord.Actor() {
				reads++
			}
		}
		return err
	})
	if err != nil || reads != 1 {
		t.Errorf("audited note reads = %d, %v; want 1", reads, err)
	}
}
