package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/store"
	"caravana/internal/tracing"
)

// FuzzAPIBodies posts arbitrary bodies to every JSON endpoint that takes
// one (S18): the server never fails with a 500, always answers JSON, and a
// refused request changes nothing.
func FuzzAPIBodies(f *testing.F) {
	e := newEnv(f)
	c := e.login(auth.Coordinator)
	p := e.register(samplePerson("Fuzz", "Objetivo"))
	q := e.register(samplePerson("Fuzz", "Doble"))
	rep, _, err := e.n.Tracing.Report(context.Background(), auth.Operator("test"), tracing.ReportInput{GivenNames: "Fuzz", Surnames: "Objetivo"})
	if err != nil {
		f.Fatal(err)
	}
	h := e.s.Handler()
	var paths = []struct{ method, path string }{
		{"POST", "/api/v1/people"},
		{"PATCH", "/api/v1/people/" + p.ID},
		{"POST", "/api/v1/people/search"},
		{"POST", "/api/v1/households"},
		{"POST", "/api/v1/users"},
		{"POST", "/api/v1/session"},
		{"POST", "/api/v1/checkins"},
		{"POST", "/api/v1/missing/found"},
		{"POST", "/api/v1/missing/left"},
		{"POST", "/api/v1/missing/rejoined"},
		{"POST", "/api/v1/incidents"},
		{"POST", "/api/v1/hazards"},
		{"PUT", "/api/v1/route"},
		{"POST", "/api/v1/reports"},
		{"POST", "/api/v1/reports/" + rep.ID + "/confirm"},
		{"POST", "/api/v1/reports/" + rep.ID + "/reject"},
		{"POST", "/api/v1/reports/" + rep.ID + "/withdraw"},
		{"POST", "/api/v1/duplicates/distinct"},
		{"POST", "/api/v1/people/" + p.ID + "/merge"},
	}
	for _, seed := range []string{
		`{"given_names":"Ana","surname1":"Cruz","sex":"F","consent":{"registration":true}}`,
		`{"fields":{"phone":"+504 1234-5678"}}`, `{"q":"ana"}`, `{"code":"K7M4Q-X2PR9"}`,
		`{"label":"x","kind":"family","members":[{"person":"` + p.ID + `","role":"head"}]}`,
		`{"username":"zz","role":"medic","password":"long enough pw"}`, `{`, `[]`, `null`, `{"a":1}{"b":2}`, "\xff",
		`{"stage":"tecun-uman","checkins":[{"code":"` + p.Code + `"},{"person":"` + p.ID + `","at":"2018-10-20T10:00:00Z"}]}`,
		`{"person":"` + p.ID + `","stage":"tecun-uman"}`, `{"code":"` + p.Code + `","reason":"stayed"}`,
		`{"kind":"accident","severity":"low","lat":14.9,"lon":-92.2,"people":[{"code":"` + p.Code + `"}],"count":3}`,
		`{"kind":"trap","stage":"tapachula","until":"2099-01-01T00:00:00Z"}`,
		`{"stages":[{"name":"A","country":"HN","lat":1,"lon":1,"km":0},{"name":"B","country":"GT","lat":2,"lon":2,"km":5}]}`,
		`{"given_names":"Chepe","surnames":"Objetivo","sex":"M","age":9,"birth_date":"2017-05-10","relation":"parent","reporter_code":"` + p.Code + `"}`,
		`{"candidate":"person/` + p.ID + `","outcome":"reunited"}`, `{"candidate":"report/` + rep.ID + `"}`, `{"reason":"other"}`,
		`{"a":"` + p.ID + `","b":"` + q.ID + `"}`, `{"duplicate":"` + q.ID + `"}`, `{"age":-1,"sex":"Q"}`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(seed))
		}
	}
	events := func() int {
		var n int
		e.n.Store.View(context.Background(), func(tx store.ReadTx) error {
			var err error
			n, err = tx.CountEvents(context.Background())
			return err
		})
		return n
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		route := paths[int(which)%len(paths)]
		before := events()
		req := httptest.NewRequest(route.method, route.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", c.csrf)
		for k, v := range c.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", route.method, route.path, body, rec.Code, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) && rec.Header().Get("Content-Encoding") == "" {
			t.Fatalf("%s %s: response is not JSON: %q", route.method, route.path, rec.Body.String())
		}
		if rec.Code >= 400 && events() != before {
			t.Fatalf("%s %s refused with %d but wrote events", route.method, route.path, rec.Code)
		}
	})
}
