package replication_test

import (
	"context"
	"strings"
	"testing"

	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/replication"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

// TestConflictSides: a blanket two offline desks each gave the same
// person, and a report one node closed as located and the other withdrew,
// come with sides a page can word in its own language: the item,
// quantity and stage of each distribution and who collected it; the
// outcome of each decision and the person it matched. Value stays the
// English line the command line prints.
func TestConflictSides(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t, t.TempDir(), 2)
	defer o.close()
	a, b := o.nodes[0], o.nodes[1]
	if _, err := a.Supply.DefineDefaults(ctx, op); err != nil {
		t.Fatal(err)
	}
	p, err := a.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Rosa", Surname1: "Paz", Sex: "F",
		Consent: registry.Consent{Registration: true, Tracing: true}})
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := a.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: "Rosa", Surnames: "Paz"})
	if err != nil {
		t.Fatal(err)
	}
	syncAll(t, a, b)
	for i, n := range []*node.Node{a, b} {
		stage := []string{"tecun-uman", "ciudad-hidalgo"}[i]
		if _, err := n.Supply.Give(ctx, op, supply.GiveInput{Item: "blanket", Stage: stage, People: []supply.PersonRef{{Person: p.ID}}}); err != nil {
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
	cs, err := replication.Conflicts(ctx, a, op)
	if err != nil {
		t.Fatal(err)
	}
	var dist, report *replication.Conflict
	for i := range cs {
		switch cs[i].Kind {
		case replication.ConflictDistribution:
			dist = &cs[i]
		case replication.ConflictReport:
			report = &cs[i]
		}
	}
	if dist == nil || report == nil || len(dist.Sides) != 2 || len(report.Sides) != 2 {
		t.Fatalf("conflicts: %+v", cs)
	}
	stages := map[string]bool{}
	for _, s := range dist.Sides {
		if s.Item != "blanket" || s.Qty != 1 || s.Ref != "person/"+p.ID || !strings.Contains(s.Value, "1 blanket at "+s.Stage) {
			t.Errorf("distribution side %+v", s)
		}
		stages[s.Stage] = true
	}
	if !stages["tecun-uman"] || !stages["ciudad-hidalgo"] {
		t.Errorf("distribution stages %v", stages)
	}
	outcomes := map[string]string{}
	for _, s := range report.Sides {
		outcomes[s.Outcome] = s.Ref
	}
	if len(outcomes) != 2 || outcomes[tracing.OutcomeLocated] != "person/"+p.ID || outcomes["withdrawn"] != "" {
		t.Errorf("report sides %+v", report.Sides)
	}
}
