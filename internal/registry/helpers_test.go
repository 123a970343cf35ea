package registry_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/names"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// testKDF is a cheap Argon2id setting, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

// today is the registry's clock in these tests: the day the 2018 caravan
// left San Pedro Sula, so ages never drift with the real date.
var today = time.Date(2018, 10, 20, 12, 0, 0, 0, time.UTC)

var (
	coord  = auth.Principal{UserID: "u-coord", Username: "carmen", Role: auth.Coordinator}
	vol    = auth.Principal{UserID: "u-vol", Username: "victor", Role: auth.Volunteer}
	legal  = auth.Principal{UserID: "u-legal", Username: "lucia", Role: auth.Legal}
	medic  = auth.Principal{UserID: "u-medic", Username: "mateo", Role: auth.Medic}
	nobody = auth.Principal{UserID: "u-none", Username: "member", Role: "member"}
)

var ctx = context.Background()

// newNode makes a fresh node in a temporary folder, its registry clock fixed at today.
func newNode(t testing.TB) *node.Node {
	t.Helper()
	cfg := node.Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	registry.SetNow(n.Registry, func() time.Time { return today })
	return n
}

// fullPerson has every field set, with names distinctive enough to search
// raw storage for, and every vulnerability flag: a girl of 15 on today, so
// the child-protection flags fit her age.
func fullPerson() registry.PersonInput {
	return registry.PersonInput{
		GivenNames: "Xochiquetzal Anacleta", Surname1: "Tlapaltecatl", Surname2: "Huitzilihuitl",
		Sex: "F", BirthDate: "2003-03-14", Nationality: "HN", OriginTown: "Quimistancito",
		Phone: "+504 9812-3456", Notes: "Torcedura de tobillo derecho",
		Flags:   []string{"unaccompanied_child", "separated_child", "pregnant", "disability", "elderly", "medical"},
		Consent: registry.Consent{Registration: true, Tracing: true},
	}
}

// secrets are the PII strings of fullPerson that must never appear in
// storage, audit rows or error messages: as typed, and folded as the search
// index sees them.
func secrets(in registry.PersonInput) []string {
	out := []string{in.BirthDate, in.Phone, strings.NewReplacer(" ", "", "-", "", "+", "").Replace(in.Phone), in.OriginTown, in.Notes}
	for _, v := range []string{in.GivenNames, in.Surname1, in.Surname2} {
		out = append(out, v)
		out = append(out, names.Tokens(v)...)
	}
	var nonEmpty []string
	for _, s := range out {
		if len(s) >= 4 {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return nonEmpty
}

// leaked reports which of secrets occur in s, ignoring case.
func leaked(s string, secrets []string) []string {
	var out []string
	low := strings.ToLower(s)
	for _, sec := range secrets {
		if strings.Contains(low, strings.ToLower(sec)) {
			out = append(out, sec)
		}
	}
	return out
}

func register(t testing.TB, n *node.Node, in registry.PersonInput) registry.Person {
	t.Helper()
	p, err := n.Registry.Register(ctx, coord, in)
	if err != nil {
		t.Fatalf("Register(%s %s): %v", in.GivenNames, in.Surname1, err)
	}
	return p
}

// person is a minimal valid input.
func person(given, surname string) registry.PersonInput {
	return registry.PersonInput{GivenNames: given, Surname1: surname, Sex: "X", Consent: registry.Consent{Registration: true}}
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

// auditSince returns the audit rows with an id above after, oldest first.
func auditSince(t testing.TB, n *node.Node, after int64) []store.AuditEntry {
	t.Helper()
	var rows []store.AuditEntry
	if err := n.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		rows, err = tx.Audit(ctx, store.AuditFilter{Limit: 1000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].ID > after {
			out = append(out, rows[i])
		}
	}
	return out
}

// lastAuditID is the id of the newest audit row (0 if none).
func lastAuditID(t testing.TB, n *node.Node) int64 {
	t.Helper()
	rows := auditSince(t, n, 0)
	if len(rows) == 0 {
		return 0
	}
	return rows[len(rows)-1].ID
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
