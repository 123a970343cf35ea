package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// traced registers someone who consented to family tracing. Birth dates
// are fixed; ages are counted at today's date, as the matcher counts them.
func (e *env) traced(given, s1, s2, sex, birth, town string) registry.Person {
	e.t.Helper()
	return e.register(registry.PersonInput{GivenNames: given, Surname1: s1, Surname2: s2, Sex: sex, BirthDate: birth,
		Nationality: "HN", OriginTown: town, Consent: registry.Consent{Registration: true, Tracing: true}})
}

// ageToday is how old someone born on birth (YYYY-MM-DD) is today.
func ageToday(t testing.TB, birth string) int {
	t.Helper()
	d, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		t.Fatal(err)
	}
	return registry.AgeOn(d, time.Now())
}

// tracingPopulation registers a small caravan of distinct people around
// the ones a test looks for, so the matcher has something to tell them from.
func tracingPopulation(e *env) {
	e.t.Helper()
	for _, p := range [][6]string{
		{"María Fernanda", "López", "Castillo", "F", "1990-02-11", "Choloma"},
		{"Carlos Alberto", "Martínez", "Reyes", "M", "1985-07-30", "La Ceiba"},
		{"Ana Lucía", "García", "Mejía", "F", "2009-12-01", "Tegucigalpa"},
		{"Luis Fernando", "Hernández", "Pineda", "M", "1978-05-05", "Olanchito"},
		{"Karla Patricia", "Rodríguez", "Flores", "F", "1995-09-19", "Comayagua"},
		{"Juan Carlos", "Pérez", "Zelaya", "M", "2001-03-03", "Juticalpa"},
		{"Rosa Elena", "Ramírez", "Cruz", "F", "1969-11-23", "Danlí"},
		{"Wilmer Josué", "Sánchez", "Aguilar", "M", "1999-01-14", "Tocoa"},
	} {
		e.traced(p[0], p[1], p[2], p[3], p[4], p[5])
	}
}

// childBirth is the registered child's birth date in the tracing tests.
const childBirth = "2017-05-10"

// chepeReport is a mother's report of her son by his nickname, one
// surname and his age, as a JSON body.
func chepeReport(t testing.TB) string {
	return fmt.Sprintf(`{"given_names":"Chepe","surnames":"Hernández","sex":"M","age":%d,"origin_town":"Choloma",`+
		`"relation":"parent","reporter_name":"Marta López","last_seen_place":"Tecún Umán"}`, ageToday(t, childBirth))
}

type apiCandidateOut struct {
	Ref, Kind, ID string
	Probability   float64
	Fields        []struct {
		Field, Level string
		Weight       float64
	}
	Person *struct {
		ID         string
		GivenNames string `json:"given_names"`
		BirthDate  string `json:"birth_date"`
	}
	Report *struct{ ID string }
}

func (c apiCandidateOut) level(field string) string {
	for _, f := range c.Fields {
		if f.Field == field {
			return f.Level
		}
	}
	return ""
}

// TestTracingAPI walks reports through the API: a report by nickname finds
// the registered child first, with an explanation and only what the role
// may see; bad input is refused whole, field by field; candidates are
// rejected and confirmed; a closed report takes no more decisions (409).
func TestTracingAPI(t *testing.T) {
	e := newEnv(t)
	tracingPopulation(e)
	child := e.traced("José", "Hernández", "López", "M", childBirth, "Choloma")
	cousin := e.traced("José", "Hernández", "Pineda", "M", "2015-02-02", "Choloma")
	// The same name without consent to tracing is never offered.
	noConsent := e.register(registry.PersonInput{GivenNames: "José", Surname1: "Hernández", Surname2: "López", Sex: "M",
		BirthDate: childBirth, Consent: registry.Consent{Registration: true}})
	v := e.login(auth.Volunteer)

	r := v.do("POST", "/api/v1/reports", chepeReport(t), nil)
	if r.status != 201 {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	var created struct {
		Report struct {
			ID, Status string
			GivenNames string `json:"given_names"`
		}
		Candidates []apiCandidateOut
	}
	r.json(t, &created)
	id := created.Report.ID
	if created.Report.Status != "open" || created.Report.GivenNames != "Chepe" || r.header.Get("Location") != "/api/v1/reports/"+id {
		t.Fatalf("created: %+v, Location %q", created.Report, r.header.Get("Location"))
	}
	if len(created.Candidates) == 0 {
		t.Fatal("no candidates")
	}
	top := created.Candidates[0]
	if top.Kind != "person" || top.ID != child.ID || top.Ref != "person/"+child.ID || top.Probability < 0.5 {
		t.Fatalf("first candidate is not the child %s: %+v", child.ID, created.Candidates)
	}
	if top.level("given_names") != "nickname" || len(top.Fields) < 5 {
		t.Errorf("explanation: %+v", top.Fields)
	}
	if top.Person == nil || top.Person.GivenNames != "José" || top.Person.BirthDate != "" {
		t.Errorf("candidate as a volunteer sees them (no birth date): %+v", top.Person)
	}
	offered := map[string]bool{}
	for _, c := range created.Candidates {
		offered[c.ID] = true
	}
	if offered[noConsent.ID] || !offered[cousin.ID] {
		t.Errorf("offered %v: want the cousin, never someone without tracing consent", offered)
	}

	// Every problem at once, and nothing written.
	before := e.events()
	bad := `{"surnames":"","sex":"Q","age":200,"birth_date":"3000-01-01","relation":"boss","nationality":"Honduras",` +
		`"reporter_code":"` + breakCheck(child.Code) + `"}`
	r = v.do("POST", "/api/v1/reports", bad, nil)
	for _, w := range []string{`"code":"invalid"`, `"field":"given_names"`, `"field":"sex"`, `"field":"age"`, `"field":"birth_date"`,
		`"field":"relation"`, `"field":"nationality"`, `"field":"reporter_code","code":"check"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("bad report: lacks %s: %s", w, r.body)
		}
	}
	if r.status != 400 || e.events() != before {
		t.Fatalf("bad report: %d, %d events written", r.status, e.events()-before)
	}

	// A medic takes a report down and sees no candidates.
	var taken struct {
		Report struct {
			ID         string
			GivenNames string `json:"given_names"`
		}
		Candidates []apiCandidateOut
	}
	r = e.login(auth.Medic).do("POST", "/api/v1/reports", `{"given_names":"Memo","surnames":"Ortiz","age":40}`, nil)
	r.json(t, &taken)
	if r.status != 201 || taken.Report.ID == "" || taken.Report.GivenNames != "" || taken.Candidates == nil || len(taken.Candidates) != 0 {
		t.Fatalf("medic's report: %d %s", r.status, r.body)
	}
	other := taken.Report.ID

	base := "/api/v1/reports/" + id
	runScenarios(t, e, []scenario{
		{name: "unknown field", role: auth.Volunteer, method: "POST", path: "/api/v1/reports", body: `{"given_names":"Ana","apodo":"x"}`,
			status: 400, want: []string{`"code":"bad_json"`}},
		{name: "unknown reporter card", role: auth.Volunteer, method: "POST", path: "/api/v1/reports",
			body: `{"given_names":"Ana","reporter_code":"` + freshCode(t) + `"}`, status: 400,
			want: []string{`"field":"reporter_code","code":"unknown"`}},
		{name: "medic may not read", role: auth.Medic, method: "GET", path: base, status: 403, forbid: []string{"Chepe"}},
		{name: "medic may not list", role: auth.Medic, method: "GET", path: "/api/v1/reports", status: 403},
		{name: "legal reads", role: auth.Legal, method: "GET", path: base, status: 200, want: []string{`"given_names":"Chepe"`, `"status":"open"`}},
		{name: "legal may not decide", role: auth.Legal, method: "POST", path: base + "/reject", body: `{"candidate":"person/` + cousin.ID + `"}`, status: 403},
		{name: "list open", role: auth.Volunteer, method: "GET", path: "/api/v1/reports?status=open", status: 200,
			want: []string{`"total":2`, `"id":"` + id + `"`, `"best":0.`}},
		{name: "list bad status", role: auth.Volunteer, method: "GET", path: "/api/v1/reports?status=lost", status: 400, want: []string{`"field":"status"`}},
		{name: "matches bad parameters", role: auth.Volunteer, method: "GET", path: base + "/matches?top=0&min=2", status: 400,
			want: []string{`"field":"top"`, `"field":"min"`}},
		{name: "unknown report", role: auth.Volunteer, method: "GET", path: "/api/v1/reports/0000000000000000", status: 404, want: []string{`"code":"not_found"`}},
		{name: "matches of unknown report", role: auth.Volunteer, method: "GET", path: "/api/v1/reports/0000000000000000/matches", status: 404},
		{name: "confirm unknown report", role: auth.Volunteer, method: "POST", path: "/api/v1/reports/0000000000000000/confirm",
			body: `{"candidate":"person/` + child.ID + `","outcome":"reunited"}`, status: 404},
		{name: "reject a candidate", role: auth.Volunteer, method: "POST", path: base + "/reject", body: `{"candidate":"person/` + cousin.ID + `"}`,
			status: 200, want: []string{`"rejected":["person/` + cousin.ID + `"]`, `"status":"open"`}},
		{name: "rejected is not offered again", role: auth.Volunteer, method: "GET", path: base + "/matches?top=50&min=0", status: 200,
			want: []string{`"id":"` + child.ID + `"`}, forbid: []string{cousin.ID, noConsent.ID}},
		{name: "confirm without outcome", role: auth.Volunteer, method: "POST", path: base + "/confirm", body: `{"candidate":"person/` + child.ID + `"}`,
			status: 400, want: []string{`"field":"outcome"`}},
		{name: "confirm nobody", role: auth.Volunteer, method: "POST", path: base + "/confirm",
			body: `{"candidate":"person/0000000000000000","outcome":"reunited"}`, status: 404},
		{name: "confirm a bad reference", role: auth.Volunteer, method: "POST", path: base + "/confirm", body: `{"candidate":"dog/1"}`,
			status: 400, want: []string{`"field":"candidate"`}},
		{name: "confirm", role: auth.Volunteer, method: "POST", path: base + "/confirm",
			body: `{"candidate":"person/` + child.ID + `","outcome":"reunited"}`, status: 200,
			want: []string{`"status":"closed"`, `"outcome":"reunited"`, `"match":"` + child.ID + `"`}},
		{name: "confirm a closed report", role: auth.Volunteer, method: "POST", path: base + "/confirm",
			body: `{"candidate":"person/` + child.ID + `","outcome":"located"}`, status: 409, want: []string{`"code":"closed"`}},
		{name: "withdraw a closed report", role: auth.Coordinator, method: "POST", path: base + "/withdraw", body: `{"reason":"other"}`,
			status: 409, want: []string{`"code":"closed"`}},
		{name: "withdraw without a known reason", role: auth.Volunteer, method: "POST", path: "/api/v1/reports/" + other + "/withdraw",
			body: `{"reason":"bored"}`, status: 400, want: []string{`"field":"reason"`}},
		{name: "withdraw", role: auth.Volunteer, method: "POST", path: "/api/v1/reports/" + other + "/withdraw",
			body: `{"reason":"withdrawn_by_family"}`, status: 200, want: []string{`"status":"closed"`, `"outcome":"withdrawn"`}},
		{name: "list closed", role: auth.Legal, method: "GET", path: "/api/v1/reports?status=closed", status: 200, want: []string{`"total":2`}},
	})
}

// TestTracingLinkedReports: two families report the same missing woman;
// the reports find each other, are linked, and close together when she is
// found.
func TestTracingLinkedReports(t *testing.T) {
	e := newEnv(t)
	tracingPopulation(e)
	c := e.login(auth.Coordinator)
	post := func(body string) string {
		t.Helper()
		var out struct{ Report struct{ ID string } }
		r := c.do("POST", "/api/v1/reports", body, nil)
		if r.status != 201 {
			t.Fatalf("report: %d %s", r.status, r.body)
		}
		r.json(t, &out)
		return out.Report.ID
	}
	a := post(`{"given_names":"Lupe","surnames":"Villeda","sex":"F","age":30,"origin_town":"Siguatepeque","relation":"sibling"}`)
	b := post(`{"given_names":"Guadalupe","surnames":"Villeda Ortiz","sex":"F","age":31,"origin_town":"Siguatepeque","relation":"parent"}`)
	var m struct{ Candidates []apiCandidateOut }
	c.do("GET", "/api/v1/reports/"+a+"/matches", nil, nil).json(t, &m)
	offered := false
	for _, x := range m.Candidates {
		offered = offered || (x.Kind == "report" && x.ID == b && x.Report != nil)
	}
	if !offered {
		t.Fatalf("the other report about her is not offered: %+v", m.Candidates)
	}
	if r := c.do("POST", "/api/v1/reports/"+a+"/confirm", `{"candidate":"report/`+b+`"}`, nil); r.status != 200 ||
		!strings.Contains(r.body, `"linked":["`+b+`"]`) || !strings.Contains(r.body, `"status":"open"`) {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/api/v1/reports/"+b, nil, nil); !strings.Contains(r.body, `"linked":["`+a+`"]`) {
		t.Errorf("the link is one-way: %s", r.body)
	}
	if r := c.do("POST", "/api/v1/reports/"+a+"/confirm", `{"candidate":"report/`+a+`"}`, nil); r.status != 400 {
		t.Errorf("a report matched with itself: %d", r.status)
	}
	her := e.traced("María Guadalupe", "Villeda", "Ortiz", "F", "1995-01-20", "Siguatepeque")
	if r := c.do("POST", "/api/v1/reports/"+a+"/confirm", `{"candidate":"person/`+her.ID+`","outcome":"located"}`, nil); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/api/v1/reports/"+b, nil, nil); !strings.Contains(r.body, `"status":"closed"`) ||
		!strings.Contains(r.body, `"outcome":"located"`) || !strings.Contains(r.body, `"match":"`+her.ID+`"`) {
		t.Errorf("the linked report did not close with it: %s", r.body)
	}
}

type dupOut struct {
	A, B struct {
		ID        string
		BirthDate string `json:"birth_date"`
	}
	Probability float64
	Fields      []struct{ Field, Level string }
}

// duplicates lists the pairs as role sees them.
func duplicatesAs(t *testing.T, c *client) []dupOut {
	t.Helper()
	var out struct{ Duplicates []dupOut }
	r := c.do("GET", "/api/v1/duplicates", nil, nil)
	if r.status != 200 {
		t.Fatalf("duplicates: %d %s", r.status, r.body)
	}
	r.json(t, &out)
	return out.Duplicates
}

func hasPair(ds []dupOut, a, b string) bool {
	for _, d := range ds {
		if (d.A.ID == a && d.B.ID == b) || (d.A.ID == b && d.B.ID == a) {
			return true
		}
	}
	return false
}

// TestDuplicatesAPI: people registered twice are listed as pairs with a
// probability and what agreed; "different people" takes a pair off the
// list; a coordinator's merge keeps both records, the duplicate pointing
// at the one kept.
func TestDuplicatesAPI(t *testing.T) {
	e := newEnv(t)
	tracingPopulation(e)
	karla := e.traced("Karla Patricia", "Rodríguez", "Flores", "F", "1994-09-19", "Comayagua")
	karla2 := e.traced("Karla", "Rodriguez", "Flores", "F", "1994-09-19", "Comayagua")
	wil := e.traced("Wilmer Antonio", "Castillo", "Maldonado", "M", "1983-06-21", "Tocoa")
	wil2 := e.traced("Wilmer Antonio", "Castillo", "Maldonado", "M", "1983-06-21", "Tocoa")
	v, c := e.login(auth.Volunteer), e.login(auth.Coordinator)
	ds := duplicatesAs(t, v)
	if !hasPair(ds, karla.ID, karla2.ID) || !hasPair(ds, wil.ID, wil2.ID) {
		t.Fatalf("pairs not found: %+v", ds)
	}
	for _, d := range ds {
		if d.Probability < 0.5 || len(d.Fields) == 0 || d.A.BirthDate != "" {
			t.Errorf("pair as a volunteer sees it: %+v", d)
		}
	}
	if ds := duplicatesAs(t, c); len(ds) == 0 || ds[0].A.BirthDate == "" {
		t.Errorf("a coordinator sees the birth dates: %+v", ds)
	}
	merge := "/api/v1/people/" + wil.ID + "/merge"
	runScenarios(t, e, []scenario{
		{name: "bad paging", role: auth.Volunteer, method: "GET", path: "/api/v1/duplicates?min=x&limit=0", status: 400,
			want: []string{`"field":"min"`, `"field":"limit"`}},
		{name: "medic may not list", role: auth.Medic, method: "GET", path: "/api/v1/duplicates", status: 403, forbid: []string{"Karla"}},
		{name: "distinct needs two", role: auth.Volunteer, method: "POST", path: "/api/v1/duplicates/distinct", body: `{"a":"` + karla.ID + `"}`,
			status: 400, want: []string{`"field":"b"`}},
		{name: "distinct with itself", role: auth.Volunteer, method: "POST", path: "/api/v1/duplicates/distinct",
			body: `{"a":"` + karla.ID + `","b":"` + karla.ID + `"}`, status: 400, want: []string{`"code":"same"`}},
		{name: "distinct with nobody", role: auth.Volunteer, method: "POST", path: "/api/v1/duplicates/distinct",
			body: `{"a":"` + karla.ID + `","b":"0000000000000000"}`, status: 404},
		{name: "distinct", role: auth.Volunteer, method: "POST", path: "/api/v1/duplicates/distinct",
			body: `{"a":"` + karla2.ID + `","b":"` + karla.ID + `"}`, status: 200, want: []string{`"distinct":true`}},
		{name: "volunteer may not merge", role: auth.Volunteer, method: "POST", path: merge, body: `{"duplicate":"` + wil2.ID + `"}`, status: 403},
		{name: "merge without a duplicate", role: auth.Coordinator, method: "POST", path: merge, body: `{}`, status: 400,
			want: []string{`"field":"duplicate"`}},
		{name: "merge into itself", role: auth.Coordinator, method: "POST", path: merge, body: `{"duplicate":"` + wil.ID + `"}`, status: 400},
		{name: "merge nobody", role: auth.Coordinator, method: "POST", path: merge, body: `{"duplicate":"0000000000000000"}`, status: 404},
		{name: "merge", role: auth.Coordinator, method: "POST", path: merge, body: `{"duplicate":"` + wil2.ID + `"}`, status: 200,
			want: []string{`"keep":"` + wil.ID + `"`}, count: -1},
		{name: "merged once only", role: auth.Coordinator, method: "POST", path: merge, body: `{"duplicate":"` + wil2.ID + `"}`, status: 400,
			want: []string{`"field":"duplicate"`, `"code":"merged"`}},
		{name: "the duplicate points at the one kept", role: auth.Coordinator, method: "GET", path: "/api/v1/people/" + wil2.ID,
			status: 200, want: []string{`"merged_into":"` + wil.ID + `"`}},
	})
	if ds := duplicatesAs(t, v); hasPair(ds, karla.ID, karla2.ID) || hasPair(ds, wil.ID, wil2.ID) {
		t.Errorf("resolved pairs still listed: %+v", ds)
	}
}
