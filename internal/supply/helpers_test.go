package supply_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/testnode"
)

var (
	ctx   = context.Background()
	coord = testnode.Coord
	vol   = testnode.Vol
)

func newNode(t testing.TB) *node.Node { return testnode.New(t) }

// joinNode makes a second node of n's organisation, enrolled by n, and
// brings it up to date with n.
func joinNode(t *testing.T, n *node.Node, name string) *node.Node {
	t.Helper()
	keys, err := crypto.NewKeys(testnode.KDF)
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Dir: t.TempDir(), KDF: testnode.KDF, PasswordKDF: testnode.KDF}
	j, err := node.Join(ctx, cfg, keys, testnode.Passphrase, n.Keys.KeyID, n.Keys.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	founder, err := n.Ledger.Founder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Ledger.Trust(ctx, founder); err != nil {
		t.Fatal(err)
	}
	if err := n.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: name,
		SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	exchange(t, n, j)
	return j
}

// exchange delivers everything each node lacks to the other, as a sync does.
func exchange(t *testing.T, a, b *node.Node) {
	t.Helper()
	for _, pair := range [][2]*node.Node{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		for {
			vec, err := to.Ledger.Vector(ctx)
			if err != nil {
				t.Fatal(err)
			}
			evs, more, err := from.Ledger.Missing(ctx, vec, 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			res, err := to.Ledger.Import(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) > 0 {
				t.Fatalf("rejected: %v", res.Rejected)
			}
			if !more {
				break
			}
		}
	}
}

func stateHash(t *testing.T, n *node.Node) string {
	t.Helper()
	rep, err := n.Ledger.Verify(ctx, true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	return rep.StateHash
}

func register(t testing.TB, n *node.Node, given string) registry.Person {
	t.Helper()
	p, err := n.Registry.Register(ctx, coord, registry.PersonInput{GivenNames: given, Surname1: "Canario", Sex: "F",
		BirthDate: "1990-01-01", Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// family registers people and puts them in one household.
func family(t testing.TB, n *node.Node, names ...string) (string, []registry.Person) {
	t.Helper()
	var ps []registry.Person
	var ms []registry.Member
	for i, name := range names {
		p := register(t, n, name)
		ps = append(ps, p)
		role := "child"
		if i == 0 {
			role = "head"
		}
		ms = append(ms, registry.Member{Person: p.ID, Role: role})
	}
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Familia", Kind: "family", Members: ms})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID, ps
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

// fieldErr returns the first problem of a validation error, failing the
// test if err is something else.
func fieldErr(t *testing.T, err error) registry.FieldError {
	t.Helper()
	var v registry.ValidationError
	if !errors.As(err, &v) || len(v) == 0 {
		t.Fatalf("want a validation error, got %v", err)
	}
	return v[0]
}
