package web

import (
	"context"
	"testing"

	"caravana/internal/auth"
)

// withCatalogue loads the default supply catalogue (once; again is a no-op).
func withCatalogue(t *testing.T, e *env, f *fixtures) map[string]string {
	if _, err := e.n.Supply.DefineDefaults(context.Background(), auth.Operator("test")); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"fcode": f.person.Code}
}

// withRecipient loads the catalogue and registers a throwaway person, so
// each role's distribution goes to a household that has had nothing yet.
func withRecipient(t *testing.T, e *env, f *fixtures) map[string]string {
	v := withCatalogue(t, e, f)
	for k, x := range withPerson(t, e, f) {
		v[k] = x
	}
	return v
}

// supplyRoutes: supplies are for the distribution desk (volunteers) and
// coordinators; legal and medical staff get 403 everywhere. The check
// shows the fixture person's household at a glance, with only the fields
// each role may see.
func supplyRoutes(form func(kv ...string) func(map[string]string) any, jsonBody func(string) func(map[string]string) any) []route {
	return []route{
		{pattern: "GET /supply", path: "/supply", page: true, ok: 200, allow: writers, prep: withCatalogue},
		{pattern: "POST /supply/check", path: "/supply/check", page: true, ok: 200, allow: writers, prep: withCatalogue,
			showsPerson: true, body: form("item", "family-tent", "stage", "tecun-uman", "code", "{fcode}")},
		{pattern: "POST /supply/give", path: "/supply/give", page: true, ok: 303, allow: writers, prep: withRecipient,
			body: form("item", "water", "stage", "tecun-uman", "code", "{code}")},
		{pattern: "POST /supply/receive", path: "/supply/receive", page: true, ok: 303, allow: writers, prep: withCatalogue,
			body: form("item", "water", "qty", "1,000", "stage", "tecun-uman", "donor", "Parroquia")},
		{pattern: "GET /api/v1/supply/items", path: "/api/v1/supply/items", ok: 200, allow: writers, prep: withCatalogue},
		{pattern: "GET /api/v1/supply/stock", path: "/api/v1/supply/stock?stage=tecun-uman", ok: 200, allow: writers},
		{pattern: "POST /api/v1/supply/distributions", path: "/api/v1/supply/distributions", ok: 201, allow: writers,
			prep: withRecipient, body: jsonBody(`{"item":"hygiene-kit","stage":"tecun-uman","people":[{"code":"{code}"}]}`)},
		{pattern: "POST /api/v1/supply/receipts", path: "/api/v1/supply/receipts", ok: 201, allow: writers, prep: withCatalogue,
			body: jsonBody(`{"item":"blanket","qty":40,"stage":"tecun-uman","donor":"Cruz Roja"}`)},
	}
}
