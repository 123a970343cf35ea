package web

import (
	"net/url"
	"strings"
	"testing"

	"caravana/internal/auth"
)

// scenario is one declarative HTTP check, in the style of pocketbase's
// tests/api.go: a request as some role, the status and content expected,
// and content that must not appear. count, when set, is the number of
// people registered after the request (to prove nothing was saved).
type scenario struct {
	name    string
	role    auth.Role // anonymous = no session
	method  string
	path    string
	body    any // string or []byte: JSON as is; url.Values: a form (csrf added unless present)
	headers map[string]string
	status  int
	want    []string
	forbid  []string
	header  map[string]string // response headers expected (exact)
	count   int
}

func runScenarios(t *testing.T, e *env, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := e.anon()
			if sc.role != anonymous {
				c = e.login(sc.role)
			}
			before := e.countPeople()
			var r *resp
			if v, ok := sc.body.(url.Values); ok && sc.method == "POST" && !strings.HasPrefix(sc.path, "/api/") {
				r = c.form(sc.path, v)
			} else {
				r = c.do(sc.method, sc.path, sc.body, sc.headers)
			}
			if r.status != sc.status {
				t.Fatalf("status %d, want %d\n%.600s", r.status, sc.status, r.body)
			}
			for _, w := range sc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body lacks %q:\n%.1200s", w, r.body)
				}
			}
			for _, f := range sc.forbid {
				if strings.Contains(r.body, f) {
					t.Errorf("body holds %q:\n%.1200s", f, r.body)
				}
			}
			for k, v := range sc.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			want := sc.count
			if want == 0 {
				want = before
			}
			if sc.count >= 0 {
				if got := e.countPeople(); got != want {
					t.Errorf("people registered: %d, want %d", got, want)
				}
			}
		})
	}
}

// TestCSRF: a form POST or API mutation without the session's token, or
// with a wrong one, is refused with 403 and changes nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	p := e.register(samplePerson("Ana", "Sinchez"))
	reg := url.Values{"given_names": {"Nadie"}, "surname1": {"Nunca"}, "sex": {"F"}, "consent_registration": {"1"}}
	withCSRF := func(v url.Values, token string) url.Values {
		v = cloneValues(v)
		v.Set("csrf", token)
		return v
	}
	person := `{"given_names":"Nadie","surname1":"Nunca","sex":"F","consent":{"registration":true}}`
	runScenarios(t, e, []scenario{
		{name: "form without token", role: auth.Coordinator, method: "POST", path: "/people", body: withCSRF(reg, ""), status: 403, want: []string{"El formulario caducó"}},
		{name: "form with wrong token", role: auth.Coordinator, method: "POST", path: "/people", body: withCSRF(reg, "forged"), status: 403},
		{name: "form with right token", role: auth.Coordinator, method: "POST", path: "/people", body: reg, status: 303, count: 2},
		{name: "edit without token", role: auth.Coordinator, method: "POST", path: "/people/" + p.ID + "/edit", body: url.Values{"csrf": {""}, "surname1": {"Otro"}}, status: 403},
		{name: "reissue with wrong token", role: auth.Coordinator, method: "POST", path: "/people/" + p.ID + "/card/reissue", body: url.Values{"csrf": {"x"}}, status: 403},
		{name: "logout without token", role: auth.Coordinator, method: "POST", path: "/logout", body: url.Values{"csrf": {""}}, status: 403},
		{name: "search without token", role: auth.Coordinator, method: "POST", path: "/people/search", body: url.Values{"csrf": {""}, "q": {"ana"}}, status: 403, forbid: []string{"Sinchez"}},
		{name: "api without header", role: auth.Coordinator, method: "POST", path: "/api/v1/people", body: person,
			headers: map[string]string{"X-CSRF-Token": ""}, status: 403, want: []string{`"code":"csrf"`}},
		{name: "api with wrong header", role: auth.Coordinator, method: "POST", path: "/api/v1/people", body: person,
			headers: map[string]string{"X-CSRF-Token": "forged"}, status: 403, want: []string{`"code":"csrf"`}},
		{name: "api patch without header", role: auth.Coordinator, method: "PATCH", path: "/api/v1/people/" + p.ID,
			body: `{"fields":{"surname1":"Otro"}}`, headers: map[string]string{"X-CSRF-Token": ""}, status: 403},
		{name: "api logout without header", role: auth.Coordinator, method: "DELETE", path: "/api/v1/session",
			headers: map[string]string{"X-CSRF-Token": ""}, status: 403},
		{name: "api with right header", role: auth.Coordinator, method: "POST", path: "/api/v1/people", body: person, status: 201, count: 3},
		// A cross-site page posting in the user's browser is stopped even
		// before the token check (net/http's cross-origin protection).
		{name: "cross-site browser post", role: auth.Coordinator, method: "POST", path: "/api/v1/people", body: person,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
	})
	got, err := e.n.Registry.Get(t.Context(), auth.Operator("test"), p.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got.Surname1 != "Sinchez" || got.Code != p.Code {
		t.Errorf("a refused request changed the person: %+v", got)
	}
	// The login form's double-submit token.
	c := e.anon()
	c.page("/login")
	if r := c.do("POST", "/login", url.Values{"csrf": {"wrong"}, "username": {"coord"}, "password": {testPassword}}, nil); r.status != 403 {
		t.Errorf("login with a wrong double-submit token: %d", r.status)
	}
	if _, ok := c.cookies[sessionCookie]; ok {
		t.Error("a refused login set a session cookie")
	}
	if r := c.loginForm("coord", testPassword); r.status != 303 || r.header.Get("Location") != "/" {
		t.Errorf("login form: %d %s", r.status, r.header.Get("Location"))
	}
}

// TestBadInput: every problem is reported at once, where it is, and
// nothing is saved.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	p := e.register(samplePerson("Ana", "Sinchez"))
	big := `{"given_names":"` + strings.Repeat("a", 70<<10) + `"}`
	runScenarios(t, e, []scenario{
		{name: "api registration missing fields", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"birth_date":"3000-01-01","sex":"Q","phone":"abc"}`,
			status: 400, want: []string{`"code":"invalid"`, `"field":"given_names"`, `"field":"surname1"`, `"field":"sex"`, `"field":"birth_date"`, `"field":"phone"`}},
		{name: "api registration without consent", role: auth.Volunteer, method: "POST", path: "/api/v1/people",
			body: `{"given_names":"Ana","surname1":"Paz","sex":"F"}`, status: 400, want: []string{`"field":"consent.registration"`}},
		{name: "page registration missing fields", role: auth.Volunteer, method: "POST", path: "/people",
			body: url.Values{"surname2": {"Guardado"}, "phone": {"xx"}, "birth_date": {"3000-01-01"}}, status: 400,
			want: []string{"Revise los campos marcados", `value="Guardado"`, `value="xx"`, "obligatorio", "no puede ser futura",
				"número de 6 a 20 cifras", "elija una opción", "sin consentimiento no se puede registrar"}},
		{name: "bad json", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"given_names": "Ana",}`,
			status: 400, want: []string{`"code":"bad_json"`, "byte offset 22"}},
		{name: "truncated json", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"given_names": "Ana"`,
			status: 400, want: []string{`"code":"bad_json"`, "ends early"}},
		{name: "empty body", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: ``, status: 400, want: []string{"empty body"}},
		{name: "wrong type", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"consent":{"registration":"yes"}}`,
			status: 400, want: []string{"consent.registration must not be a JSON string", "byte offset"}},
		{name: "unknown field", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"given_names":"Ana","role":"x"}`,
			status: 400, want: []string{`unknown field \"role\" at byte offset 21`}},
		// A key that is no API field name at all is not repeated back.
		{name: "unknown odd field", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{"given_names":"Ana","apodo":30}`,
			status: 400, want: []string{`unknown field at byte offset 21`}, forbid: []string{"apodo"}},
		{name: "two values", role: auth.Volunteer, method: "POST", path: "/api/v1/people",
			body: `{"given_names":"Ana","surname1":"Paz","sex":"F","consent":{"registration":true}} {}`, status: 400, want: []string{"one JSON value"}},
		{name: "not json", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: `{}`,
			headers: map[string]string{"Content-Type": "text/plain"}, status: 415, want: []string{`"code":"unsupported_media_type"`}},
		{name: "oversize body", role: auth.Volunteer, method: "POST", path: "/api/v1/people", body: big, status: 413, want: []string{`"code":"too_large"`}},
		{name: "oversize form", role: auth.Volunteer, method: "POST", path: "/people", body: url.Values{"notes": {strings.Repeat("n", 70<<10)}}, status: 413},
		{name: "bad paging", role: auth.Volunteer, method: "GET", path: "/api/v1/people?limit=0&offset=-1", status: 400,
			want: []string{`"field":"limit"`, `"field":"offset"`}},
		{name: "patch unknown field", role: auth.Coordinator, method: "PATCH", path: "/api/v1/people/" + p.ID, body: `{"fields":{"name":"x"}}`,
			status: 400, want: []string{`"field":"fields"`, `"code":"unknown"`}, forbid: []string{`"name"`}},
		{name: "patch unknown person", role: auth.Coordinator, method: "PATCH", path: "/api/v1/people/nobody", body: `{"fields":{}}`, status: 404},
		{name: "search neither q nor code", role: auth.Volunteer, method: "POST", path: "/api/v1/people/search", body: `{}`, status: 400, want: []string{`"code":"one_of"`}},
		{name: "bad household", role: auth.Volunteer, method: "POST", path: "/api/v1/households",
			body: `{"kind":"tribe","members":[{"code":"AAAAA-AAAAA","role":"head"},{"person":"nope","role":"boss"}]}`, status: 400,
			want: []string{`"field":"members[0].code"`, `"code":"check"`}},
		{name: "bad household kind and role", role: auth.Volunteer, method: "POST", path: "/api/v1/households",
			body: `{"kind":"tribe","members":[{"person":"nope","role":"boss"}]}`, status: 400,
			want: []string{`"field":"kind"`, `"field":"members[0].role"`, `"field":"members[0].person"`}},
		{name: "weak new user", role: auth.Coordinator, method: "POST", path: "/api/v1/users", body: `{"username":"A B","role":"king","password":"short"}`,
			status: 400, want: []string{`"field":"username"`, `"field":"role"`, `"field":"password"`}},
		{name: "duplicate user", role: auth.Coordinator, method: "POST", path: "/api/v1/users", body: `{"username":"coord","role":"medic","password":"` + testPassword + `"}`,
			status: 409, want: []string{`"code":"exists"`}},
		{name: "disable self", role: auth.Coordinator, method: "POST", path: "/api/v1/users/coord/disable", status: 400, want: []string{`"code":"self"`}},
		{name: "disable nobody", role: auth.Coordinator, method: "POST", path: "/api/v1/users/nobody/disable", status: 404},
		{name: "audit bad before", role: auth.Coordinator, method: "GET", path: "/api/v1/audit?before=x", status: 400, want: []string{`"field":"before"`}},
		{name: "unknown api route", role: auth.Coordinator, method: "GET", path: "/api/v1/nothing", status: 404, want: []string{`"code":"not_found"`}},
		{name: "wrong api method", role: auth.Coordinator, method: "PUT", path: "/api/v1/people", status: 405,
			want: []string{`"code":"method_not_allowed"`}, header: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "unknown person", role: auth.Coordinator, method: "GET", path: "/api/v1/people/0000000000000000", status: 404, want: []string{`"code":"not_found"`}},
		{name: "unknown person page", role: auth.Coordinator, method: "GET", path: "/people/0000000000000000", status: 404, want: []string{"No encontrado"}},
	})
}
