package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// journeyCast is a mother (pregnant), her child and a man on his own.
func journeyCast(t *testing.T) (n *node.Node, mother, child, single registry.Person, hid string) {
	t.Helper()
	n = newNode(t)
	in := person("Xochitl", "Tlapaltecatl")
	in.Sex, in.BirthDate, in.Flags = "F", "1990-05-05", []string{"pregnant", "medical"}
	mother = register(t, n, in)
	in = person("Itzel", "Tlapaltecatl")
	in.BirthDate, in.Flags = "2012-02-02", []string{"separated_child"}
	child = register(t, n, in)
	single = register(t, n, person("Ramiro", "Quetzalli"))
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Familia Tlapaltecatl", Kind: "family",
		Members: []registry.Member{{Person: mother.ID, Role: "head"}, {Person: child.ID, Role: "child"}}})
	if err != nil {
		t.Fatal(err)
	}
	return n, mother, child, single, h.ID
}

func TestResolveCode(t *testing.T) {
	n, mother, _, _, _ := journeyCast(t)
	last := lastAuditID(t, n)
	id, err := n.Registry.ResolveCode(ctx, vol, mother.Code)
	if err != nil || id != mother.ID {
		t.Errorf("ResolveCode = %q, %v", id, err)
	}
	other, _ := cardcode.New(strings.NewReader(strings.Repeat("\x01\x02\x03", 10)))
	if _, err := n.Registry.ResolveCode(ctx, vol, other); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown code: %v", err)
	}
	if _, err := n.Registry.ResolveCode(ctx, nobody, mother.Code); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a member resolves a code: %v", err)
	}
	if rows := reads(auditSince(t, n, last)); len(rows) != 0 {
		t.Errorf("resolving a code audited reads %v: it reveals nothing", rows)
	}
}

// TestPrepareGlance: the glance is opened for the role and its audit
// entries are handed back, not written: the caller appends them with its
// change in one commit.
func TestPrepareGlance(t *testing.T) {
	n, mother, child, single, hid := journeyCast(t)
	last := lastAuditID(t, n)
	g, entries, err := n.Registry.PrepareGlance(ctx, vol, child.ID, "checkin x")
	if err != nil {
		t.Fatal(err)
	}
	if rows := auditSince(t, n, last); len(rows) != 0 {
		t.Fatalf("PrepareGlance wrote audit rows itself: %v", rows)
	}
	if g.Person.Name != "Itzel Tlapaltecatl" || g.Person.Code != child.Code || g.Person.Age == nil || g.Person.AgeBand == "unknown" ||
		!slices.Equal(g.Person.Flags, []string{"separated_child"}) {
		t.Errorf("glance person = %+v", g.Person)
	}
	if len(g.Households) != 1 || g.Households[0].ID != hid || g.Households[0].Label != "Familia Tlapaltecatl" || len(g.Households[0].Members) != 2 {
		t.Fatalf("glance households = %+v", g.Households)
	}
	head := g.Households[0].Members[0]
	if head.Role != "head" || head.Person.ID != mother.ID || len(head.Person.Flags) != 0 {
		t.Errorf("a volunteer sees the mother as %+v (no pregnancy, no medical)", head)
	}
	// One person.read per person shown, one household.read per label shown.
	var recs, hrecs []string
	for _, e := range entries {
		if e.Actor != vol.Actor() || e.Detail != "checkin x" {
			t.Errorf("entry %+v", e)
		}
		switch e.Action {
		case "person.read":
			recs = append(recs, e.Record)
		case "household.read":
			hrecs = append(hrecs, e.Record)
		default:
			t.Errorf("entry %+v", e)
		}
	}
	if want := []string{"person/" + mother.ID, "person/" + child.ID}; !slices.Equal(recs, slices.Sorted(slices.Values(want))) {
		t.Errorf("audit entries for %v, want %v", recs, want)
	}
	if want := []string{"household/" + hid}; !slices.Equal(hrecs, want) {
		t.Errorf("household audit entries %v, want %v", hrecs, want)
	}
	if _, err := n.Ledger.Append(ctx, vol.Actor(), []ledger.Draft{}, entries...); err != nil {
		t.Fatal(err)
	}
	if rows := reads(auditSince(t, n, last)); len(rows) != 2 {
		t.Errorf("after the caller's append, %d read rows", len(rows))
	}
	// Medics see health flags; nobody sees anything.
	mg, _, err := n.Registry.PrepareGlance(ctx, medic, mother.ID, "x")
	if err != nil || !slices.Equal(mg.Person.Flags, []string{"medical", "pregnant"}) && !slices.Equal(mg.Person.Flags, []string{"pregnant", "medical"}) {
		t.Errorf("medic's glance flags %v, %v", mg.Person.Flags, err)
	}
	if _, _, err := n.Registry.PrepareGlance(ctx, nobody, mother.ID, "x"); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a member's glance: %v", err)
	}
	if sg, _, err := n.Registry.PrepareGlance(ctx, vol, single.ID, "x"); err != nil || len(sg.Households) != 0 {
		t.Errorf("glance of someone in no household = %+v, %v", sg, err)
	}
	if _, _, err := n.Registry.PrepareGlance(ctx, vol, "nope", "x"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("glance of nobody: %v", err)
	}
}

func TestFactsAndSummaries(t *testing.T) {
	n, mother, child, single, hid := journeyCast(t)
	last := lastAuditID(t, n)
	f, err := n.Registry.Facts(ctx, vol, []string{mother.ID, child.ID, "ghost"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 2 || !f[child.ID].Child || f[child.ID].AgeBand != "12-17" && f[child.ID].AgeBand != "5-11" || f[mother.ID].Child ||
		len(f[mother.ID].Flags) != 0 || !f[child.ID].HasFlag("separated_child") {
		t.Errorf("facts = %+v", f)
	}
	rows := auditSince(t, n, last)
	if len(rows) != 1 || rows[0].Action != "person.facts" || !strings.Contains(rows[0].Detail, "test") {
		t.Errorf("facts audit = %+v", rows)
	}
	all, err := n.Registry.Facts(ctx, coord, nil, "all")
	if err != nil || len(all) != 3 || !all[mother.ID].HasFlag("pregnant") {
		t.Errorf("everyone's facts for a coordinator = %+v, %v", all, err)
	}
	last = lastAuditID(t, n)
	sums, err := n.Registry.Summaries(ctx, vol, []string{mother.ID, single.ID}, "missing list")
	if err != nil || sums[mother.ID].Name != "Xochitl Tlapaltecatl" || sums[single.ID].Code != single.Code || len(sums) != 2 {
		t.Errorf("summaries = %+v, %v", sums, err)
	}
	if got := records(reads(auditSince(t, n, last))); !slices.Equal(got, slices.Sorted(slices.Values([]string{"person/" + mother.ID, "person/" + single.ID}))) {
		t.Errorf("summaries audited %v", got)
	}
	of, err := n.Registry.HouseholdsOf(ctx, vol, []string{mother.ID, single.ID})
	if err != nil || !slices.Equal(of[mother.ID], []string{hid}) || len(of[single.ID]) != 0 {
		t.Errorf("households of = %v, %v", of, err)
	}
	hm, err := n.Registry.HouseholdMembers(ctx, vol, []string{hid, "nope"}, false)
	if err != nil || len(hm) != 1 || hm[hid].Kind != "family" || len(hm[hid].Members) != 2 || hm[hid].Label != "" {
		t.Errorf("household members = %+v, %v", hm, err)
	}
	if hm, _ := n.Registry.HouseholdMembers(ctx, vol, []string{hid}, true); hm[hid].Label != "Familia Tlapaltecatl" {
		t.Errorf("household label = %q", hm[hid].Label)
	}
	order, err := n.Registry.RegistrationOrder(ctx, coord)
	if err != nil || !slices.Equal(order, []string{mother.ID, child.ID, single.ID}) {
		t.Errorf("registration order = %v, %v", order, err)
	}
	for _, fn := range []func() error{
		func() error { _, err := n.Registry.Facts(ctx, nobody, nil, "x"); return err },
		func() error { _, err := n.Registry.Summaries(ctx, nobody, []string{mother.ID}, "x"); return err },
		func() error { _, err := n.Registry.HouseholdsOf(ctx, nobody, []string{mother.ID}); return err },
		func() error { _, err := n.Registry.RegistrationOrder(ctx, nobody); return err },
	} {
		if err := fn(); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("a member: %v", err)
		}
	}
}
