package replication_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/replication"
	"caravana/internal/tracing"
)

// syncAll exchanges everything between two nodes.
func syncAll(t *testing.T, a, b *node.Node) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		deliver(t, r, a, b, 100_000, false)
		deliver(t, r, b, a, 100_000, false)
	}
}

func kinds(cs []replication.Conflict) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Kind]++
	}
	return m
}

// TestConflicts: what two nodes did concurrently — the same field changed,
// the same person registered, the same report closed differently, the same
// username added — is listed on both with both sides, until resolved.
func TestConflicts(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t, t.TempDir(), 2)
	defer o.close()
	a, b := o.nodes[0], o.nodes[1]
	syncAll(t, a, b)
	p, err := a.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Rosa", Surname1: "Paz", Sex: "F",
		Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := a.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: "Chuy", Surnames: "Orellana"})
	if err != nil {
		t.Fatal(err)
	}
	syncAll(t, a, b)
	// Concurrently, on each node:
	twin := registry.PersonInput{GivenNames: "Wilmer Josué", Surname1: "Sánchez", Surname2: "Aguilar", Sex: "M",
		BirthDate: "1999-01-14", OriginTown: "Tocoa", Nationality: "HN", Consent: registry.Consent{Registration: true, Tracing: true}}
	for i, n := range []*node.Node{a, b} {
		if _, err := n.Registry.Update(ctx, op, p.ID, registry.Patch{Fields: map[string]string{"surname2": []string{"Ruiz", "Díaz"}[i]}}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Registry.Register(ctx, op, twin); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Auth.AddUser(ctx, op, "desk", auth.Volunteer, "long enough pw"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Tracing.Confirm(ctx, op, rep.ID, "person/"+p.ID, tracing.OutcomeLocated); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Tracing.Withdraw(ctx, op, rep.ID, "found_elsewhere"); err != nil {
		t.Fatal(err)
	}
	syncAll(t, a, b)
	for _, n := range []*node.Node{a, b} {
		cs, err := replication.Conflicts(ctx, n, op)
		if err != nil {
			t.Fatal(err)
		}
		got := kinds(cs)
		if got[replication.ConflictField] != 1 || got[replication.ConflictDuplicate] != 1 || got[replication.ConflictUsername] != 1 ||
			got[replication.ConflictReport] != 1 {
			t.Fatalf("conflicts on %s = %v: %+v", n.Keys.NodeID, got, cs)
		}
		for _, c := range cs {
			if len(c.Sides) < 2 || c.Resolve == "" {
				t.Errorf("a conflict without both sides or a way out: %+v", c)
			}
		}
	}
	if _, err := replication.Conflicts(ctx, a, auth.Principal{Role: auth.Volunteer}); err == nil {
		t.Fatal("a volunteer listed the conflicts")
	}
	// Resolve each the way the list says.
	if _, err := a.Registry.ResolveField(ctx, op, p.ID, "surname2", "Ruiz"); err != nil {
		t.Fatal(err)
	}
	cs, _ := replication.Conflicts(ctx, a, op)
	for _, c := range cs {
		switch c.Kind {
		case replication.ConflictDuplicate:
			if err := a.Tracing.Merge(ctx, op, c.Sides[0].Ref[len("person/"):], c.Sides[1].Ref[len("person/"):]); err != nil {
				t.Fatal(err)
			}
		case replication.ConflictUsername:
			if err := a.Auth.Disable(ctx, op, c.Sides[1].Ref); err != nil {
				t.Fatal(err)
			}
		case replication.ConflictReport:
			if err := a.Tracing.Review(ctx, op, rep.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncAll(t, a, b)
	for _, n := range []*node.Node{a, b} {
		if cs, err := replication.Conflicts(ctx, n, op); err != nil || len(cs) != 0 {
			t.Fatalf("after resolving: %+v %v", cs, err)
		}
	}
}
