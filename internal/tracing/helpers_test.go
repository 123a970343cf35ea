package tracing_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/testnode"
	"caravana/internal/tracing"
)

var (
	ctx    = context.Background()
	coord  = testnode.Coord
	vol    = testnode.Vol
	legal  = testnode.Legal
	medic  = testnode.Medic
	nobody = testnode.Nobody
)

// today is the clock in these tests, so ages never drift with the real date.
var today = time.Date(2018, 10, 25, 12, 0, 0, 0, time.UTC)

func newNode(t testing.TB) *node.Node {
	t.Helper()
	n := testnode.New(t)
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
