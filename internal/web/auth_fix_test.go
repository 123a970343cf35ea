package web

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"

	"caravana/internal/auth"
)

// TestParallelLoginsLockout (S8): wrong passwords for one name sent all at
// once get at most the free tries answered 401; the rest are 429 with
// Retry-After, and the account is locked for the right password too.
func TestParallelLoginsLockout(t *testing.T) {
	const guesses = 15
	e := newEnv(t)
	e.n.Auth.LimitHashes(guesses, guesses) // no caller is turned away as busy here
	bad := `{"username":"u-medic","password":"wrong password!"}`
	statuses := make([]*resp, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		c := e.anon()
		wg.Go(func() { statuses[i] = c.do("POST", "/api/v1/session", bad, nil) })
	}
	wg.Wait()
	var unauthorized, limited int
	for _, r := range statuses {
		switch r.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			limited++
			if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"code":"rate_limited"`) {
				t.Errorf("429 without Retry-After or code: %v %s", r.header, r.body)
			}
		default:
			t.Errorf("parallel guess: %d %s", r.status, r.body)
		}
	}
	if unauthorized != 5 || limited != guesses-5 {
		t.Errorf("%d answered 401 and %d 429, want 5 and %d", unauthorized, limited, guesses-5)
	}
	good := `{"username":"u-medic","password":"` + testPassword + `"}`
	if r := e.anon().do("POST", "/api/v1/session", good, nil); r.status != http.StatusTooManyRequests {
		t.Errorf("right password after the burst: %d %s", r.status, r.body)
	}
}

// TestBusyAnswer: a login refused because too many hashes are queued is a
// 503 with Retry-After, not a failure of the user's.
func TestBusyAnswer(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{auth.ErrBusy, http.StatusServiceUnavailable, "busy"},
		{fmt.Errorf("login: %w", auth.ErrBusy), http.StatusServiceUnavailable, "busy"},
		{auth.ErrLockedOut, http.StatusTooManyRequests, "rate_limited"},
		{auth.ErrBadCredentials, http.StatusUnauthorized, "bad_credentials"},
	}
	for _, tc := range tests {
		he := classify(tc.err)
		if he.status != tc.status || he.code != tc.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", tc.err, he.status, he.code, tc.status, tc.code)
		}
	}
	if errBusy.retryAfter <= 0 {
		t.Error("the busy answer has no Retry-After")
	}
}

// TestCookiesAlwaysSecure (S8): every cookie is Secure and HttpOnly,
// whatever host the browser used, and a Go cookie jar still sends them
// back over plain HTTP to the loopback address.
func TestCookiesAlwaysSecure(t *testing.T) {
	e := newEnv(t)
	type step struct {
		method, path, body, contentType string
	}
	steps := []step{
		{"GET", "/login", "", ""},
		{"POST", "/api/v1/session", `{"username":"coord","password":"` + testPassword + `"}`, "application/json"},
		{"GET", "/people?lang=en", "", ""},
	}
	for _, host := range []string{"127.0.0.1:8080", "localhost", "192.168.1.20:8080", "caravana.example.org"} {
		for _, st := range steps {
			req, err := http.NewRequest(st.method, e.srv.URL+st.path, strings.NewReader(st.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			if st.contentType != "" {
				req.Header.Set("Content-Type", st.contentType)
			}
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if len(res.Cookies()) == 0 {
				t.Errorf("%s %s (Host %s): no cookie set", st.method, st.path, host)
			}
			for _, ck := range res.Cookies() {
				if !ck.Secure || !ck.HttpOnly || ck.SameSite == http.SameSiteNoneMode || ck.SameSite == http.SameSiteDefaultMode {
					t.Errorf("%s %s (Host %s): cookie %s = %+v", st.method, st.path, host, ck.Name, ck)
				}
				if ck.Name == sessionCookie && ck.SameSite != http.SameSiteStrictMode {
					t.Errorf("session cookie SameSite = %v, want Strict", ck.SameSite)
				}
			}
		}
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar}
	res, err := hc.Post(e.srv.URL+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"coord","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = hc.Get(e.srv.URL + "/api/v1/session")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("cookie jar over http://127.0.0.1: session check %d", res.StatusCode)
	}
}

// TestSpanishByDefault: the browser's Accept-Language does not decide;
// only the switch does.
func TestSpanishByDefault(t *testing.T) {
	e := newEnv(t)
	a := e.anon()
	for _, al := range []string{"", "en-GB,en;q=0.9", "en", "fr-FR", "es-MX"} {
		if r := a.do("GET", "/login", nil, map[string]string{"Accept-Language": al}); !strings.Contains(r.body, `<html lang="es">`) {
			t.Errorf("Accept-Language %q: not Spanish", al)
		}
	}
	if r := a.page("/login?lang=en"); r.status != http.StatusSeeOther || a.cookies[langCookie] != "en" {
		t.Fatalf("switch to English: %d, cookie %q", r.status, a.cookies[langCookie])
	}
	if r := a.do("GET", "/login", nil, map[string]string{"Accept-Language": "es"}); !strings.Contains(r.body, `<html lang="en">`) {
		t.Error("the switch lost to Accept-Language")
	}
	a.cookies[langCookie] = "fr" // not a language we have
	if r := a.page("/login"); !strings.Contains(r.body, `<html lang="es">`) {
		t.Error("an unknown lang cookie did not fall back to Spanish")
	}
}

// TestLangSwitchKeepsQuery: the switch link and its redirect keep the
// page's path and the query parameters pages read (less lang), escaped;
// never a parameter a client made up (it may be a name, S4), and never
// another host.
func TestLangSwitchKeepsQuery(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	links := []struct {
		path, link string
	}{
		{"/people?page=2", `href="/people?lang=en&amp;page=2"`},
		{"/missing?stage=tapachula", `href="/missing?lang=en&amp;stage=tapachula"`},
		{"/people?page=2&q=Ana+Paz", `href="/people?lang=en&amp;page=2"`},
		{"/people?stage=%3Cb%3E%22x%22", `href="/people?lang=en&amp;stage=%3Cb%3E%22x%22"`},
		{"/people/a%2Fb", `href="/people/a%2Fb?lang=en"`},
		{"/nothing/a%2Fb?page=1", `href="/?lang=en"`}, // no such page: back to the start
	}
	for _, tc := range links {
		r := c.page(tc.path)
		if !strings.Contains(r.body, tc.link) {
			i := strings.Index(r.body, "hreflang")
			t.Errorf("%s: switch link is not %s:\n%.300s", tc.path, tc.link, r.body[max(i-200, 0):])
		}
	}
	redirects := []struct {
		path, location string
	}{
		{"/people?lang=en&page=2", "/people?page=2"},
		{"/missing?stage=tapachula&lang=es", "/missing?stage=tapachula"},
		{"/people?lang=en", "/people"},
		{"/timeline?kind=fire&lang=en&page=2", "/timeline?kind=fire&page=2"},
		{"/people/a%2Fb?lang=en&q=%C3%B1", "/people/a%2Fb"},
		{"//evil.example/?lang=en", "/"},
	}
	for _, tc := range redirects {
		r := c.page(tc.path)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tc.location {
			t.Errorf("GET %s: %d to %q, want 303 to %q", tc.path, r.status, r.header.Get("Location"), tc.location)
		}
	}
	// The helpers on their own, with what a client cannot easily send.
	for _, tc := range []struct {
		u    url.URL
		want string
	}{
		{url.URL{Path: "/\\evil.example/", RawQuery: "lang=en"}, "/"},
		{url.URL{Path: "//evil.example/x"}, "/"},
		{url.URL{Path: "/people", RawQuery: "lang=en&page=3"}, "/people?page=3"},
		{url.URL{Path: "/a b", RawQuery: "n=a+b&lang=es"}, "/a%20b"},
		{url.URL{Path: "/headcounts", RawQuery: "stage=x+y&from=2018-10-20T14:30&lang=en"}, "/headcounts?from=2018-10-20T14%3A30&stage=x+y"},
	} {
		if got := withoutLang(&tc.u); got != tc.want {
			t.Errorf("withoutLang(%s) = %q, want %q", tc.u.String(), got, tc.want)
		}
	}
	for _, tc := range []struct{ langPath, want string }{
		{"/supply", "/supply?lang=en"},
		{"//evil.example/x", "/?lang=en"},
		{"https://evil.example/x", "/?lang=en"},
		{"/people?page=2&lang=es", "/people?lang=en&page=2"},
	} {
		v := &view{Lang: "es", LangPath: tc.langPath}
		if got := v.LangHref(); got != tc.want {
			t.Errorf("LangHref(%q) = %q, want %q", tc.langPath, got, tc.want)
		}
	}
}

// TestUnknownURLs: unknown paths and wrong methods get a page in the
// user's language for a browser, and JSON under /api/.
func TestUnknownURLs(t *testing.T) {
	e := newEnv(t)
	anon := e.anon()
	coord := e.login(auth.Coordinator)
	english := e.anon()
	english.cookies[langCookie] = "en"
	tests := []struct {
		name     string
		c        *client
		method   string
		path     string
		status   int
		allow    string
		json     string // the code, for API answers
		contains []string
	}{
		{"unknown page", anon, "GET", "/nothing", 404, "", "", []string{`<html lang="es">`, "Esa página no existe", `href="/"`}},
		{"unknown page in English", english, "GET", "/no/such/page", 404, "", "", []string{`<html lang="en">`, "There is no such page"}},
		{"unknown page logged in", coord, "GET", "/nothing", 404, "", "", []string{"Esa página no existe", `action="/logout"`}},
		{"unknown sub-page", coord, "GET", "/people/x/y/z", 404, "", "", []string{"Esa página no existe"}},
		{"wrong method", anon, "GET", "/logout", 405, "POST", "", []string{`<html lang="es">`, "Esta dirección no se abre así"}},
		{"wrong method in English", english, "DELETE", "/people", 405, "GET, HEAD, POST", "", []string{"cannot be opened like that"}},
		{"unknown API route", coord, "GET", "/api/v1/nothing", 404, "", "not_found", nil},
		{"wrong API method", coord, "DELETE", "/api/v1/people", 405, "GET, HEAD, POST", "method_not_allowed", nil},
		{"unknown sync route", anon, "POST", "/sync/v1/nothing", 404, "", "not_found", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.do(tc.method, tc.path, nil, nil)
			if r.status != tc.status {
				t.Fatalf("%s %s: %d, want %d\n%.300s", tc.method, tc.path, r.status, tc.status, r.body)
			}
			if tc.allow != "" && r.header.Get("Allow") != tc.allow {
				t.Errorf("Allow = %q, want %q", r.header.Get("Allow"), tc.allow)
			}
			if tc.json != "" {
				var body errorBody
				r.json(t, &body)
				if body.Code != tc.json || body.Error == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
					t.Errorf("API answer %+v (%s)", body, r.header.Get("Content-Type"))
				}
				return
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, w := range tc.contains {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q:\n%.1500s", w, r.body)
				}
			}
			for _, bad := range []string{"404 page not found", "Method Not Allowed"} {
				if strings.Contains(r.body, bad) {
					t.Errorf("page holds Go's %q", bad)
				}
			}
		})
	}
	// A path the mux cleans is still redirected, not refused.
	if r := anon.page("/people/../login"); r.status/100 != 3 || r.header.Get("Location") != "/login" {
		t.Errorf("unclean path: %d %q", r.status, r.header.Get("Location"))
	}
}

// TestPluralForms: a count of one reads in the singular, in both
// languages; other counts, and arguments that are not counts, do not.
func TestPluralForms(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	es := &reqCtx{lang: "es", cat: cats["es"]}
	en := &reqCtx{lang: "en", cat: cats["en"]}
	tests := []struct {
		c    *reqCtx
		key  string
		args []any
		want string
	}{
		{es, "trace.years", []any{1}, "1 año"},
		{es, "trace.years", []any{2}, "2 años"},
		{es, "trace.years", []any{0}, "0 años"},
		{en, "trace.years", []any{1}, "1 year"},
		{en, "trace.years", []any{11}, "11 years"},
		{es, "people.total", []any{1}, "1 persona registrada"},
		{es, "supply.size", []any{int64(1)}, "1 persona"},
		{es, "person.age_value", []any{1, "0-4"}, "1 año (0-4)"},
		{es, "wait.minutes", []any{1}, "1 minuto"},
		{en, "wait.seconds", []any{1}, "1 second"},
		{es, "trace.years", []any{"1"}, "%!d(string=1) años"}, // a string is not a count
		{es, "route.line", []any{1}, "Línea 1"},               // no singular form: unchanged
	}
	for _, tc := range tests {
		if got := tc.c.T(tc.key, tc.args...); got != tc.want {
			t.Errorf("%s T(%q, %v) = %q, want %q", tc.c.lang, tc.key, tc.args, got, tc.want)
		}
		v := &view{c: tc.c}
		if got := v.T(tc.key, tc.args...); got != tc.want {
			t.Errorf("%s template T(%q, %v) = %q, want %q", tc.c.lang, tc.key, tc.args, got, tc.want)
		}
	}
	// Every singular form has its plural and takes the same arguments.
	for lang, cat := range cats {
		for k, v := range cat {
			base, ok := strings.CutSuffix(k, ".one")
			if !ok {
				continue
			}
			if !cat.Has(base) {
				t.Errorf("%s: %s has no plural %s", lang, k, base)
			} else if strings.Count(v, "%") != strings.Count(cat[base], "%") {
				t.Errorf("%s: %s %q and %s %q take different arguments", lang, k, v, base, cat[base])
			}
			if !strings.Contains(v, "%d") {
				t.Errorf("%s: %s %q shows no count", lang, k, v)
			}
		}
	}
	// On a page: one person registered.
	e := newEnv(t)
	e.register(samplePerson("Ana", "Paz"))
	if r := e.login(auth.Coordinator).page("/people"); !strings.Contains(r.body, "1 persona registrada") {
		i := strings.Index(r.body, "registrad")
		t.Errorf("people page with one person: %q", r.body[max(i-40, 0):max(i+20, 0)])
	}
}
