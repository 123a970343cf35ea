package registry_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"caravana/internal/registry"
)

func member(h registry.Household, id string) (registry.HouseholdMember, bool) {
	for _, m := range h.Members {
		if m.Person.ID == id {
			return m, true
		}
	}
	return registry.HouseholdMember{}, false
}

// TestTwoHouseholds: someone in two households shows both, and each
// household shows the other as a conflict to review.
func TestTwoHouseholds(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Paz"))
	b := register(t, n, person("Berta", "Paz"))
	c := register(t, n, person("Carla", "Luna"))
	h1, err := n.Registry.CreateHousehold(ctx, vol, registry.HouseholdInput{Label: "Paz", Kind: "family",
		Members: []registry.Member{{Person: b.ID, Role: "child"}, {Person: a.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(h1.Members) != 2 || h1.Members[0].Role != "head" || h1.Members[0].Person.ID != a.ID || h1.Label != "Paz" || h1.Kind != "family" {
		t.Fatalf("created household = %+v (head first)", h1)
	}
	h2, err := n.Registry.CreateHousehold(ctx, vol, registry.HouseholdInput{Label: "Grupo Luna", Kind: "group",
		Members: []registry.Member{{Person: c.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	if h2, err = n.Registry.AddMember(ctx, vol, h2.ID, registry.Member{Person: a.ID, Role: "other"}); err != nil {
		t.Fatal(err)
	}

	got, err := n.Registry.Get(ctx, vol, a.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values([]string{h1.ID, h2.ID})); !slices.Equal(slices.Sorted(slices.Values(got.Households)), want) {
		t.Errorf("Households = %v, want %v", got.Households, want)
	}
	for _, tc := range []struct{ h, other string }{{h1.ID, h2.ID}, {h2.ID, h1.ID}} {
		h, err := n.Registry.GetHousehold(ctx, vol, tc.h)
		if err != nil {
			t.Fatal(err)
		}
		m, ok := member(h, a.ID)
		if !ok || !slices.Equal(m.Elsewhere, []string{tc.other}) {
			t.Errorf("household %s: Ana = %+v, want Elsewhere [%s]", tc.h, m, tc.other)
		}
		for _, m := range h.Members {
			if m.Person.ID != a.ID && len(m.Elsewhere) != 0 {
				t.Errorf("household %s: %s is elsewhere %v", tc.h, m.Person.ID, m.Elsewhere)
			}
		}
	}

	// Taking Ana out of the group ends the conflict.
	h2, err = n.Registry.RemoveMember(ctx, vol, h2.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := member(h2, a.ID); ok || len(h2.Members) != 1 {
		t.Errorf("after removal household = %+v", h2)
	}
	got, _ = n.Registry.Get(ctx, vol, a.ID, "t")
	if !slices.Equal(got.Households, []string{h1.ID}) {
		t.Errorf("Households after removal = %v, want [%s]", got.Households, h1.ID)
	}
	h1, _ = n.Registry.GetHousehold(ctx, vol, h1.ID)
	if m, _ := member(h1, a.ID); len(m.Elsewhere) != 0 {
		t.Errorf("Elsewhere after removal = %v", m.Elsewhere)
	}
	// Removing again: no longer a member.
	if _, err := n.Registry.RemoveMember(ctx, vol, h2.ID, a.ID); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second removal: %v, want ErrNotFound", err)
	}
	// Adding back works (a new add tag).
	if h2, err = n.Registry.AddMember(ctx, vol, h2.ID, registry.Member{Person: a.ID, Role: "relative"}); err != nil {
		t.Fatal(err)
	}
	if m, ok := member(h2, a.ID); !ok || m.Role != "relative" {
		t.Errorf("re-added member = %+v, %v", m, ok)
	}
}

// TestHouseholdRoleChange: adding a member again with another role changes
// the role to the latest, every time (tags must not be compared as strings:
// "node/10#0" sorts before "node/9#0").
func TestHouseholdRoleChange(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Paz"))
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Paz", Kind: "family",
		Members: []registry.Member{{Person: a.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{"spouse", "child", "sibling", "grandparent", "relative", "other"}
	for i := range 14 { // enough appends to cross from one-digit to two-digit sequence numbers
		role := roles[i%len(roles)]
		h, err = n.Registry.AddMember(ctx, coord, h.ID, registry.Member{Person: a.ID, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Members) != 1 || h.Members[0].Role != role {
			t.Fatalf("after re-adding as %s (change %d): members %+v", role, i, h.Members)
		}
	}
}

func TestHouseholdValidation(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Paz"))
	tests := []struct {
		name string
		in   registry.HouseholdInput
		want []string
	}{
		{"bad kind", registry.HouseholdInput{Label: "Paz", Kind: "clan", Members: []registry.Member{{Person: a.ID, Role: "head"}}},
			[]string{"kind:invalid"}},
		{"bad role", registry.HouseholdInput{Label: "Paz", Kind: "family", Members: []registry.Member{{Person: a.ID, Role: "boss"}}},
			[]string{"members[0].role:invalid"}},
		{"unknown person", registry.HouseholdInput{Label: "Paz", Kind: "family",
			Members: []registry.Member{{Person: a.ID, Role: "head"}, {Person: "nobody", Role: "child"}}},
			[]string{"members[1].person:not_found"}},
		{"listed twice", registry.HouseholdInput{Label: "Paz", Kind: "family",
			Members: []registry.Member{{Person: a.ID, Role: "head"}, {Person: a.ID, Role: "child"}}},
			[]string{"members[1].person:duplicate"}},
		{"label too long", registry.HouseholdInput{Label: strings.Repeat("p", 101), Kind: "single"}, []string{"label:too_long"}},
		{"label control", registry.HouseholdInput{Label: "Paz\x00", Kind: "single"}, []string{"label:invalid"}},
		{"all at once", registry.HouseholdInput{Label: "\x1b", Kind: "", Members: []registry.Member{{Person: "x", Role: ""}}},
			[]string{"kind:invalid", "label:invalid", "members[0].person:not_found", "members[0].role:invalid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := countEvents(t, n)
			_, err := n.Registry.CreateHousehold(ctx, coord, tc.in)
			var v registry.ValidationError
			if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), tc.want) {
				t.Errorf("error = %v, want fields %v", err, tc.want)
			}
			if got := countEvents(t, n); got != before {
				t.Errorf("a refused household wrote %d events", got-before)
			}
		})
	}
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Paz", Kind: "family"})
	if err != nil {
		t.Fatal(err)
	}
	before := countEvents(t, n)
	_, err = n.Registry.AddMember(ctx, coord, h.ID, registry.Member{Person: a.ID, Role: "king"})
	var v registry.ValidationError
	if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), []string{"members[0].role:invalid"}) {
		t.Errorf("AddMember bad role: %v", err)
	}
	if countEvents(t, n) != before {
		t.Error("a refused AddMember wrote an event")
	}
}

// TestPaging: offsets and limits of List and ListHouseholds, including
// values a caller should not send (negative, huge): no panic, sane pages.
func TestPaging(t *testing.T) {
	n := newNode(t)
	var people []registry.Person
	for _, name := range []string{"Ana", "Berta", "Carla", "Dora", "Elena"} {
		p := register(t, n, person(name, "Paz"))
		people = append(people, p)
		if _, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: name, Kind: "single",
			Members: []registry.Member{{Person: p.ID, Role: "head"}}}); err != nil {
			t.Fatal(err)
		}
	}
	newestFirst := make([]string, len(people))
	for i, p := range people {
		newestFirst[len(people)-1-i] = p.ID
	}
	tests := []struct {
		offset, limit int
		want          []string
	}{
		{0, 0, newestFirst},
		{0, 2, newestFirst[:2]},
		{2, 2, newestFirst[2:4]},
		{4, 2, newestFirst[4:]},
		{5, 2, nil},
		{99, 2, nil},
		{-3, 2, newestFirst[:2]},
		{0, math.MaxInt, newestFirst},
		{1, math.MaxInt, newestFirst[1:]},
		{math.MaxInt, math.MaxInt, nil},
		{2, -1, newestFirst[2:]},
	}
	for _, tc := range tests {
		got, total, err := n.Registry.List(ctx, coord, tc.offset, tc.limit)
		if err != nil || total != 5 || !slices.Equal(ids(got), tc.want) {
			t.Errorf("List(%d, %d) = %v, %d, %v; want %v", tc.offset, tc.limit, ids(got), total, err, tc.want)
		}
		hs, total, err := n.Registry.ListHouseholds(ctx, coord, tc.offset, tc.limit)
		if err != nil || total != 5 || len(hs) != len(tc.want) {
			t.Errorf("ListHouseholds(%d, %d) = %d households, %d, %v; want %d", tc.offset, tc.limit, len(hs), total, err, len(tc.want))
		}
	}
	hs, _, err := n.Registry.ListHouseholds(ctx, vol, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, h := range hs {
		labels = append(labels, h.Label)
		if h.Members != 1 || h.Kind != "single" {
			t.Errorf("household summary %+v", h)
		}
	}
	if want := []string{"Elena", "Dora", "Carla", "Berta", "Ana"}; !slices.Equal(labels, want) {
		t.Errorf("households newest first = %v, want %v", labels, want)
	}
}

// TestHouseholdLabelReads (S7): a household's label names people
// ("Familia Moreno Benítez"), so every path that opens it writes a
// household.read row per household shown, by the reader, with why, and
// without the label; and the label is not shown if that row cannot be
// written first. Paths that open no label write none.
func TestHouseholdLabelReads(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Moreno"))
	b := register(t, n, person("Berta", "Benítez"))
	var hids []string
	for _, in := range []registry.HouseholdInput{
		{Label: "Familia Moreno Benítez", Kind: "family", Members: []registry.Member{{Person: a.ID, Role: "head"}}},
		{Label: "Grupo Benítez", Kind: "group", Members: []registry.Member{{Person: b.ID, Role: "head"}}},
	} {
		h, err := n.Registry.CreateHousehold(ctx, coord, in)
		if err != nil {
			t.Fatal(err)
		}
		hids = append(hids, h.ID)
	}
	rec := func(ids ...string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = "household/" + id
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name string
		read func() error
		want []string // household records audited
		why  string
	}{
		{"ListHouseholds", func() error {
			hs, _, err := n.Registry.ListHouseholds(ctx, vol, 0, 10)
			if len(hs) != 2 || hs[0].Label == "" {
				t.Errorf("listed %+v", hs)
			}
			return err
		}, rec(hids...), "household list"},
		{"ListHouseholds past the end", func() error { _, _, err := n.Registry.ListHouseholds(ctx, vol, 10, 10); return err }, nil, ""},
		{"HouseholdLabels", func() error {
			_, err := n.Registry.HouseholdLabels(ctx, legal, []string{hids[1], "0000000000000000"}, "person "+b.ID)
			return err
		}, rec(hids[1]), "person " + b.ID},
		{"HouseholdMembers with labels", func() error {
			hs, err := n.Registry.HouseholdMembers(ctx, vol, hids, true)
			if hs[hids[0]].Label != "Familia Moreno Benítez" {
				t.Errorf("members with labels: %+v", hs)
			}
			return err
		}, rec(hids...), "household labels"},
		{"HouseholdMembers without labels", func() error {
			hs, err := n.Registry.HouseholdMembers(ctx, vol, hids, false)
			if hs[hids[0]].Label != "" {
				t.Errorf("a label without asking: %+v", hs)
			}
			return err
		}, nil, ""},
		{"GetHousehold", func() error { _, err := n.Registry.GetHousehold(ctx, medic, hids[0]); return err }, rec(hids[0]), "view"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			last := lastAuditID(t, n)
			if err := tc.read(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range auditSince(t, n, last) {
				if r.Action != "household.read" {
					continue
				}
				got = append(got, r.Record)
				if r.Detail != tc.why || r.Actor == "" || r.At == 0 {
					t.Errorf("audit row %+v: want actor, time and detail %q", r, tc.why)
				}
			}
			if slices.Sort(got); !slices.Equal(got, tc.want) {
				t.Errorf("household reads audited %v, want %v", got, tc.want)
			}
		})
	}
	checkNoPIIInAudit(t, n, []string{"Moreno", "Benítez", "Familia"})

	// No audit, no label: with the ledger closed the audit cannot be
	// written, and nothing is returned.
	n.Ledger.Close()
	if hs, _, err := n.Registry.ListHouseholds(ctx, vol, 0, 10); err == nil || len(hs) != 0 {
		t.Errorf("listing without an audit trail = %+v, %v; want an error and nothing", hs, err)
	}
	if hs, err := n.Registry.HouseholdMembers(ctx, vol, hids, true); err == nil || len(hs) != 0 {
		t.Errorf("labels without an audit trail = %+v, %v; want an error and nothing", hs, err)
	}
}

// TestEmptyHouseholdMembers: a household with no members left shows
// "members": [] in JSON, never null.
func TestEmptyHouseholdMembers(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Sola"))
	h, err := n.Registry.CreateHousehold(ctx, vol, registry.HouseholdInput{Label: "Sola", Kind: "single",
		Members: []registry.Member{{Person: a.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	if h, err = n.Registry.RemoveMember(ctx, vol, h.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if got := string(mustJSON(t, h)); !strings.Contains(got, `"members":[]`) {
		t.Errorf("emptied household after removal: %s", got)
	}
	empty, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Nadie", Kind: "group"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(mustJSON(t, empty)); !strings.Contains(got, `"members":[]`) {
		t.Errorf("household created empty: %s", got)
	}
	facts, err := n.Registry.HouseholdMembers(ctx, vol, []string{h.ID, empty.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	for id, f := range facts {
		if got := string(mustJSON(t, f)); !strings.Contains(got, `"members":[]`) {
			t.Errorf("household facts of %s: %s", id, got)
		}
	}
}
