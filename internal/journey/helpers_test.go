package journey_test

import (
	"context"
	"slices"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// testKDF is a cheap Argon2id setting, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

var (
	ctx    = context.Background()
	coord  = auth.Principal{UserID: "u-coord", Username: "carmen", Role: auth.Coordinator}
	vol    = auth.Principal{UserID: "u-vol", Username: "victor", Role: auth.Volunteer}
	legal  = auth.Principal{UserID: "u-legal", Username: "lucia", Role: auth.Legal}
	medic  = auth.Principal{UserID: "u-medic", Username: "mateo", Role: auth.Medic}
	nobody = auth.Principal{UserID: "u-none", Username: "member", Role: "member"}
)

func newNode(t testing.TB) *node.Node {
	t.Helper()
	cfg := node.Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

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
