package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"caravana/internal/auth"
)

// TestSecurityHeaders: every kind of response carries the headers, and
// the session cookie has its flags.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	for _, path := range []string{"/", "/people", "/login", "/api/v1/people", "/api/v1/nothing", "/healthz", "/nothing", e.s.cssPath} {
		r := c.page(path)
		h := r.header
		for k, want := range map[string]string{
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code", path)
		}
		want := "no-store"
		if path == e.s.cssPath {
			want = "public, max-age=31536000, immutable"
		}
		if got := h.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control = %q, want %q", path, got, want)
		}
	}
	// The session cookie, over loopback.
	res, err := http.Post(e.srv.URL+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"coord","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var ck *http.Cookie
	for _, k := range res.Cookies() {
		if k.Name == sessionCookie {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("session cookie = %+v", ck)
	}
	// No inline style or script anywhere in a page (CSP would block them).
	p := e.register(samplePerson("Ana", "Paz"))
	for _, path := range []string{"/", "/people", "/people/" + p.ID, "/people/" + p.ID + "/card", "/people/new", "/users", "/audit"} {
		body := c.page(path).body
		for _, bad := range []string{"style=", "<style", "<script", "onclick", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
	}
}

// TestSecureCookieRules: every cookie is Secure, whatever the host (S8);
// TestCookiesAlwaysSecure checks them over HTTP.
func TestSecureCookieRules(t *testing.T) {
	s := &Server{}
	for _, host := range []string{"127.0.0.1:8080", "localhost:80", "[::1]:8080", "caravana.localhost", "192.168.1.20:8080", "example.org"} {
		w := httptest.NewRecorder()
		s.setCookie(w, &http.Request{Host: host}, sessionCookie, "x", 0)
		cks := w.Result().Cookies()
		if len(cks) != 1 || !cks[0].Secure || !cks[0].HttpOnly || cks[0].SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie for Host %s = %+v", host, cks)
		}
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Volunteer)
	if r := c.page("/people"); !strings.Contains(r.body, `<html lang="es">`) || !strings.Contains(r.body, "Personas") {
		t.Errorf("default is not Spanish")
	}
	r := c.page("/people?lang=en&page=2")
	if r.status != 303 || r.header.Get("Location") != "/people?page=2" {
		t.Fatalf("lang switch: %d %q", r.status, r.header.Get("Location"))
	}
	if r := c.page("/people"); !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, "People") {
		t.Errorf("lang cookie not honoured:\n%.500s", r.body)
	}
	// Accept-Language does not decide: Spanish unless switched (see
	// TestSpanishByDefault).
	a := e.anon()
	if r := a.do("GET", "/login", nil, map[string]string{"Accept-Language": "en-GB,en;q=0.9"}); !strings.Contains(r.body, `lang="es"`) {
		t.Errorf("Accept-Language en chose the language")
	}
	// No open redirect through the switch.
	if r := a.page("//evil.example/?lang=en"); r.status == 303 && strings.HasPrefix(r.header.Get("Location"), "//") {
		t.Errorf("open redirect: %s", r.header.Get("Location"))
	}
}

// TestRegisterAndEditPages walks the forms: register, see the person,
// change one field, and a volunteer's view of what it may not see.
func TestRegisterAndEditPages(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	r := c.form("/people", url.Values{"given_names": {"María"}, "surname1": {"López"}, "sex": {"F"}, "birth_date": {"2015-06-01"},
		"nationality": {"gt"}, "phone": {"+502 5555 1234"}, "flags": {"separated_child", "medical"}, "consent_registration": {"1"}})
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/people/") {
		t.Fatalf("register: %d\n%.1000s", r.status, r.body)
	}
	ppath := r.header.Get("Location")
	r = c.page(ppath)
	for _, w := range []string{"María López", "Guatemala", "Niña/o separado", "Atención médica", "5555 1234", "(5-11)"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("person page lacks %q", w)
		}
	}
	r = c.form(ppath+"/edit", url.Values{"given_names": {"María"}, "surname1": {"López"}, "surname2": {"Ruiz"}, "sex": {"F"},
		"birth_date": {"2015-06-01"}, "nationality": {"GT"}, "phone": {"+502 5555 1234"}, "flags": {"separated_child", "medical"}})
	if r.status != 303 {
		t.Fatalf("edit: %d\n%.1000s", r.status, r.body)
	}
	if r = c.page(ppath); !strings.Contains(r.body, "María López Ruiz") {
		t.Errorf("edit did not apply")
	}
	r = c.form(ppath+"/edit", url.Values{"given_names": {""}, "surname1": {"López"}, "sex": {"F"}})
	if r.status != 400 || !strings.Contains(r.body, "obligatorio") {
		t.Errorf("bad edit: %d", r.status)
	}
	// A volunteer sees restricted fields as such, and the edit form offers
	// neither those fields nor the medical flag.
	v := e.login(auth.Volunteer)
	r = v.page(ppath)
	if !strings.Contains(r.body, "restringido") || strings.Contains(r.body, "5555") || strings.Contains(r.body, "Atención médica") {
		t.Errorf("volunteer's person page:\n%.3000s", r.body)
	}
	r = v.page(ppath + "/edit")
	if strings.Contains(r.body, `name="phone"`) || strings.Contains(r.body, `value="medical"`) || !strings.Contains(r.body, `value="separated_child"`) {
		t.Errorf("volunteer's edit form:\n%.3000s", r.body)
	}
	// The volunteer unticks the separated-child flag; the medical flag it
	// cannot see stays.
	r = v.form(ppath+"/edit", url.Values{"given_names": {"María"}, "surname1": {"López"}, "surname2": {"Ruiz"}, "sex": {"F"}, "nationality": {"GT"}})
	if r.status != 303 {
		t.Fatalf("volunteer edit: %d\n%.1000s", r.status, r.body)
	}
	if r = c.page(ppath); strings.Contains(r.body, "Niña/o separado") || !strings.Contains(r.body, "Atención médica") {
		t.Errorf("flags after the volunteer's edit:\n%.3000s", r.body)
	}
	// Reissue: the card shows a new code.
	before := c.page(ppath + "/card").body
	if r = c.form(ppath+"/card/reissue", url.Values{}); r.status != 303 || r.header.Get("Location") != ppath+"/card" {
		t.Fatalf("reissue: %d", r.status)
	}
	if after := c.page(ppath + "/card").body; after == before {
		t.Error("card unchanged after reissue")
	}
}

func TestUsersAndAuditPages(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	r := c.form("/users", url.Values{"username": {"Bad Name"}, "role": {"volunteer"}, "password": {"short"}})
	if r.status != 400 || !strings.Contains(r.body, "al menos 10 caracteres") || !strings.Contains(r.body, `value="Bad Name"`) {
		t.Errorf("bad user form: %d\n%.1500s", r.status, r.body)
	}
	if r = c.form("/users", url.Values{"username": {"nuevo"}, "role": {"medic"}, "password": {testPassword}}); r.status != 303 {
		t.Fatalf("add user: %d %.800s", r.status, r.body)
	}
	n := e.anon()
	if r = n.loginForm("nuevo", testPassword); r.status != 303 {
		t.Fatalf("new user cannot log in: %d", r.status)
	}
	if r = c.form("/users/nuevo/disable", url.Values{}); r.status != 303 {
		t.Fatalf("disable: %d", r.status)
	}
	// Disabling ends the user's session at once.
	if r = n.page("/"); r.status != 303 || r.header.Get("Location") != "/login" {
		t.Errorf("disabled user's session still works: %d", r.status)
	}
	r = c.page("/audit")
	for _, w := range []string{"user.disabled", "login", "coord"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("audit page lacks %q", w)
		}
	}
	// Filtering by actor, and paging with before=.
	var page struct {
		Entries []struct {
			ID    int64  `json:"id"`
			Actor string `json:"actor"`
		} `json:"entries"`
		NextBefore int64 `json:"next_before"`
	}
	c.do("GET", "/api/v1/audit?limit=2", nil, nil).json(t, &page)
	if len(page.Entries) != 2 || page.NextBefore != page.Entries[1].ID {
		t.Fatalf("audit page: %+v", page)
	}
	first := page.Entries[0].ID
	c.do("GET", "/api/v1/audit?limit=2&before="+strconv.FormatInt(page.NextBefore, 10), nil, nil).json(t, &page)
	if len(page.Entries) == 0 || page.Entries[0].ID >= first {
		t.Errorf("before= did not page back: %+v", page)
	}
}

// TestMetricsAndHealth: /healthz answers without a session; /metrics counts
// requests by route pattern, never by raw path.
func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t)
	p := e.register(samplePerson("Ana", "Paz"))
	c := e.login(auth.Medic)
	c.page("/people/" + p.ID)
	c.page("/api/v1/people/" + p.ID)
	a := e.anon()
	if r := a.page("/healthz"); r.status != 200 || strings.TrimSpace(r.body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	m := a.page("/metrics").body
	for _, w := range []string{`caravana_http_requests_total{route="GET /people/{id}",status="200"} 1`,
		`caravana_http_requests_total{route="GET /api/v1/people/{id}",status="200"} 1`, "caravana_http_request_duration_seconds_bucket"} {
		if !strings.Contains(m, w) {
			t.Errorf("metrics lack %q", w)
		}
	}
	if strings.Contains(m, p.ID) {
		t.Error("metrics hold a raw path")
	}
}

// TestInternalErrorHidden: when the store fails, the client gets a plain
// 500 with no internal text, and the log has the detail.
func TestInternalErrorHidden(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	e.n.Store.Close() // every read now fails inside the registry
	r := c.do("GET", "/api/v1/people", nil, nil)
	if r.status != 500 || !strings.Contains(r.body, `"code":"internal"`) {
		t.Fatalf("store failure: %d %s", r.status, r.body)
	}
	var body struct{ Error string }
	r.json(t, &body)
	if body.Error != errInternal.msg {
		t.Errorf("500 message = %q", body.Error)
	}
	if p := c.page("/people"); p.status != 500 || !strings.Contains(p.body, "Error interno") {
		t.Errorf("page on store failure: %d", p.status)
	}
	if !strings.Contains(e.logs.String(), "request failed") {
		t.Errorf("the failure was not logged:\n%s", e.logs.String())
	}
}
