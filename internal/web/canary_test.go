package web

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// TestCanaryNoPIILeak is S4: register people with unique canary names, make
// failing and careless requests carrying those names, then scan the logs,
// every response header, every URL the server hands out (Location, links,
// form actions) and every error message: no canary anywhere.
func TestCanaryNoPIILeak(t *testing.T) {
	e := newEnv(t)
	canaries := []string{"Qzxcanaryuno", "Wvkcanarydos", "Jhqcanarytres"}
	api := e.login(auth.Volunteer)
	web := e.login(auth.Coordinator)
	var ids []string
	for _, cn := range canaries {
		r := api.do("POST", "/api/v1/people", registry.PersonInput{GivenNames: cn, Surname1: cn + "apellido", Sex: "F",
			Consent: registry.Consent{Registration: true}}, nil)
		if r.status != 201 {
			t.Fatalf("register canary: %d %s", r.status, r.body)
		}
		var p registry.Person
		r.json(t, &p)
		ids = append(ids, p.ID)
	}
	cn := canaries[0]
	// Failing API requests that carry a canary.
	for _, body := range []string{
		`{"given_names":"` + cn + `",`,                                  // truncated
		`{"given_names":"` + cn + `","bogus":1}`,                        // unknown field
		`{"` + strings.ToLower(cn) + `":"x"}`,                           // the name as a key
		`{"given_names":["` + cn + `"]}`,                                // wrong type
		`{"given_names":"` + cn + `","surname1":"","sex":"F"}`,          // invalid
		`{"given_names":"` + cn + `","flags":["` + cn + `"],"sex":"F"}`, // unknown flag value
	} {
		if r := api.do("POST", "/api/v1/people", body, nil); r.status < 400 {
			t.Fatalf("bad body accepted: %s", body)
		}
	}
	api.do("PATCH", "/api/v1/people/"+ids[0], `{"fields":{"given_names":"`+cn+`","phone":"`+cn+`"}}`, nil)
	api.do("POST", "/api/v1/people/search", `{"q":"`+cn+`"}`, nil)
	api.do("POST", "/api/v1/people/search", `{"q":"Nocanaryhere"}`, nil)
	api.do("POST", "/api/v1/people/search", `{"code":"`+cn+`"}`, nil)
	api.do("POST", "/api/v1/people/search", `{"q":"`+cn+`"}`, map[string]string{"X-CSRF-Token": "forged"})
	api.do("POST", "/api/v1/households", `{"label":"`+cn+`","kind":"nope","members":[{"code":"`+cn+`","role":"head"}]}`, nil)
	// Failing and successful page requests.
	web.form("/people/search", url.Values{"q": {cn}})
	web.form("/people/search", url.Values{"q": {"Nocanaryhere"}})
	web.form("/people/search", url.Values{"q": {cn}, "csrf": {"forged"}})
	web.form("/people", url.Values{"given_names": {cn}, "phone": {cn}})
	web.form("/households", url.Values{"label": {cn}, "kind": {"family"}, "code": {cn}, "role": {"head"}})
	web.page("/people/" + ids[1])
	web.page("/people/" + ids[1] + "/card")
	web.page("/people")
	web.page("/audit")
	// A careless client putting a name in a URL: the server must not
	// repeat it in logs or redirects.
	careless := e.login(auth.Volunteer)
	careless.page("/people?q=" + cn)
	careless.page("/people?lang=en&q=" + cn)
	careless.page("/api/v1/people?name=" + cn)
	careless.page("/api/v1/" + cn)
	careless.page("/" + cn)
	metrics := e.anon().page("/metrics")

	logs := strings.ToLower(e.logs.String())
	if !strings.Contains(logs, `route="post /api/v1/people"`) {
		t.Fatalf("access log not captured; logs:\n%.2000s", logs)
	}
	urlAttr := regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)
	errText := regexp.MustCompile(`class="(?:err|flash[^"]*)"[^>]*>([^<]*)<`)
	for _, c := range canaries {
		lc := strings.ToLower(c)
		if strings.Contains(logs, lc) {
			t.Errorf("canary %s in the logs", c)
		}
		if strings.Contains(strings.ToLower(metrics.body), lc) {
			t.Errorf("canary %s in /metrics", c)
		}
		for _, cl := range []*client{api, web, careless} {
			for _, r := range cl.seen {
				if cl != careless && strings.Contains(strings.ToLower(r.url), lc) {
					t.Errorf("canary %s in a URL the UI requested: %s", c, r.url)
				}
				for k, vs := range r.header {
					for _, v := range vs {
						if strings.Contains(strings.ToLower(v), lc) {
							t.Errorf("%s: canary %s in header %s: %s", r, c, k, v)
						}
					}
				}
				for _, m := range urlAttr.FindAllStringSubmatch(r.body, -1) {
					if strings.Contains(strings.ToLower(m[1]), lc) {
						t.Errorf("%s: canary %s in a URL in the page: %s", r, c, m[1])
					}
				}
				if r.status < 400 {
					continue
				}
				if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && strings.Contains(strings.ToLower(r.body), lc) {
					t.Errorf("%s: canary %s in the error: %s", r, c, r.body)
				}
				for _, m := range errText.FindAllStringSubmatch(r.body, -1) {
					if strings.Contains(strings.ToLower(m[1]), lc) {
						t.Errorf("%s: canary %s in an error message: %s", r, c, m[1])
					}
				}
			}
		}
	}
	for _, id := range ids {
		if strings.Contains(metrics.body, id) {
			t.Errorf("/metrics holds a raw path with person id %s", id)
		}
	}
}
