package tracing_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// testKDF is a cheap Argon2id setting, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

// today is the clock in these tests, so ages never drift with the real date.
var today = time.Date(2018, 10, 25, 12, 0, 0, 0, time.UTC)

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
	tracing.SetNow(n.Tracing, func() time.Time { return today })
	return n
}

// person is a registration with tracing consent.
func person(given, s1, s2, sex, birth, town string) registry.PersonInput {
	return registry.PersonInput{GivenNames: given, Surname1: s1, Surname2: s2, Sex: sex, BirthDate: birth,
		Nationality: "HN", OriginTown: town, Consent: registry.Consent{Registration: true, Tracing: true}}
}

func register(t testing.TB, n *node.Node, in registry.PersonInput) registry.Person {
	t.Helper()
	p, err := n.Registry.Register(ctx, coord, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func age(a int) *int { return &a }

// population registers a small caravan of distinct people around the ones
// a test looks for, so the matcher has something to tell them from.
func population(t testing.TB, n *node.Node) {
	t.Helper()
	for _, p := range []registry.PersonInput{
		person("María Fernanda", "López", "Castillo", "F", "1990-02-11", "Choloma"),
		person("Carlos Alberto", "Martínez", "Reyes", "M", "1985-07-30", "La Ceiba"),
		person("Ana Lucía", "García", "Mejía", "F", "2009-12-01", "Tegucigalpa"),
		person("Luis Fernando", "Hernández", "Pineda", "M", "1978-05-05", "Olanchito"),
		person("Karla Patricia", "Rodríguez", "Flores", "F", "1995-09-19", "Comayagua"),
		person("Juan Carlos", "Pérez", "Zelaya", "M", "2001-03-03", "Juticalpa"),
		person("Rosa Elena", "Ramírez", "Cruz", "F", "1969-11-23", "Danlí"),
		person("Wilmer Josué", "Sánchez", "Aguilar", "M", "1999-01-14", "Tocoa"),
	} {
		register(t, n, p)
	}
}
