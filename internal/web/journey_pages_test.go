package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

// TestRouteImport: a bad file gets every problem with its line and field
// and changes nothing; a good one replaces the route.
func TestRouteImport(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	isDefault := func() bool {
		var rt struct{ Default bool }
		c.do("GET", "/api/v1/route", nil, nil).json(t, &rt)
		return rt.Default
	}
	before := e.events()
	bad := "id,name,country,lat,lon,km\nuno,Uno,HN,15.5,-88,0\ndos,Dos,Honduras,15.4,-88.1,10\ntres,Tres,GT,15.3,-88.2,5\n"
	r := c.upload("/route", upload{name: "ruta.csv", data: []byte(bad)})
	for _, w := range []string{"Línea 3", "stages[1].country", "Línea 4", "stages[2].km", "no se cambió nada"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("bad route file: lacks %q", w)
		}
	}
	if r.status != 400 || !isDefault() || e.events() != before {
		t.Fatalf("a bad route file changed something: %d", r.status)
	}
	// A list of people uploaded by mistake: its contents are not echoed.
	wrong := "given_names,surname1\nQzxcanaryruta,Wvkcanaryruta\n"
	r = c.upload("/route", upload{name: "Qzxcanaryfile.csv", data: []byte(wrong)})
	if r.status != 400 || strings.Contains(strings.ToLower(r.body), "canary") || !strings.Contains(r.body, "unknown column") {
		t.Errorf("wrong file: %d\n%.3000s", r.status, r.body)
	}
	if r := c.upload("/route", upload{name: "vacio.csv"}); r.status != 400 || !strings.Contains(r.body, "elija un archivo") {
		t.Errorf("empty upload: %d", r.status)
	}
	if r := c.upload("/route", upload{name: "big.csv", data: make([]byte, maxRouteBody+1)}); r.status != 413 {
		t.Errorf("oversized upload: %d", r.status)
	}
	if r := c.upload("/route", upload{name: "ruta.json", data: []byte("{\"stages\": [\n  {\"name\": \"A\",}\n]}")}); r.status != 400 || !strings.Contains(r.body, "Línea 2") {
		t.Errorf("bad JSON: %d\n%.2000s", r.status, r.body)
	}
	good := "id,name,country,lat,lon,km\nsan-pedro-sula,San Pedro Sula,HN,15.5,-88.02,0\ntecun-uman,Tecún Umán,GT,14.68,-92.14,764\ntapachula,Tapachula,MX,14.9,-92.26,803\n"
	if r := c.upload("/route", upload{name: "nueva.CSV", data: []byte(good)}); r.status != 303 || r.header.Get("Location") != "/route" {
		t.Fatalf("good route: %d\n%.2000s", r.status, r.body)
	}
	if isDefault() {
		t.Fatal("the route did not change")
	}
	r = c.page("/route")
	if !strings.Contains(r.body, "Tecún Umán") || strings.Contains(r.body, "Chiquimula") || !strings.Contains(r.body, "Ruta importada el") {
		t.Errorf("route page after the import:\n%.3000s", r.body)
	}
	if !strings.Contains(r.body, "<svg") || !strings.Contains(r.body, "Mapa de la ruta") {
		t.Errorf("no map on the route page")
	}
	// The same through the API: field errors name the stage and key.
	runScenarios(t, e, []scenario{
		{name: "api bad route", role: auth.Coordinator, method: "PUT", path: "/api/v1/route",
			body:   `{"stages":[{"name":"A","country":"HN","lat":1,"lon":1,"km":5},{"name":"B","country":"HN","lat":1,"lon":1,"km":2}]}`,
			status: 400, want: []string{`"field":"stages[1].km"`, "greater than the previous"}},
		{name: "api one stage", role: auth.Coordinator, method: "PUT", path: "/api/v1/route",
			body: `{"stages":[{"name":"A","country":"HN","lat":1,"lon":1,"km":5}]}`, status: 400, want: []string{`"field":"stages"`}},
		{name: "api volunteer", role: auth.Volunteer, method: "PUT", path: "/api/v1/route", body: `{"stages":[]}`, status: 403},
		{name: "page volunteer", role: auth.Volunteer, method: "GET", path: "/route", status: 200, forbid: []string{`action="/route"`}},
	})
	// The import form is for coordinators only.
	if !strings.Contains(c.page("/route").body, `enctype="multipart/form-data"`) {
		t.Error("coordinator has no import form")
	}
}

// TestMissingPage: children first, and the buttons mark found, left (with
// a reason) and back, each changing the list.
func TestMissingPage(t *testing.T) {
	e := newEnv(t)
	mother := e.person("Reina", "Mejía", "1990-01-01")
	son := e.person("Kevin", "Mejía", "2015-01-01")
	// Under 18 whenever the test runs: the registry refuses an adult
	// flagged as an unaccompanied child.
	alone := e.person("Nohemí", "Ortiz", time.Now().AddDate(-16, 0, 0).Format(time.DateOnly), auth.FlagUnaccompanied)
	adult := e.person("Marvin", "Flores", "1985-01-01")
	father := e.person("Wilmer", "Mejía", "1988-01-01")
	e.household("Familia Mejía", "family", registry.Member{Person: mother.ID, Role: "head"},
		registry.Member{Person: father.ID, Role: "spouse"}, registry.Member{Person: son.ID, Role: "child"})
	v := e.login(auth.Volunteer)
	if r := v.page("/missing"); r.status != 200 || !strings.Contains(r.body, "Aún no se ha registrado a nadie") {
		t.Errorf("missing list before any check-in: %d", r.status)
	}
	v.do("POST", "/api/v1/checkins", checkinsBody("san-pedro-sula", mother.Code, son.Code, alone.Code, adult.Code, father.Code), nil)
	v.do("POST", "/api/v1/checkins", checkinsBody("agua-caliente", father.Code), nil)
	r := v.page("/missing")
	if r.status != 200 {
		t.Fatalf("missing: %d", r.status)
	}
	iAlone, iSon, iAdult := strings.Index(r.body, "Nohemí Ortiz"), strings.Index(r.body, "Kevin Mejía"), strings.Index(r.body, "Marvin Flores")
	if iAlone < 0 || iSon < 0 || iAdult < 0 || !(iAlone < iSon && iSon < iAdult) {
		t.Errorf("order: child alone %d, missing child %d, adult %d\n%.4000s", iAlone, iSon, iAdult, r.body)
	}
	for _, w := range []string{"niña/o sola/o", "falta una niña/o", "Vista/o aquí", "Niña/o no acompañado", `Faltan</dt><dd class="alert">4<`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("missing page lacks %q", w)
		}
	}
	// Left needs a reason.
	before := e.events()
	r = v.form("/missing/left", url.Values{"person": {mother.ID}, "stage": {"agua-caliente"}})
	if r.status != 400 || !strings.Contains(r.body, "Elija por qué dejó la caravana") || e.events() != before {
		t.Errorf("left without a reason: %d", r.status)
	}
	if r = v.form("/missing/left", url.Values{"person": {mother.ID}, "stage": {"agua-caliente"}, "reason": {"asylum_mexico"}}); r.status != 303 {
		t.Fatalf("left: %d %.600s", r.status, r.body)
	}
	// Her son is still missing, so the household stays on the list with
	// her reason and a button to mark her back.
	r = v.page("/missing?stage=agua-caliente")
	if !strings.Contains(r.body, "Dejó la caravana: asilo en México") || !strings.Contains(r.body, `action="/missing/rejoined"`) ||
		!strings.Contains(r.body, "Dejaron la caravana desde el control anterior: 1") || !strings.Contains(r.body, `Faltan</dt><dd class="alert">3<`) {
		t.Errorf("after left:\n%.4000s", r.body)
	}
	if r = v.form("/missing/rejoined", url.Values{"person": {mother.ID}, "stage": {"agua-caliente"}}); r.status != 303 {
		t.Fatalf("rejoined: %d", r.status)
	}
	if r = v.page("/missing?stage=agua-caliente"); strings.Contains(r.body, "Dejó la caravana: asilo") || !strings.Contains(r.body, `Faltan</dt><dd class="alert">4<`) {
		t.Errorf("after rejoined:\n%.3000s", r.body)
	}
	// Found at this stage.
	r = v.form("/missing/found", url.Values{"person": {son.ID}, "stage": {"agua-caliente"}, "page": {"1"}})
	if r.status != 303 || r.header.Get("Location") != "/missing?stage=agua-caliente" {
		t.Fatalf("found: %d %q", r.status, r.header.Get("Location"))
	}
	if r = v.page("/missing?stage=agua-caliente"); !strings.Contains(r.body, `Faltan</dt><dd class="alert">3<`) {
		t.Errorf("after found, 3 should be missing:\n%.3000s", r.body)
	}
	// The API: ids and facts by default, names only when asked.
	r = v.do("GET", "/api/v1/missing?stage=agua-caliente", nil, nil)
	if r.status != 200 || strings.Contains(r.body, "Ortiz") || !strings.Contains(r.body, alone.ID) || !strings.Contains(r.body, `"priority":"child_alone"`) {
		t.Errorf("api missing without names: %d %s", r.status, r.body)
	}
	if r = v.do("GET", "/api/v1/missing?names=true", nil, nil); !strings.Contains(r.body, "Nohemí Ortiz") {
		t.Errorf("api missing with names: %s", r.body)
	}
	runScenarios(t, e, []scenario{
		{name: "found by mistyped code", role: auth.Volunteer, method: "POST", path: "/api/v1/missing/found",
			body: `{"code":"` + breakCheck(adult.Code) + `"}`, status: 400, want: []string{`"code":"check"`}},
		{name: "left with a bad reason", role: auth.Volunteer, method: "POST", path: "/api/v1/missing/left",
			body: `{"person":"` + adult.ID + `","reason":"vanished"}`, status: 400, want: []string{`"field":"reason"`}},
		{name: "found by code", role: auth.Volunteer, method: "POST", path: "/api/v1/missing/found",
			body: `{"code":"` + adult.Code + `","stage":"agua-caliente"}`, status: 200, want: []string{`"via":"found"`}},
		{name: "found unknown person", role: auth.Volunteer, method: "POST", path: "/api/v1/missing/found",
			body: `{"person":"0000000000000000"}`, status: 404},
		{name: "medic may not read", role: auth.Medic, method: "GET", path: "/missing", status: 403, forbid: []string{"Ortiz"}},
		{name: "unknown stage", role: auth.Volunteer, method: "GET", path: "/api/v1/missing?stage=atlantis", status: 400,
			want: []string{`"code":"unknown_stage"`}},
	})
}

// TestTimelinePage records incidents and hazards through the forms and
// the API: every problem at once, nothing half-saved.
func TestTimelinePage(t *testing.T) {
	e := newEnv(t)
	p := e.person("Óscar", "Reyes", "1990-01-01")
	c := e.login(auth.Medic)
	before := e.events()
	r := c.form("/incidents", url.Values{"kind": {"meteor"}, "severity": {"low"}, "lat": {"abc"}, "people": {breakCheck(p.Code)}})
	if r.status != 400 || e.events() != before {
		t.Fatalf("bad incident: %d", r.status)
	}
	for _, w := range []string{"Revise los campos marcados", `<details class="record" open>`, "no es válido"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("bad incident form lacks %q", w)
		}
	}
	r = c.form("/incidents", url.Values{"kind": {"medical"}, "severity": {"severe"}, "stage": {"tecun-uman"}, "count": {"4"},
		"people": {p.Code + "\n"}})
	if r.status != 303 {
		t.Fatalf("incident: %d\n%.2000s", r.status, r.body)
	}
	if r = c.form("/hazards", url.Values{"kind": {"trap"}, "stage": {"tapachula"}, "until": {""}}); r.status != 400 || !strings.Contains(r.body, "obligatorio") {
		t.Errorf("hazard without expiry: %d", r.status)
	}
	until := time.Now().Add(6 * time.Hour).UTC().Format("2006-01-02T15:04")
	if r = c.form("/hazards", url.Values{"kind": {"trap"}, "lat": {"14,91"}, "lon": {"-92.25"}, "until": {until}}); r.status != 303 {
		t.Fatalf("hazard: %d\n%.2000s", r.status, r.body)
	}
	r = c.page("/timeline")
	for _, w := range []string{"Urgencia médica", "grave", "Puente Rodolfo Robles", "afectadas: 4", "registradas: 1", "Trampa", "activo", "14.9100, -92.2500"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("timeline lacks %q", w)
		}
	}
	if strings.Contains(r.body, "Reyes") || strings.Contains(r.body, p.Code) {
		t.Error("the timeline names a person")
	}
	var hz struct {
		Hazards []struct{ ID string }
	}
	c.do("GET", "/api/v1/hazards?live=true", nil, nil).json(t, &hz)
	if len(hz.Hazards) != 1 {
		t.Fatalf("live hazards: %+v", hz)
	}
	if r = c.form("/hazards/"+hz.Hazards[0].ID+"/clear", url.Values{}); r.status != 303 {
		t.Fatalf("clear: %d", r.status)
	}
	if r = c.page("/timeline"); !strings.Contains(r.body, "levantado") {
		t.Error("cleared hazard not shown as cleared")
	}
	if r = c.page("/timeline?kind=trap"); strings.Contains(r.body, "afectadas: 4") || !strings.Contains(r.body, "levantado") {
		t.Error("kind filter ignored")
	}
	var tl struct{ Entries []json.RawMessage }
	c.do("GET", "/api/v1/timeline", nil, nil).json(t, &tl)
	if len(tl.Entries) != 2 {
		t.Errorf("timeline entries: %d", len(tl.Entries))
	}
	runScenarios(t, e, []scenario{
		{name: "api incident, every problem", role: auth.Legal, method: "POST", path: "/api/v1/incidents",
			body: `{"kind":"x","severity":"y","people":[{"code":"` + breakCheck(p.Code) + `"}]}`, status: 400,
			want: []string{`"field":"kind"`, `"field":"severity"`, `"field":"place"`, `"field":"people[0].code"`}},
		{name: "api hazard", role: auth.Legal, method: "POST", path: "/api/v1/hazards",
			body: `{"kind":"police_line","stage":"huixtla","until":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, status: 201},
		{name: "api bad filter", role: auth.Legal, method: "GET", path: "/api/v1/incidents?since=yesterday", status: 400,
			want: []string{`"field":"since"`}},
		{name: "clear unknown hazard", role: auth.Legal, method: "POST", path: "/api/v1/hazards/nope/clear", status: 404},
	})
}

// TestHeadcountsAndDashboard: counts per stage and window, and the map on
// the dashboard in both languages.
func TestHeadcountsAndDashboard(t *testing.T) {
	e := newEnv(t)
	a := e.person("Ana", "Cruz", "2012-01-01")
	b := e.person("Berta", "Cruz", "1970-01-01", auth.FlagMedical)
	c := e.login(auth.Coordinator)
	t0 := time.Now().Add(-5 * time.Hour).UTC().Truncate(time.Minute)
	body := fmt.Sprintf(`{"stage":"san-pedro-sula","checkins":[{"code":%q,"at":%q},{"code":%q,"at":%q}]}`,
		a.Code, t0.Format(time.RFC3339), b.Code, t0.Add(2*time.Hour).Format(time.RFC3339))
	if r := c.do("POST", "/api/v1/checkins", body, nil); r.status != 200 {
		t.Fatal(r.body)
	}
	c.do("POST", "/api/v1/checkins", checkinsBody("agua-caliente", a.Code), nil)
	r := c.page("/headcounts")
	for _, w := range []string{"San Pedro Sula", "Agua Caliente", "No vistas desde", "Atención médica", "<svg"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("headcounts lack %q", w)
		}
	}
	var hc struct {
		Stages []struct {
			Stage        struct{ ID string }
			Seen         int
			NotSeenSince int `json:"not_seen_since"`
		}
	}
	win := url.Values{"stage": {"san-pedro-sula"}, "from": {t0.Add(time.Hour).Format(time.RFC3339)}}
	c.do("GET", "/api/v1/headcounts?"+win.Encode(), nil, nil).json(t, &hc)
	if len(hc.Stages) != 1 || hc.Stages[0].Seen != 1 || hc.Stages[0].NotSeenSince != 1 {
		t.Errorf("windowed headcount: %+v", hc)
	}
	win.Set("from", t0.Add(time.Hour).Format("2006-01-02T15:04"))
	if r = c.page("/headcounts?" + win.Encode()); r.status != 200 || !strings.Contains(r.body, "vistas: 1") {
		t.Errorf("windowed page: %d", r.status)
	}
	if r = c.page("/headcounts?from=ayer"); r.status != 400 {
		t.Errorf("bad window: %d", r.status)
	}
	if r = c.page("/headcounts?from=2020-01-02T00:00&to=2020-01-01T00:00"); r.status != 400 || !strings.Contains(r.body, "no es válido") {
		t.Errorf("reversed window: %d", r.status)
	}
	// A volunteer's headcount has no medical flag.
	if r = e.login(auth.Volunteer).page("/headcounts"); strings.Contains(r.body, "Atención médica") {
		t.Error("volunteer sees the medical flag in headcounts")
	}
	r = c.page("/")
	for _, w := range []string{"Mapa de la ruta", "Columna", "km recorridos", "km por recorrer", "Agua Caliente", "265"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
	for _, lang := range []string{"es", "en"} {
		c.page("/?lang=" + lang)
		checkJourneyPages(t, c)
	}
	if r = c.page("/"); !strings.Contains(r.body, "Route map") || !strings.Contains(r.body, "km to go") {
		t.Errorf("English dashboard map")
	}
}

// checkJourneyPages: each journey page answers, CSP-safe, with every
// catalogue string filled in.
func checkJourneyPages(t *testing.T, c *client) {
	t.Helper()
	for _, path := range []string{"/route", "/checkin/agua-caliente", "/missing", "/timeline", "/headcounts", "/checkin?choose=1", "/"} {
		r := c.page(path)
		body := r.body
		if r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
		for _, bad := range []string{"style=", "<style", "<script", "onclick", "javascript:", "%!", "MISSING"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
	}
}

// TestJourneyNoPIILeak is S4 for the journey: check-ins, searches at the
// checkpoint, the missing list and its buttons, with canary names and their
// codes; no name or code in any URL the pages link or redirect to, in any
// request the UI makes, or in the logs.
func TestJourneyNoPIILeak(t *testing.T) {
	e := newEnv(t)
	p1 := e.person("Qzxcanaryuno", "Wvkcanarydos", "2014-01-01")
	p2 := e.person("Jhqcanarytres", "Wvkcanarydos", "1980-01-01")
	e.household("Casa Qzxcanaryhogar", "family", registry.Member{Person: p2.ID, Role: "head"}, registry.Member{Person: p1.ID, Role: "child"})
	v := e.login(auth.Volunteer)
	v.scan("san-pedro-sula", p1.Code)
	v.scan("san-pedro-sula", p2.Code)
	v.scan("agua-caliente", p2.Code)
	v.scan("agua-caliente", breakCheck(p1.Code))
	v.form("/checkin/agua-caliente", url.Values{"code": {"qzxcanaryuno"}})
	v.do("POST", "/api/v1/checkins", checkinsBody("agua-caliente", breakCheck(p1.Code), p2.Code), nil)
	v.do("POST", "/api/v1/checkins", `{"stage":"Qzxcanaryuno","checkins":[{"code":"Qzxcanaryuno"}]}`, nil)
	v.do("POST", "/api/v1/missing/found", `{"code":"`+breakCheck(p1.Code)+`"}`, nil)
	v.page("/missing")
	v.form("/missing/left", url.Values{"person": {p1.ID}, "stage": {"agua-caliente"}})
	v.form("/missing/found", url.Values{"person": {p1.ID}, "stage": {"agua-caliente"}})
	v.page("/missing?stage=agua-caliente")
	v.form("/incidents", url.Values{"kind": {"accident"}, "severity": {"low"}, "stage": {"tecun-uman"}, "people": {p1.Code + "\n" + breakCheck(p2.Code)}})
	v.page("/timeline")
	secrets := []string{"canary", strings.ToLower(p1.Code), strings.ToLower(p2.Code), strings.ToLower(breakCheck(p1.Code)),
		strings.ToLower(cardcode.Format(p1.Code)), strings.ToLower(cardcode.Format(p2.Code))}
	checkNoLeaks(t, e, v, `route="post /checkin/{stage}"`, secrets)
}

// checkNoLeaks checks that none of secrets (lower case) is in the server
// logs, in a URL the client requested or a page links to, in a response
// header, or in a JSON error; route is an access-log entry that must be
// there, to show the logs were captured.
func checkNoLeaks(t *testing.T, e *env, v *client, route string, secrets []string) {
	t.Helper()
	logs := strings.ToLower(e.logs.String())
	if !strings.Contains(logs, route) {
		t.Fatalf("access log not captured:\n%.1000s", logs)
	}
	urlAttr := regexp.MustCompile(`(?:href|action|src|formaction)="([^"]*)"`)
	for _, sec := range secrets {
		if strings.Contains(logs, sec) {
			t.Errorf("%q in the logs", sec)
		}
		for _, r := range v.seen {
			if strings.Contains(strings.ToLower(r.url), sec) {
				t.Errorf("%q in a URL the UI requested: %s", sec, r.url)
			}
			for k, vs := range r.header {
				for _, h := range vs {
					if strings.Contains(strings.ToLower(h), sec) {
						t.Errorf("%s: %q in header %s", r, sec, k)
					}
				}
			}
			for _, m := range urlAttr.FindAllStringSubmatch(r.body, -1) {
				if strings.Contains(strings.ToLower(m[1]), sec) {
					t.Errorf("%s: %q in a URL in the page: %s", r, sec, m[1])
				}
			}
			if r.status >= 400 && strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && strings.Contains(strings.ToLower(r.body), sec) {
				t.Errorf("%s: %q in the error: %s", r, sec, r.body)
			}
		}
	}
}
