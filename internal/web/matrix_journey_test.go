package web

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
)

// journeyFixtures puts the matrix's fixture person on the missing list at
// agua-caliente: seen at san-pedro-sula, not at agua-caliente, where
// someone else was counted. The missing pages must show them (with only
// the flags each role may see).
func journeyFixtures(t *testing.T, e *env, f *fixtures) {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	other := newPerson(t, e, f)
	for _, ci := range []struct {
		stage string
		ids   []string
	}{{"san-pedro-sula", []string{f.person.ID, other.ID}}, {"agua-caliente", []string{other.ID}}} {
		var ins []journey.CheckinInput
		for _, id := range ci.ids {
			ins = append(ins, journey.CheckinInput{PersonRef: journey.PersonRef{Person: id}})
		}
		if _, err := e.n.Journey.CheckInBatch(ctx, op, ci.stage, ins); err != nil {
			t.Fatal(err)
		}
	}
}

func withHazard(t *testing.T, e *env, f *fixtures) map[string]string {
	h, err := e.n.Journey.RecordHazard(context.Background(), auth.Operator("test"),
		journey.HazardInput{Kind: "flooding", Place: journey.Place{Stage: "tecun-uman"}, Until: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"id": h.ID}
}

// defaultRouteFile is the shipped route as a CSV file and as a JSON body:
// importing it keeps every stage id the fixtures use.
func defaultRouteFile(t testing.TB) (csv, js []byte) {
	var c, j bytes.Buffer
	if err := journey.DefaultRoute().WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	if err := journey.DefaultRoute().WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	return c.Bytes(), j.Bytes()
}

func journeyRoutes(e *env, form func(kv ...string) func(map[string]string) any, jsonBody func(string) func(map[string]string) any) []route {
	csv, js := defaultRouteFile(e.t)
	until := time.Now().Add(24 * time.Hour).UTC()
	file := func(map[string]string) any { return upload{fields: url.Values{}, name: "ruta.csv", data: csv} }
	return []route{
		{pattern: "GET /route", path: "/route", page: true, ok: 200},
		{pattern: "POST /route", path: "/route", page: true, ok: 303, allow: coordOnly, body: file},
		{pattern: "GET /headcounts", path: "/headcounts", page: true, ok: 200, showsFlags: true},
		{pattern: "GET /checkin", path: "/checkin", page: true, ok: 200, allow: writers},
		{pattern: "GET /checkin/{stage}", path: "/checkin/agua-caliente", page: true, ok: 200, allow: writers},
		{pattern: "POST /checkin/{stage}", path: "/checkin/agua-caliente", page: true, ok: 303, allow: writers, prep: withPerson,
			body: form("code", "{code}")},
		{pattern: "GET /missing", path: "/missing?stage=agua-caliente", page: true, ok: 200, allow: writers, showsPerson: true},
		{pattern: "POST /missing/found", path: "/missing/found", page: true, ok: 303, allow: writers, prep: withPerson,
			body: form("person", "{id}", "stage", "agua-caliente")},
		{pattern: "POST /missing/left", path: "/missing/left", page: true, ok: 303, allow: writers, prep: withPerson,
			body: form("person", "{id}", "reason", "stayed", "stage", "agua-caliente")},
		{pattern: "POST /missing/rejoined", path: "/missing/rejoined", page: true, ok: 303, allow: writers, prep: withPerson,
			body: form("person", "{id}")},
		{pattern: "GET /timeline", path: "/timeline", page: true, ok: 200},
		{pattern: "POST /incidents", path: "/incidents", page: true, ok: 303,
			body: form("kind", "accident", "severity", "low", "stage", "tecun-uman", "count", "3")},
		{pattern: "POST /hazards", path: "/hazards", page: true, ok: 303,
			body: form("kind", "flooding", "stage", "tecun-uman", "until", until.Format("2006-01-02T15:04"))},
		{pattern: "POST /hazards/{id}/clear", path: "/hazards/{id}/clear", page: true, ok: 303, prep: withHazard, body: form()},

		{pattern: "GET /api/v1/route", path: "/api/v1/route", ok: 200},
		{pattern: "PUT /api/v1/route", path: "/api/v1/route", ok: 200, allow: coordOnly, body: jsonBody(string(js))},
		{pattern: "GET /api/v1/map", path: "/api/v1/map", ok: 200},
		{pattern: "GET /api/v1/headcounts", path: "/api/v1/headcounts", ok: 200, showsFlags: true},
		{pattern: "POST /api/v1/checkins", path: "/api/v1/checkins", ok: 200, allow: writers, prep: withPerson,
			body: jsonBody(`{"stage":"agua-caliente","checkins":[{"code":"{code}"}]}`)},
		{pattern: "GET /api/v1/progress", path: "/api/v1/progress?stage=agua-caliente", ok: 200},
		{pattern: "GET /api/v1/missing", path: "/api/v1/missing?stage=agua-caliente&names=true", ok: 200, allow: writers, showsPerson: true},
		{pattern: "POST /api/v1/missing/found", path: "/api/v1/missing/found", ok: 200, allow: writers, prep: withPerson,
			body: jsonBody(`{"person":"{id}","stage":"agua-caliente"}`)},
		{pattern: "POST /api/v1/missing/left", path: "/api/v1/missing/left", ok: 200, allow: writers, prep: withPerson,
			body: jsonBody(`{"code":"{code}","reason":"hospital"}`)},
		{pattern: "POST /api/v1/missing/rejoined", path: "/api/v1/missing/rejoined", ok: 200, allow: writers, prep: withPerson,
			body: jsonBody(`{"person":"{id}"}`)},
		{pattern: "GET /api/v1/incidents", path: "/api/v1/incidents", ok: 200},
		{pattern: "POST /api/v1/incidents", path: "/api/v1/incidents", ok: 201, prep: withPerson,
			body: jsonBody(`{"kind":"accident","severity":"severe","stage":"tecun-uman","people":[{"code":"{code}"}]}`)},
		{pattern: "GET /api/v1/hazards", path: "/api/v1/hazards?live=true", ok: 200},
		{pattern: "POST /api/v1/hazards", path: "/api/v1/hazards", ok: 201,
			body: jsonBody(`{"kind":"trap","lat":14.9,"lon":-92.1,"until":"` + until.Format(time.RFC3339) + `"}`)},
		{pattern: "POST /api/v1/hazards/{id}/clear", path: "/api/v1/hazards/{id}/clear", ok: 200, prep: withHazard},
		{pattern: "GET /api/v1/timeline", path: "/api/v1/timeline", ok: 200},
	}
}
