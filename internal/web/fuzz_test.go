package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/tracing"
)

// fuzzRoute is a route fuzzed with arbitrary bodies: its pattern as
// registered, and the path requested.
type fuzzRoute struct{ pattern, path string }

func (r fuzzRoute) method() string { m, _, _ := strings.Cut(r.pattern, " "); return m }

// fuzzIDs are the records the fuzzed paths name.
type fuzzIDs struct{ person, household, report string }

// apiFuzzRoutes lists every JSON API route that reads a body (S18).
// TestFuzzCoversAPIRoutes holds it to the routes the server registers.
func apiFuzzRoutes(ids fuzzIDs) []fuzzRoute {
	return []fuzzRoute{
		{"POST /api/v1/people", "/api/v1/people"},
		{"PATCH /api/v1/people/{id}", "/api/v1/people/" + ids.person},
		{"POST /api/v1/people/search", "/api/v1/people/search"},
		{"POST /api/v1/households", "/api/v1/households"},
		{"POST /api/v1/households/{id}/members", "/api/v1/households/" + ids.household + "/members"},
		{"POST /api/v1/users", "/api/v1/users"},
		{"POST /api/v1/session", "/api/v1/session"},
		{"POST /api/v1/checkins", "/api/v1/checkins"},
		{"POST /api/v1/missing/found", "/api/v1/missing/found"},
		{"POST /api/v1/missing/left", "/api/v1/missing/left"},
		{"POST /api/v1/missing/rejoined", "/api/v1/missing/rejoined"},
		{"POST /api/v1/incidents", "/api/v1/incidents"},
		{"POST /api/v1/hazards", "/api/v1/hazards"},
		{"PUT /api/v1/route", "/api/v1/route"},
		{"POST /api/v1/reports", "/api/v1/reports"},
		{"POST /api/v1/reports/{id}/confirm", "/api/v1/reports/" + ids.report + "/confirm"},
		{"POST /api/v1/reports/{id}/reject", "/api/v1/reports/" + ids.report + "/reject"},
		{"POST /api/v1/reports/{id}/withdraw", "/api/v1/reports/" + ids.report + "/withdraw"},
		{"POST /api/v1/duplicates/distinct", "/api/v1/duplicates/distinct"},
		{"POST /api/v1/people/{id}/merge", "/api/v1/people/" + ids.person + "/merge"},
		{"POST /api/v1/supply/receipts", "/api/v1/supply/receipts"},
		{"POST /api/v1/supply/distributions", "/api/v1/supply/distributions"},
	}
}

// apiNoBody lists the API routes with a body-taking method whose handlers
// read no body at all: the path says everything.
var apiNoBody = []string{
	"POST /api/v1/people/{id}/card",
	"POST /api/v1/users/{username}/disable",
	"POST /api/v1/hazards/{id}/clear",
}

// TestFuzzCoversAPIRoutes fails when the server registers an API route
// that takes a body (POST, PUT, PATCH under /api/v1/) and FuzzAPIBodies
// does not fuzz it, or when the fuzz list names a route that is gone.
func TestFuzzCoversAPIRoutes(t *testing.T) {
	e := newEnv(t)
	var want []string
	for _, p := range e.s.patterns {
		method, path, _ := strings.Cut(p, " ")
		if strings.HasPrefix(path, "/api/v1/") && (method == "POST" || method == "PUT" || method == "PATCH") && !slices.Contains(apiNoBody, p) {
			want = append(want, p)
		}
	}
	var fuzzed []string
	for _, r := range apiFuzzRoutes(fuzzIDs{}) {
		fuzzed = append(fuzzed, r.pattern)
	}
	for _, p := range want {
		if !slices.Contains(fuzzed, p) {
			t.Errorf("%s takes a body but FuzzAPIBodies does not fuzz it: add it to apiFuzzRoutes (or to apiNoBody if it reads none)", p)
		}
	}
	for _, p := range append(fuzzed, apiNoBody...) {
		if !slices.Contains(e.s.patterns, p) {
			t.Errorf("%s is fuzzed or listed but the server does not register it", p)
		}
	}
}

// eventCount counts the node's events.
func (e *env) eventCount(t testing.TB) int {
	t.Helper()
	var n int
	err := e.n.Store.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		n, err = tx.CountEvents(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fuzzFixtures makes what the fuzzed routes name: two people, a
// household, an open report and the supply catalogue. The card-code
// budget is lifted so the seeds reach past it (it has tests of its own).
func fuzzFixtures(f *testing.F, e *env) (p, q registry.Person, ids fuzzIDs) {
	ctx, op := context.Background(), auth.Operator("test")
	p = e.register(samplePerson("Fuzz", "Objetivo"))
	q = e.register(samplePerson("Fuzz", "Doble"))
	rep, _, err := e.n.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: "Fuzz", Surnames: "Objetivo"})
	if err != nil {
		f.Fatal(err)
	}
	h, err := e.n.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Casa Fuzz", Kind: "family",
		Members: []registry.Member{{Person: p.ID, Role: "head"}}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.n.Supply.DefineDefaults(ctx, op); err != nil {
		f.Fatal(err)
	}
	e.s.codes = newLimiter(1_000_000, 1_000_000)
	e.s.checkins = newLimiter(1_000_000, 1_000_000)
	return p, q, fuzzIDs{person: p.ID, household: h.ID, report: rep.ID}
}

// FuzzAPIBodies posts arbitrary bodies to every JSON endpoint that takes
// one (S18): the server never fails with a 500, always answers JSON, and a
// refused request changes nothing.
func FuzzAPIBodies(f *testing.F) {
	e := newEnv(f)
	c := e.login(auth.Coordinator)
	p, q, ids := fuzzFixtures(f, e)
	h := e.s.Handler()
	paths := apiFuzzRoutes(ids)
	for _, seed := range []string{
		`{"given_names":"Ana","surname1":"Cruz","sex":"F","consent":{"registration":true}}`,
		`{"fields":{"phone":"+504 1234-5678"}}`, `{"q":"ana"}`, `{"code":"K7M4Q-X2PR9"}`,
		`{"label":"x","kind":"family","members":[{"person":"` + p.ID + `","role":"head"}]}`,
		`{"username":"zz","role":"medic","password":"long enough pw"}`, `{`, `[]`, `null`, `{"a":1}{"b":2}`, "\xff",
		// Members, donations and distributions (before the route changes).
		`{"person":"` + q.ID + `","role":"child"}`, `{"code":"` + q.Code + `","role":"kid"}`, `{"person":"` + q.ID + `","code":"` + q.Code + `"}`,
		`{"item":"water","qty":1000,"stage":"tapachula","donor":"Cruz Roja"}`, `{"item":"water","qty":-5,"stage":"paris"}`,
		`{"item":"family-tent","stage":"tapachula","people":[{"code":"` + q.Code + `"}]}`,
		`{"item":"water","stage":"tapachula","people":[{"code":"` + q.Code + `"},{"person":"` + p.ID + `"}]}`,
		`{"item":"water","people":[{"code":"K7M4Q-X2PR8"}],"override":true}`,
		`{"stage":"tecun-uman","checkins":[{"code":"` + p.Code + `"},{"person":"` + p.ID + `","at":"2018-10-20T10:00:00Z"}]}`,
		`{"person":"` + p.ID + `","stage":"tecun-uman"}`, `{"code":"` + p.Code + `","reason":"stayed"}`,
		`{"kind":"accident","severity":"low","lat":14.9,"lon":-92.2,"people":[{"code":"` + p.Code + `"}],"count":3}`,
		`{"kind":"trap","stage":"tapachula","until":"2099-01-01T00:00:00Z"}`,
		`{"stages":[{"name":"A","country":"HN","lat":1,"lon":1,"km":0},{"name":"B","country":"GT","lat":2,"lon":2,"km":5}]}`,
		`{"given_names":"Chepe","surnames":"Objetivo","sex":"M","age":9,"birth_date":"2017-05-10","relation":"parent","reporter_code":"` + p.Code + `"}`,
		`{"candidate":"person/` + p.ID + `","outcome":"reunited"}`, `{"candidate":"report/` + ids.report + `"}`, `{"reason":"other"}`,
		`{"a":"` + p.ID + `","b":"` + q.ID + `"}`, `{"duplicate":"` + q.ID + `"}`, `{"age":-1,"sex":"Q"}`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		route := paths[int(which)%len(paths)]
		before := e.eventCount(t)
		req := httptest.NewRequest(route.method(), route.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", c.csrf)
		for k, v := range c.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", route.method(), route.path, body, rec.Code, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) && rec.Header().Get("Content-Encoding") == "" {
			t.Fatalf("%s %s: response is not JSON: %q", route.method(), route.path, rec.Body.String())
		}
		if rec.Code >= 400 && e.eventCount(t) != before {
			t.Fatalf("%s %s refused with %d but wrote events", route.method(), route.path, rec.Code)
		}
	})
}
