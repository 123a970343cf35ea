package web

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// anonymous is the "role" of a client with no session.
const anonymous auth.Role = ""

// fixtures are the records the matrix reads and changes. The read-only
// person has a value in every field, so each role's response can be
// scanned for the values it must not see.
type fixtures struct {
	person    registry.Person // never changed
	household registry.Household
	// duplicate is a second registration of person, and report an open
	// report about her (see tracingFixtures).
	duplicate registry.Person
	report    string
	n         int // counter for unique names
}

// Values of the fixture person each role must never receive (S6).
var (
	piiPhone  = "9876-5432"
	piiBirth  = "1987-03-14"
	piiOrigin = "Choluteca"
	piiNotes  = "nota privada"
)

// hiddenFrom lists, per role, fixture values and flag names (as JSON and
// as the Spanish page labels) that must not appear where a person is shown.
var hiddenFrom = map[auth.Role][]string{
	auth.Volunteer: {piiPhone, piiBirth, piiOrigin, piiNotes, `"medical"`, `"pregnant"`, "Atención médica", "Embarazo"},
	auth.Legal:     {`"medical"`, "Atención médica"},
	auth.Medic:     {piiPhone, piiOrigin},
}

// flagsHiddenFrom lists flag names a role's aggregate figures must not show.
var flagsHiddenFrom = map[auth.Role][]string{
	auth.Volunteer: {`"medical"`, `"pregnant"`, "Atención médica", "Embarazo"},
	auth.Legal:     {`"medical"`, "Atención médica"},
}

type route struct {
	pattern string // as registered
	path    string // with {vars} filled from prep
	page    bool   // HTML: no session redirects to /login; else JSON 401
	public  bool   // no session needed
	allow   []auth.Role
	ok      int
	status  map[auth.Role]int // overrides
	// prep makes per-request records (so one role's change does not
	// disturb the next) and returns the {vars} for path and body.
	prep        func(t *testing.T, e *env, f *fixtures) map[string]string
	body        func(v map[string]string) any
	showsPerson bool
	showsFlags  bool
}

func (rt route) expect(role auth.Role) int {
	if s, ok := rt.status[role]; ok {
		return s
	}
	switch {
	case rt.public:
		return rt.ok
	case role == anonymous && rt.page:
		return 303
	case role == anonymous:
		return 401
	case rt.allow == nil || slices.Contains(rt.allow, role):
		return rt.ok
	}
	return 403
}

var (
	writers   = []auth.Role{auth.Coordinator, auth.Volunteer}
	printers  = []auth.Role{auth.Coordinator, auth.Volunteer, auth.Legal}
	coordOnly = []auth.Role{auth.Coordinator}
	loggedIn  = map[auth.Role]int{auth.Coordinator: 303, auth.Volunteer: 303, auth.Legal: 303, auth.Medic: 303}
)

// newPerson registers a throwaway person for a request that changes one.
// They do not consent to tracing, so the tracing routes see only their
// own fixtures however many throwaway people earlier routes made.
func newPerson(t *testing.T, e *env, f *fixtures) registry.Person {
	f.n++
	in := samplePerson(fmt.Sprintf("Tmp%d", f.n), "Temporal")
	in.Consent.Tracing = false
	return e.register(in)
}

func withPerson(t *testing.T, e *env, f *fixtures) map[string]string {
	p := newPerson(t, e, f)
	return map[string]string{"id": p.ID, "code": p.Code}
}

// withMember makes a household holding a throwaway person.
func withMember(t *testing.T, e *env, f *fixtures) map[string]string {
	p := newPerson(t, e, f)
	h, err := e.n.Registry.CreateHousehold(context.Background(), auth.Operator("test"),
		registry.HouseholdInput{Label: "Tmp", Kind: "family", Members: []registry.Member{{Person: p.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"id": h.ID, "person": p.ID, "code": p.Code}
}

func withUser(t *testing.T, e *env, f *fixtures) map[string]string {
	f.n++
	name := fmt.Sprintf("spare%d", f.n)
	if _, err := e.n.Auth.AddUser(context.Background(), auth.Operator("test"), name, auth.Volunteer, testPassword); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"username": name}
}

func routeTable(e *env) []route {
	form := func(kv ...string) func(map[string]string) any {
		return func(v map[string]string) any {
			out := url.Values{}
			for i := 0; i < len(kv); i += 2 {
				out.Add(kv[i], fill(kv[i+1], v))
			}
			return out
		}
	}
	jsonBody := func(s string) func(map[string]string) any {
		return func(v map[string]string) any { return fill(s, v) }
	}
	person := `{"given_names":"Nueva","surname1":"Persona","sex":"F","consent":{"registration":true}}`
	table := []route{
		{pattern: "GET /healthz", path: "/healthz", public: true, ok: 200},
		{pattern: "GET /metrics", path: "/metrics", public: true, ok: 200},
		{pattern: "GET /static/{hash}/app.css", path: e.s.cssPath, public: true, ok: 200},
		{pattern: "GET /login", path: "/login", page: true, public: true, ok: 200, status: loggedIn},
		// Without the login form's double-submit cookie every login POST is refused.
		{pattern: "POST /login", path: "/login", page: true, public: true, ok: 403, body: form("username", "coord", "password", testPassword)},
		{pattern: "POST /logout", path: "/logout", page: true, ok: 303, body: form()},
		{pattern: "GET /{$}", path: "/", page: true, ok: 200, showsFlags: true},
		{pattern: "GET /people", path: "/people", page: true, ok: 200},
		{pattern: "POST /people/search", path: "/people/search", page: true, ok: 200, showsPerson: true, body: form("q", "zelaya")},
		{pattern: "GET /people/new", path: "/people/new", page: true, ok: 200, allow: writers},
		{pattern: "POST /people", path: "/people", page: true, ok: 303, allow: writers,
			body: form("given_names", "Nueva", "surname1", "Persona", "sex", "F", "consent_registration", "1")},
		{pattern: "GET /people/{id}", path: "/people/{person}", page: true, ok: 200, showsPerson: true},
		{pattern: "GET /people/{id}/edit", path: "/people/{person}/edit", page: true, ok: 200, showsPerson: true},
		{pattern: "POST /people/{id}/edit", path: "/people/{id}/edit", page: true, ok: 303, prep: withPerson,
			body: form("given_names", "Tmp", "surname1", "Cambiado", "sex", "F")},
		{pattern: "GET /people/{id}/card", path: "/people/{person}/card", page: true, ok: 200, allow: printers, showsPerson: true},
		{pattern: "POST /people/{id}/card/reissue", path: "/people/{id}/card/reissue", page: true, ok: 303, allow: printers,
			prep: withPerson, body: form()},
		{pattern: "GET /households", path: "/households", page: true, ok: 200},
		{pattern: "GET /households/new", path: "/households/new", page: true, ok: 200, allow: writers},
		{pattern: "POST /households", path: "/households", page: true, ok: 303, allow: writers, prep: withPerson,
			body: form("label", "Nuevo", "kind", "family", "code", "{code}", "role", "head")},
		{pattern: "GET /households/{id}", path: "/households/{household}", page: true, ok: 200, showsPerson: true},
		{pattern: "POST /households/{id}/members", path: "/households/{household}/members", page: true, ok: 303, allow: writers,
			prep: withPerson, body: form("code", "{code}", "role", "child")},
		{pattern: "POST /households/{id}/members/{person}/remove", path: "/households/{id}/members/{person}/remove", page: true,
			ok: 303, allow: writers, prep: withMember, body: form()},
		{pattern: "GET /audit", path: "/audit", page: true, ok: 200, allow: coordOnly},
		{pattern: "GET /users", path: "/users", page: true, ok: 200, allow: coordOnly},
		{pattern: "POST /users", path: "/users", page: true, ok: 303, allow: coordOnly, prep: counter,
			body: form("username", "{name}", "role", "volunteer", "password", testPassword)},
		{pattern: "POST /users/{username}/disable", path: "/users/{username}/disable", page: true, ok: 303, allow: coordOnly,
			prep: withUser, body: form()},

		{pattern: "POST /api/v1/session", path: "/api/v1/session", public: true, ok: 200,
			body: jsonBody(`{"username":"coord","password":"` + testPassword + `"}`)},
		{pattern: "GET /api/v1/session", path: "/api/v1/session", ok: 200},
		{pattern: "DELETE /api/v1/session", path: "/api/v1/session", ok: 204},
		{pattern: "GET /api/v1/people", path: "/api/v1/people?limit=200", ok: 200, showsPerson: true},
		{pattern: "POST /api/v1/people", path: "/api/v1/people", ok: 201, allow: writers, body: jsonBody(person)},
		{pattern: "GET /api/v1/people/{id}", path: "/api/v1/people/{person}", ok: 200, showsPerson: true},
		// Notes: every role but the volunteer may see, hence change, them.
		{pattern: "PATCH /api/v1/people/{id}", path: "/api/v1/people/{id}", ok: 200,
			allow: []auth.Role{auth.Coordinator, auth.Legal, auth.Medic}, prep: withPerson,
			body: jsonBody(`{"fields":{"notes":"cambiada"}}`)},
		{pattern: "POST /api/v1/people/search", path: "/api/v1/people/search", ok: 200, showsPerson: true,
			body: jsonBody(`{"q":"zelaya"}`)},
		{pattern: "POST /api/v1/people/{id}/card", path: "/api/v1/people/{id}/card", ok: 200, allow: printers, prep: withPerson},
		{pattern: "GET /api/v1/households", path: "/api/v1/households", ok: 200},
		{pattern: "POST /api/v1/households", path: "/api/v1/households", ok: 201, allow: writers, prep: withPerson,
			body: jsonBody(`{"label":"Nuevo","kind":"family","members":[{"code":"{code}","role":"head"}]}`)},
		{pattern: "GET /api/v1/households/{id}", path: "/api/v1/households/{household}", ok: 200, showsPerson: true},
		{pattern: "POST /api/v1/households/{id}/members", path: "/api/v1/households/{household}/members", ok: 200,
			allow: writers, prep: withPerson, body: jsonBody(`{"person":"{id}","role":"child"}`)},
		{pattern: "DELETE /api/v1/households/{id}/members/{person}", path: "/api/v1/households/{id}/members/{person}",
			ok: 200, allow: writers, prep: withMember},
		{pattern: "GET /api/v1/stats", path: "/api/v1/stats", ok: 200, showsFlags: true},
		{pattern: "GET /api/v1/audit", path: "/api/v1/audit", ok: 200, allow: coordOnly},
		{pattern: "GET /api/v1/users", path: "/api/v1/users", ok: 200, allow: coordOnly},
		{pattern: "POST /api/v1/users", path: "/api/v1/users", ok: 201, allow: coordOnly, prep: counter,
			body: jsonBody(`{"username":"{name}","role":"medic","password":"` + testPassword + `"}`)},
		{pattern: "POST /api/v1/users/{username}/disable", path: "/api/v1/users/{username}/disable", ok: 200,
			allow: coordOnly, prep: withUser},
		{pattern: "GET /api/v1/openapi.json", path: "/api/v1/openapi.json", public: true, ok: 200},
	}
	table = append(table, journeyRoutes(e, form, jsonBody)...)
	table = append(table, syncRoutes(form, jsonBody)...)
	table = append(table, conflictRoutes(form)...)
	table = append(table, supplyRoutes(form, jsonBody)...)
	return append(table, tracingRoutes(form, jsonBody)...)
}

func counter(t *testing.T, e *env, f *fixtures) map[string]string {
	f.n++
	return map[string]string{"name": fmt.Sprintf("nuevo%d", f.n)}
}

// fill replaces {name} placeholders.
func fill(s string, v map[string]string) string {
	for k, val := range v {
		s = strings.ReplaceAll(s, "{"+k+"}", val)
	}
	return s
}

// TestRoleMatrix is S6: every role, and no session, against every route.
// Anything not allowed is refused (403; 401 or a redirect to the login
// page without a session) and leaks no field; what is allowed shows only
// the fields and flags that role may see.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	f := &fixtures{}
	f.person = e.register(samplePerson("Fixturina", "Zelaya"))
	var err error
	f.household, err = e.n.Registry.CreateHousehold(context.Background(), auth.Operator("test"),
		registry.HouseholdInput{Label: "Casa Zelaya", Kind: "family", Members: []registry.Member{{Person: f.person.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	journeyFixtures(t, e, f)
	tracingFixtures(t, e, f)
	table := routeTable(e)

	// The table must cover every route the server registers, and only those.
	var covered []string
	for _, rt := range table {
		covered = append(covered, rt.pattern)
	}
	slices.Sort(covered)
	registered := slices.Sorted(slices.Values(e.s.patterns))
	if !slices.Equal(covered, registered) {
		t.Fatalf("role matrix covers\n%v\nbut the server registers\n%v", covered, registered)
	}

	allPII := []string{"Fixturina", "Zelaya", piiPhone, piiBirth, piiOrigin, piiNotes}
	for _, rt := range table {
		for _, role := range append([]auth.Role{anonymous}, roles...) {
			name := string(role)
			if role == anonymous {
				name = "anonymous"
			}
			t.Run(rt.pattern+"/"+name, func(t *testing.T) {
				c := e.anon()
				if role != anonymous {
					c = e.login(role)
				}
				vars := map[string]string{"person": f.person.ID, "household": f.household.ID, "report": f.report}
				if rt.prep != nil {
					for k, v := range rt.prep(t, e, f) {
						vars[k] = v
					}
				}
				method, _, _ := strings.Cut(rt.pattern, " ")
				path := fill(rt.path, vars)
				var r *resp
				switch b := bodyOf(rt, vars).(type) {
				case url.Values:
					r = c.form(path, b)
				case upload:
					r = c.upload(path, b)
				default:
					r = c.do(method, path, b, nil)
				}
				want := rt.expect(role)
				if r.status != want {
					t.Fatalf("%s as %s: status %d, want %d\n%.500s", path, name, r.status, want, r.body)
				}
				if want == 303 && role == anonymous && rt.page && !rt.public {
					if loc := r.header.Get("Location"); loc != "/login" {
						t.Errorf("redirect to %q, want /login", loc)
					}
				}
				scan := func(forbidden []string) {
					t.Helper()
					for _, s := range forbidden {
						if strings.Contains(r.body, s) {
							t.Errorf("%s as %s: response holds %q it must not:\n%.800s", path, name, s, r.body)
						}
					}
				}
				if want >= 400 {
					scan(allPII)
					return
				}
				if rt.showsPerson && role != anonymous {
					if !strings.Contains(r.body, "Zelaya") {
						t.Errorf("%s as %s: the fixture person is missing:\n%.500s", path, name, r.body)
					}
					scan(hiddenFrom[role])
				}
				if rt.showsFlags {
					scan(flagsHiddenFrom[role])
				}
			})
		}
	}
}

func bodyOf(rt route, vars map[string]string) any {
	if rt.body == nil {
		return nil
	}
	return rt.body(vars)
}
