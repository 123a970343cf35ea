package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"caravana/internal/auth"
)

// formFuzzRoutes are the web forms fuzzed with arbitrary bodies: every
// form that records something typed at a desk.
func formFuzzRoutes(ids fuzzIDs) []fuzzRoute {
	return []fuzzRoute{
		{"POST /people", "/people"},
		{"POST /people/{id}/edit", "/people/" + ids.person + "/edit"},
		{"POST /households", "/households"},
		{"POST /households/{id}/members", "/households/" + ids.household + "/members"},
		{"POST /supply/check", "/supply/check"},
		{"POST /supply/give", "/supply/give"},
		{"POST /supply/receive", "/supply/receive"},
		{"POST /incidents", "/incidents"},
		{"POST /hazards", "/hazards"},
		{"POST /tracing", "/tracing"},
		{"POST /checkin/{stage}", "/checkin/tapachula"},
		{"POST /missing/left", "/missing/left"},
	}
}

// FuzzFormBodies posts arbitrary form bodies to the web forms (S18), as a
// coordinator with a valid CSRF token: no form fails with a 5xx (a panic
// is recovered as a 500), and a refused form (4xx) changes nothing.
func FuzzFormBodies(f *testing.F) {
	e := newEnv(f)
	c := e.login(auth.Coordinator)
	p, q, ids := fuzzFixtures(f, e)
	h := e.s.Handler()
	paths := formFuzzRoutes(ids)
	for i, rt := range paths {
		if !slices.Contains(e.s.patterns, rt.pattern) {
			f.Fatalf("%s is fuzzed but not registered", rt.pattern)
		}
		// Malformed and empty bodies, on every form.
		for _, seed := range []string{"", "%zz", "\xff", "a=1&a=2&=&&", "code=%00", "csrf=wrong"} {
			f.Add(uint8(i), []byte(seed))
		}
	}
	v := func(kv ...string) []byte {
		out := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return []byte(out.Encode())
	}
	index := func(pattern string) uint8 {
		for i, rt := range paths {
			if rt.pattern == pattern {
				return uint8(i)
			}
		}
		f.Fatalf("no fuzzed route %s", pattern)
		return 0
	}
	for _, s := range []struct {
		pattern string
		body    []byte
	}{
		{"POST /people", v("given_names", "Ana", "surname1", "Cruz", "sex", "F", "consent_registration", "1", "flags", "pregnant")},
		{"POST /people", v("given_names", "Ana", "surname1", "Cruz", "sex", "Q", "birth_date", "ayer", "flags", "tall", "flags", "medical")},
		{"POST /people", v("given_names", "Ana\x00", "surname1", "", "phone", "123")},
		{"POST /people/{id}/edit", v("given_names", "Fuzz", "surname1", "Objetivo", "sex", "F", "phone", "+504 1111-2222")},
		{"POST /people/{id}/edit", v("given_names", "", "birth_date", "2999-01-01", "nationality", "XYZ")},
		{"POST /households", v("label", "Casa", "kind", "family", "code", q.Code, "role", "head", "code", p.Code, "role", "child")},
		{"POST /households", v("label", "Casa", "kind", "tribe", "code", "K7M4Q-X2PR8", "role", "kid", "code", q.Code, "role", "head")},
		{"POST /households/{id}/members", v("code", q.Code, "role", "child")},
		{"POST /households/{id}/members", v("code", q.Code, "role", "kid")},
		{"POST /households/{id}/members", v("code", "denis lopez", "role", "")},
		{"POST /supply/check", v("item", "water", "stage", "tapachula", "code", p.Code)},
		{"POST /supply/check", v("item", "piano", "stage", "paris", "code", "7KQ2M")},
		{"POST /supply/give", v("item", "family-tent", "stage", "tapachula", "code", q.Code)},
		{"POST /supply/give", v("item", "water", "stage", "tapachula", "person", p.ID)},
		{"POST /supply/give", v("item", "water", "person", "nobody", "code", "x")},
		{"POST /supply/receive", v("item", "water", "qty", "1.000", "stage", "tapachula", "donor", "Parroquia")},
		{"POST /supply/receive", v("item", "water", "qty", "-1", "stage", "tapachula")},
		{"POST /supply/receive", v("item", "", "qty", "1e9", "stage", "")},
		{"POST /incidents", v("kind", "accident", "severity", "low", "stage", "tapachula", "people", p.Code+"\n"+q.Code, "count", "2")},
		{"POST /incidents", v("kind", "accident", "severity", "low", "stage", "tapachula", "people", p.Code+", K7M4Q-X2PR8;;\n ,", "count", "x")},
		{"POST /incidents", v("kind", "flood", "severity", "", "lat", "91", "lon", "abc", "at", "mañana", "people", "\n\n,;")},
		{"POST /hazards", v("kind", "trap", "stage", "tapachula", "until", "2099-01-01T00:00")},
		{"POST /hazards", v("kind", "trap", "lat", "14.9", "from", "2099-01-01T00:00", "until", "2000-01-01T00:00")},
		{"POST /tracing", v("given_names", "Chepe", "surnames", "Objetivo", "sex", "M", "age", "9", "relation", "parent")},
		{"POST /tracing", v("given_names", "", "age", "-3", "birth_date", "2017-13-40", "reporter_code", "K7M4Q-X2PR8")},
		{"POST /checkin/{stage}", v("code", p.Code)},
		{"POST /checkin/{stage}", v("code", "villanueva")},
		{"POST /checkin/{stage}", v("person", "nobody")},
		{"POST /missing/left", v("person", p.ID, "reason", "stayed")},
		{"POST /missing/left", v("person", p.ID, "reason", "bored", "page", "-1")},
	} {
		f.Add(index(s.pattern), s.body)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		route := paths[int(which)%len(paths)]
		before := e.eventCount(t)
		// The session's token comes first: the form's own csrf, if any,
		// does not replace it (Get reads the first value).
		full := append([]byte("csrf="+url.QueryEscape(c.csrf)+"&"), body...)
		req := httptest.NewRequest("POST", route.path, bytes.NewReader(full))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range c.cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s with %q: status %d: %.500s", route.path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && e.eventCount(t) != before {
			t.Fatalf("%s with %q refused with %d but wrote events", route.path, body, rec.Code)
		}
	})
}
