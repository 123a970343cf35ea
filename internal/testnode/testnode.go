// Package testnode makes throwaway nodes for tests in other packages: a
// fresh folder, cheap Argon2id parameters set explicitly (never a default),
// a first coordinator, and the staff principals tests act as. It is
// imported by tests only.
package testnode

import (
	"context"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
)

// KDF is a cheap Argon2id setting for tests only.
var KDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

// Passphrase unlocks every test node.
const Passphrase = "correct horse battery"

// Principals tests act as, one per staff role, and one with no role.
var (
	Coord  = auth.Principal{UserID: "u-coord", Username: "carmen", Role: auth.Coordinator}
	Vol    = auth.Principal{UserID: "u-vol", Username: "victor", Role: auth.Volunteer}
	Legal  = auth.Principal{UserID: "u-legal", Username: "lucia", Role: auth.Legal}
	Medic  = auth.Principal{UserID: "u-medic", Username: "mateo", Role: auth.Medic}
	Nobody = auth.Principal{UserID: "u-none", Username: "member", Role: "member"}
)

// New makes a node in a temporary folder, closed when the test ends.
func New(t testing.TB) *node.Node {
	t.Helper()
	cfg := node.Config{Dir: t.TempDir(), Passphrase: Passphrase, KDF: KDF, PasswordKDF: KDF}
	n, err := node.Init(context.Background(), cfg, node.InitOptions{Name: "test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}
