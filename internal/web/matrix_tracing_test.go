package web

import (
	"context"
	"fmt"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/tracing"
)

// readers may read tracing reports (trace.read); writers decide on them
// (trace.decide) and see duplicates; every role may take a report down.
var readers = []auth.Role{auth.Coordinator, auth.Volunteer, auth.Legal}

// tracingFixtures registers the fixture person a second time (the pair the
// duplicates pages must show) and files an open report about her with
// nothing in it that a role may not see: the report's page and matches
// must show her as a candidate with only the fields each role may see.
func tracingFixtures(t *testing.T, e *env, f *fixtures) {
	t.Helper()
	f.duplicate = e.register(samplePerson("Fixturina", "Zelaya"))
	age := 39
	r, _, err := e.n.Tracing.Report(context.Background(), auth.Operator("test"), tracing.ReportInput{GivenNames: "Fixturina",
		Surnames: "Zelaya Quintanilla", Sex: "F", Age: &age, Nationality: "HN", Relation: "sibling", ReporterName: "Marta"})
	if err != nil {
		t.Fatal(err)
	}
	f.report = r.ID
}

// withReport files a throwaway open report for a request that decides on one.
func withReport(t *testing.T, e *env, f *fixtures) map[string]string {
	f.n++
	age := 9
	r, _, err := e.n.Tracing.Report(context.Background(), auth.Operator("test"),
		tracing.ReportInput{GivenNames: fmt.Sprintf("Tmp%d", f.n), Surnames: "Buscada", Age: &age})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"id": r.ID}
}

// withPair registers two throwaway people, for "different people" and merges.
func withPair(t *testing.T, e *env, f *fixtures) map[string]string {
	return map[string]string{"a": newPerson(t, e, f).ID, "b": newPerson(t, e, f).ID}
}

func tracingRoutes(form func(kv ...string) func(map[string]string) any, jsonBody func(string) func(map[string]string) any) []route {
	report := `{"given_names":"Tmp","surnames":"Buscada","age":9,"relation":"parent"}`
	return []route{
		{pattern: "GET /tracing", path: "/tracing?status=all", page: true, ok: 200, allow: readers},
		{pattern: "GET /tracing/new", path: "/tracing/new", page: true, ok: 200},
		{pattern: "POST /tracing", path: "/tracing", page: true, ok: 303,
			body: form("given_names", "Tmp", "surnames", "Buscada", "age", "9", "relation", "parent")},
		{pattern: "GET /tracing/{id}", path: "/tracing/{report}", page: true, ok: 200, allow: readers, showsPerson: true},
		{pattern: "POST /tracing/{id}/confirm", path: "/tracing/{id}/confirm", page: true, ok: 303, allow: writers, prep: withReport,
			body: form("candidate", "person/{person}", "outcome", "reunited")},
		{pattern: "POST /tracing/{id}/reject", path: "/tracing/{id}/reject", page: true, ok: 303, allow: writers, prep: withReport,
			body: form("candidate", "person/{person}")},
		{pattern: "POST /tracing/{id}/withdraw", path: "/tracing/{id}/withdraw", page: true, ok: 303, allow: writers, prep: withReport,
			body: form("reason", "duplicate_report")},
		{pattern: "GET /duplicates", path: "/duplicates", page: true, ok: 200, allow: writers, showsPerson: true},
		{pattern: "POST /duplicates/distinct", path: "/duplicates/distinct", page: true, ok: 303, allow: writers, prep: withPair,
			body: form("a", "{a}", "b", "{b}")},
		{pattern: "POST /duplicates/merge", path: "/duplicates/merge", page: true, ok: 303, allow: coordOnly, prep: withPair,
			body: form("keep", "{a}", "duplicate", "{b}")},

		{pattern: "POST /api/v1/reports", path: "/api/v1/reports", ok: 201, body: jsonBody(report)},
		{pattern: "GET /api/v1/reports", path: "/api/v1/reports?status=all&limit=200", ok: 200, allow: readers},
		{pattern: "GET /api/v1/reports/{id}", path: "/api/v1/reports/{report}", ok: 200, allow: readers},
		// The matches hold the fixture person, as each role may see her.
		{pattern: "GET /api/v1/reports/{id}/matches", path: "/api/v1/reports/{report}/matches", ok: 200, allow: readers,
			showsPerson: true},
		{pattern: "POST /api/v1/reports/{id}/confirm", path: "/api/v1/reports/{id}/confirm", ok: 200, allow: writers, prep: withReport,
			body: jsonBody(`{"candidate":"person/{person}","outcome":"located"}`)},
		{pattern: "POST /api/v1/reports/{id}/reject", path: "/api/v1/reports/{id}/reject", ok: 200, allow: writers, prep: withReport,
			body: jsonBody(`{"candidate":"person/{person}"}`)},
		{pattern: "POST /api/v1/reports/{id}/withdraw", path: "/api/v1/reports/{id}/withdraw", ok: 200, allow: writers, prep: withReport,
			body: jsonBody(`{"reason":"found_elsewhere"}`)},
		{pattern: "GET /api/v1/duplicates", path: "/api/v1/duplicates", ok: 200, allow: writers, showsPerson: true},
		{pattern: "POST /api/v1/duplicates/distinct", path: "/api/v1/duplicates/distinct", ok: 200, allow: writers, prep: withPair,
			body: jsonBody(`{"a":"{a}","b":"{b}"}`)},
		{pattern: "POST /api/v1/people/{id}/merge", path: "/api/v1/people/{a}/merge", ok: 200, allow: coordOnly, prep: withPair,
			body: jsonBody(`{"duplicate":"{b}"}`)},
	}
}
