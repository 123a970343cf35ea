package journey_test

import (
	"context"
	"slices"
	"testing"

	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/testnode"
)

var (
	ctx    = context.Background()
	coord  = testnode.Coord
	vol    = testnode.Vol
	legal  = testnode.Legal
	medic  = testnode.Medic
	nobody = testnode.Nobody
)

func newNode(t testing.TB) *node.Node { return testnode.New(t) }

func register(t testing.TB, n *node.Node, given, surname, sex, birth string, flags ...string) registry.Person {
	t.Helper()
	p, err := n.Registry.Register(ctx, coord, registry.PersonInput{GivenNames: given, Surname1: surname, Sex: sex,
		BirthDate: birth, Flags: flags, Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func household(t testing.TB, n *node.Node, label, kind string, members ...registry.Member) string {
	t.Helper()
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: label, Kind: kind, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID
}

func countEvents(t testing.TB, n *node.Node) int {
	t.Helper()
	var c int
	if err := n.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		c, err = tx.CountEvents(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func audit(t testing.TB, n *node.Node, f store.AuditFilter) []store.AuditEntry {
	t.Helper()
	var rows []store.AuditEntry
	if f.Limit == 0 {
		f.Limit = 100000
	}
	if err := n.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		rows, err = tx.Audit(ctx, f)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// typo changes one symbol of a valid code, which its check character catches.
func typo(code string) string {
	b := []byte(code)
	if b[3] == '7' {
		b[3] = '8'
	} else {
		b[3] = '7'
	}
	return string(b)
}

func ids(ps ...registry.Person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	slices.Sort(out)
	return out
}
