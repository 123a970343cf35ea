package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

// breakCheck returns code with a wrong check symbol, written with its dash as
// a person would copy it from a card (cardcode.Format leaves an invalid code
// undashed, and ten letters without a digit or dash may be a name).
func breakCheck(code string) string { return code[:5] + "-" + code[5:9] + nextSymbol(code[9]) }

func TestCodeLike(t *testing.T) {
	for _, tc := range []struct {
		q            string
		like, digits bool
	}{
		{"7KQ2M-XW4PJ", true, true},
		{"7kq2m xw4pj", true, true},
		{"7KQ2M.XW4PJ", true, true},
		{"Villanueva", true, false}, // ten letters, all code symbols (I, L, U map)
		{"María José", false, false},
		{"Ana", false, false},
		{"7KQ2M-XW4PJ1", false, true},
		{"", false, false},
	} {
		like, digits := codeLike(tc.q)
		if like != tc.like || (like && digits != tc.digits) {
			t.Errorf("codeLike(%q) = %v, %v; want %v, %v", tc.q, like, digits, tc.like, tc.digits)
		}
	}
}

// TestSearch covers the one search box: names (accents and case ignored),
// card codes in any spelling, a clear error for a wrong check character
// before any look-up, and ten-letter names that merely look like codes.
func TestSearch(t *testing.T) {
	e := newEnv(t)
	p := e.register(samplePerson("José Ángel", "Núñez"))
	v := e.register(registry.PersonInput{GivenNames: "Rosa", Surname1: "Villanueva", Sex: "F", Consent: registry.Consent{Registration: true}})
	c := e.login(auth.Volunteer)
	lower := strings.ToLower(p.Code[:5] + " " + p.Code[5:])
	runScenarios(t, e, []scenario{
		{name: "name without accents", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"q":"jose nunez"}`,
			status: 200, want: []string{`"id":"` + p.ID + `"`, `"by_code":false`}},
		{name: "code in q", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"q":"` + lower + `"}`,
			status: 200, want: []string{`"id":"` + p.ID + `"`, `"by_code":true`}},
		{name: "code field", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"code":"` + cardcode.Format(p.Code) + `"}`,
			status: 200, want: []string{`"id":"` + p.ID + `"`}},
		{name: "wrong check character", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"q":"` + breakCheck(p.Code) + `"}`,
			status: 400, want: []string{`"code":"check"`, "check the control character"}},
		{name: "malformed code field", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"code":"12"}`,
			status: 400, want: []string{`"code":"code_format"`}},
		{name: "ten-letter name", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{"q":"villanueva"}`,
			status: 200, want: []string{`"id":"` + v.ID + `"`}},
		{name: "page: wrong check character", role: auth.Volunteer, method: "POST", path: "/people/search", body: url.Values{"q": {breakCheck(p.Code)}},
			status: 400, want: []string{"código inválido: revise el carácter de control", `value="` + breakCheck(p.Code) + `"`}},
		{name: "page: name", role: auth.Volunteer, method: "POST", path: "/people/search", body: url.Values{"q": {"NUÑEZ"}},
			status: 200, want: []string{"José Ángel Núñez Quintanilla", cardcode.Format(p.Code)}},
		{name: "page: nothing found", role: auth.Volunteer, method: "POST", path: "/people/search", body: url.Values{"q": {"Zzyzx"}},
			status: 200, want: []string{"Ningún resultado"}},
		{name: "page: empty", role: auth.Volunteer, method: "POST", path: "/people/search", body: url.Values{"q": {" "}},
			status: 400, want: []string{"escriba un nombre o un código"}},
	})
	// A code found from the page goes straight to the person, by id only.
	r := c.form("/people/search", url.Values{"q": {lower}})
	if r.status != 303 || r.header.Get("Location") != "/people/"+p.ID {
		t.Errorf("code search: %d Location %q", r.status, r.header.Get("Location"))
	}
}

// TestCodeLookupRateLimit is S9: card-code look-ups are limited per user,
// by search and by household membership alike.
func TestCodeLookupRateLimit(t *testing.T) {
	e := newEnv(t)
	p := e.register(samplePerson("Ana", "Paz"))
	now := time.Now()
	e.s.codes.now = func() time.Time { return now }
	c := e.login(auth.Volunteer)
	body := `{"code":"` + p.Code + `"}`
	for i := range 10 {
		if r := c.do("POST", "/api/v1/people/search", body, nil); r.status != 200 {
			t.Fatalf("look-up %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r := c.do("POST", "/api/v1/people/search", body, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"code":"rate_limited"`) {
		t.Fatalf("look-up past the burst: %d %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	r = c.do("POST", "/api/v1/households", `{"kind":"family","members":[{"code":"`+p.Code+`","role":"head"}]}`, nil)
	if r.status != 429 {
		t.Errorf("household by code past the burst: %d %s", r.status, r.body)
	}
	// Name searches do not spend the code budget.
	if r := c.do("POST", "/api/v1/people/search", `{"q":"ana paz"}`, nil); r.status != 200 {
		t.Errorf("name search: %d", r.status)
	}
	// Another user has a budget of their own.
	if r := e.login(auth.Coordinator).do("POST", "/api/v1/people/search", body, nil); r.status != 200 {
		t.Errorf("another user's look-up: %d", r.status)
	}
	// Two seconds later one token (30 a minute) is back.
	now = now.Add(2 * time.Second)
	if r := c.do("POST", "/api/v1/people/search", body, nil); r.status != 200 {
		t.Errorf("look-up after the refill: %d", r.status)
	}
}

// TestHouseholdPages: create a household by card codes, see the members
// and a warning when someone is also in another household, add and remove.
func TestHouseholdPages(t *testing.T) {
	e := newEnv(t)
	a := e.register(samplePerson("Madre", "Paz"))
	b := e.register(samplePerson("Hijo", "Paz"))
	x := e.register(samplePerson("Otra", "Cruz"))
	c := e.login(auth.Volunteer)
	r := c.form("/households", url.Values{"label": {"Familia Paz"}, "kind": {"family"},
		"code": {cardcode.Format(a.Code), "", breakCheck(b.Code)}, "role": {"head", "child", "child"}})
	if r.status != 400 || !strings.Contains(r.body, "código inválido: revise el carácter de control") || !strings.Contains(r.body, `value="Familia Paz"`) {
		t.Fatalf("bad code row: %d\n%.1500s", r.status, r.body)
	}
	r = c.form("/households", url.Values{"label": {"Familia Paz"}, "kind": {"family"},
		"code": {cardcode.Format(a.Code), "", b.Code}, "role": {"head", "child", "boss"}})
	if r.status != 400 || !strings.Contains(r.body, "no es válido") {
		t.Fatalf("bad role on row 2: %d\n%.1500s", r.status, r.body)
	}
	r = c.form("/households", url.Values{"label": {"Familia Paz"}, "kind": {"family"},
		"code": {cardcode.Format(a.Code), b.Code}, "role": {"head", "child"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/households/") {
		t.Fatalf("create: %d %s\n%.800s", r.status, r.header.Get("Location"), r.body)
	}
	hpath := r.header.Get("Location")
	r = c.page(hpath)
	for _, w := range []string{"Familia Paz", "Madre Paz Quintanilla", "Hijo Paz Quintanilla", "jefa/e", "hija/o"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("household page lacks %q", w)
		}
	}
	// Put the mother in a second household: both pages warn.
	r2 := c.do("POST", "/api/v1/households", `{"label":"Grupo","kind":"group","members":[{"code":"`+a.Code+`","role":"other"}]}`, nil)
	if r2.status != 201 {
		t.Fatalf("second household: %d %s", r2.status, r2.body)
	}
	if r = c.page(hpath); !strings.Contains(r.body, "También figura en otro hogar") {
		t.Errorf("no warning for a member in two households:\n%.2000s", r.body)
	}
	r = c.form(hpath+"/members", url.Values{"code": {x.Code}, "role": {"relative"}})
	if r.status != 303 {
		t.Fatalf("add member: %d %.500s", r.status, r.body)
	}
	r = c.form(hpath+"/members", url.Values{"code": {breakCheck(x.Code)}, "role": {"relative"}})
	if r.status != 400 || !strings.Contains(r.body, "código inválido") {
		t.Errorf("add member with a bad code: %d", r.status)
	}
	r = c.form(hpath+"/members/"+b.ID+"/remove", url.Values{})
	if r.status != 303 {
		t.Fatalf("remove: %d", r.status)
	}
	r = c.page(hpath)
	if !strings.Contains(r.body, "Otra Cruz") || strings.Contains(r.body, "Hijo Paz") {
		t.Errorf("after add and remove:\n%.2000s", r.body)
	}
	// The person page names their households.
	if r = c.page("/people/" + a.ID); !strings.Contains(r.body, "Familia Paz") || !strings.Contains(r.body, "Grupo") {
		t.Errorf("person page lacks the households")
	}
}
