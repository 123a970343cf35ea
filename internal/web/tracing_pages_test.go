package web

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/ledger"
	"caravana/internal/tracing"
)

// chepeForm is chepeReport as the form sends it.
func chepeForm(t testing.TB) url.Values {
	return url.Values{"given_names": {"Chepe"}, "surnames": {"Hernández"}, "sex": {"M"}, "age": {strconv.Itoa(ageToday(t, childBirth))},
		"origin_town": {"Choloma"}, "relation": {"parent"}, "reporter_name": {"Marta López"}, "reporter_contact": {"+504 3333-4444"},
		"last_seen_place": {"Tecún Umán"}}
}

var reportPath = regexp.MustCompile(`^/tracing/([0-9a-f]+)\?done=reported$`)

// TestTracingPages: the report form keeps what was typed next to each
// problem; a good report leads to its page, where the registered child is
// the first candidate with a translated explanation; confirming closes it;
// a medic only takes reports down.
func TestTracingPages(t *testing.T) {
	e := newEnv(t)
	tracingPopulation(e)
	child := e.traced("José", "Hernández", "López", "M", childBirth, "Choloma")
	v := e.login(auth.Volunteer)
	if r := v.page("/"); !strings.Contains(r.body, `<a href="/tracing">Búsqueda de familiares</a>`) {
		t.Errorf("no tracing link in the volunteer's menu")
	}

	before := e.events()
	bad := url.Values{"surnames": {""}, "age": {"doce"}, "birth_date": {"3000-01-01"}, "reporter_name": {"Marta Qx"},
		"relation": {"sibling"}, "reporter_code": {"ABC"}, "notes": {"lleva gorra roja"}}
	r := v.form("/tracing", bad)
	if r.status != 400 || e.events() != before {
		t.Fatalf("bad report: %d, %d events", r.status, e.events()-before)
	}
	for _, w := range []string{"Revise los campos marcados", "escriba al menos un nombre, un apodo o un apellido", "una edad entre 0 y 120",
		"no puede ser futura", "un código tiene 10 letras", `value="Marta Qx"`, `value="doce"`, `value="ABC"`, "lleva gorra roja",
		`<option value="sibling" selected>`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("bad report form lacks %q", w)
		}
	}

	r = v.form("/tracing", chepeForm(t))
	m := reportPath.FindStringSubmatch(r.header.Get("Location"))
	if r.status != 303 || m == nil {
		t.Fatalf("report: %d %q\n%.1500s", r.status, r.header.Get("Location"), r.body)
	}
	id := m[1]
	r = v.page(r.header.Get("Location"))
	if r.status != 200 {
		t.Fatalf("report page: %d", r.status)
	}
	first := strings.Index(r.body, `<li class="cand`)
	if first < 0 {
		t.Fatalf("no candidates:\n%.3000s", r.body)
	}
	cand := r.body[first:]
	if end := strings.Index(cand[1:], `<li class="cand`); end > 0 {
		cand = cand[:end+1]
	} else {
		cand = cand[:strings.Index(cand, "</ol>")]
	}
	for _, w := range []string{"Reporte registrado.", "Chepe", "Tecún Umán", "madre o padre", "Posibles coincidencias"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("report page lacks %q", w)
		}
	}
	for _, w := range []string{`href="/people/` + child.ID + `"`, "José Hernández López", "Nombre: apodo equivalente",
		`<span class="sign" aria-hidden="true">▲</span>`, `name="candidate" value="person/` + child.ID + `"`,
		`value="reunited"`, `value="located"`, `formaction="/tracing/` + id + `/reject"`, "<meter"} {
		if !strings.Contains(cand, w) {
			t.Errorf("first candidate lacks %q:\n%s", w, cand)
		}
	}
	if strings.Contains(r.body, childBirth) {
		t.Error("a volunteer sees the candidate's birth date")
	}
	if r = v.page("/tracing"); !strings.Contains(r.body, `href="/tracing/`+id+`"`) || !strings.Contains(r.body, " %</b>") {
		t.Errorf("list lacks the report with its best probability:\n%.2000s", r.body)
	}

	// Decisions: a reason is needed to withdraw; confirming closes.
	if r = v.form("/tracing/"+id+"/withdraw", url.Values{}); r.status != 400 || !strings.Contains(r.body, "Elija por qué se cierra el reporte.") {
		t.Errorf("withdraw without a reason: %d", r.status)
	}
	r = v.form("/tracing/"+id+"/confirm", url.Values{"candidate": {"person/" + child.ID}, "outcome": {"reunited"}})
	if r.status != 303 || r.header.Get("Location") != "/tracing/"+id+"?done=confirmed" {
		t.Fatalf("confirm: %d %q", r.status, r.header.Get("Location"))
	}
	r = v.page("/tracing/" + id + "?done=confirmed")
	for _, w := range []string{"Coincidencia confirmada", "Reunida/o con su familia", "Persona encontrada:",
		`<a href="/people/` + child.ID + `">José Hernández López</a>`, "cerrado"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("closed report lacks %q", w)
		}
	}
	if strings.Contains(r.body, `action="/tracing/`+id+`/confirm"`) || strings.Contains(r.body, "/withdraw") {
		t.Error("a closed report still offers decisions")
	}
	if r = v.form("/tracing/"+id+"/confirm", url.Values{"candidate": {"person/" + child.ID}, "outcome": {"located"}}); r.status != 409 ||
		!strings.Contains(r.body, "El reporte ya está cerrado.") {
		t.Errorf("confirm a closed report: %d", r.status)
	}
	if strings.Contains(r.body, `class="warn"`) {
		t.Error("a conflict warning without a conflict")
	}
	// Another node closed the same report differently (it arrives by
	// sync): the earliest decision stands, with a warning.
	other := ledger.Draft{Kind: tracing.KindConfirmed, Subject: "report/" + id,
		Body: map[string]string{"candidate": "person/" + e.traced("Otro", "Niño", "", "M", "2016-01-01", "").ID, "outcome": "located"}}
	if _, err := e.n.Ledger.Append(t.Context(), "test", []ledger.Draft{other}); err != nil {
		t.Fatal(err)
	}
	if r = v.page("/tracing/" + id); !strings.Contains(r.body, "dos nodos cerraron este reporte de forma distinta") ||
		!strings.Contains(r.body, "Reunida/o con su familia") {
		t.Errorf("no conflict warning:\n%.2000s", r.body)
	}
	if r = v.page("/tracing?status=closed"); !strings.Contains(r.body, "Reunida/o con su familia") || !strings.Contains(r.body, "decisiones en conflicto") {
		t.Errorf("closed list lacks the outcome or the conflict")
	}
	if r = v.page("/tracing"); strings.Contains(r.body, `href="/tracing/`+id+`"`) {
		t.Errorf("a closed report is listed as open")
	}
	if r = v.page("/tracing/0000000000000000"); r.status != 404 {
		t.Errorf("unknown report: %d", r.status)
	}
	// In English, the explanation too.
	r = v.form("/tracing", chepeForm(t))
	loc := r.header.Get("Location")
	v.page("/?lang=en")
	if r = v.page(loc); !strings.Contains(r.body, "Name: equivalent nickname") || !strings.Contains(r.body, "Report recorded.") {
		t.Errorf("English report page:\n%.3000s", r.body)
	}
	checkPages(t, v, "/tracing", "/tracing/new", loc, "/tracing?status=all", "/duplicates")
	v.page("/?lang=es")
	checkPages(t, v, "/tracing", "/tracing/new", loc, "/tracing?status=closed", "/duplicates")

	// A medic takes a report down and goes back to an empty form.
	med := e.login(auth.Medic)
	if r = med.page("/"); !strings.Contains(r.body, `<a href="/tracing/new">Búsqueda de familiares</a>`) {
		t.Errorf("the medic's menu lacks the report form")
	}
	r = med.form("/tracing", url.Values{"given_names": {"Nacho"}, "surnames": {"Ortiz"}})
	if r.status != 303 || r.header.Get("Location") != "/tracing/new?done=reported" {
		t.Fatalf("medic's report: %d %q", r.status, r.header.Get("Location"))
	}
	if r = med.page("/tracing/new?done=reported"); !strings.Contains(r.body, "Reporte registrado.") || strings.Contains(r.body, `value="Nacho"`) {
		t.Errorf("medic's form after reporting")
	}
	for _, p := range []string{"/tracing", "/tracing/" + id, "/duplicates"} {
		if r = med.page(p); r.status != 403 || strings.Contains(r.body, "Chepe") || strings.Contains(r.body, "Hernández") {
			t.Errorf("medic at %s: %d", p, r.status)
		}
	}
}

// checkPages: each page answers, CSP-safe, with every catalogue string
// filled in.
func checkPages(t *testing.T, c *client, paths ...string) {
	t.Helper()
	for _, path := range paths {
		r := c.page(path)
		if r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
		for _, bad := range []string{"style=", "<style", "<script", "onclick", "javascript:", "%!", "trace.", "dup.", "relation."} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
	}
}

// TestDuplicatesPage: pairs side by side; "different people" for the
// desk, merges for coordinators only; a merged registration says where
// the person is now.
func TestDuplicatesPage(t *testing.T) {
	e := newEnv(t)
	tracingPopulation(e)
	a := e.traced("Wilmer Antonio", "Castillo", "Maldonado", "M", "1983-06-21", "Tocoa")
	b := e.traced("Wilmer", "Castillo", "Maldonado", "M", "1983-06-21", "Tocoa")
	v, c := e.login(auth.Volunteer), e.login(auth.Coordinator)
	r := v.page("/duplicates")
	for _, w := range []string{"Registros duplicados", `href="/people/` + a.ID + `"`, `href="/people/` + b.ID + `"`, "Wilmer Antonio Castillo Maldonado",
		`action="/duplicates/distinct"`, "Son personas distintas", "Apellidos: coincide"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("volunteer's duplicates page lacks %q", w)
		}
	}
	if strings.Contains(r.body, "/duplicates/merge") || strings.Contains(r.body, "1983-06-21") {
		t.Error("a volunteer is offered a merge, or sees a birth date")
	}
	if r = v.form("/duplicates/merge", url.Values{"keep": {a.ID}, "duplicate": {b.ID}}); r.status != 403 {
		t.Errorf("volunteer merge: %d", r.status)
	}
	r = c.page("/duplicates")
	for _, w := range []string{"Fusionar B en A", "Fusionar A en B", "1983-06-21", cardcode.Format(a.Code)} {
		if !strings.Contains(r.body, w) {
			t.Errorf("coordinator's duplicates page lacks %q", w)
		}
	}
	if r = c.form("/duplicates/merge", url.Values{"keep": {a.ID}, "duplicate": {a.ID}}); r.status != 400 || !strings.Contains(r.body, "Elija dos registros distintos") {
		t.Errorf("merge into itself: %d", r.status)
	}
	if r = c.form("/duplicates/merge", url.Values{"keep": {a.ID}, "duplicate": {b.ID}}); r.status != 303 || r.header.Get("Location") != "/duplicates?done=merged" {
		t.Fatalf("merge: %d %q", r.status, r.header.Get("Location"))
	}
	if r = c.page("/duplicates?done=merged"); !strings.Contains(r.body, "Registros fusionados.") || strings.Contains(r.body, `href="/people/`+b.ID+`"`) {
		t.Errorf("after the merge:\n%.2000s", r.body)
	}
	if r = c.form("/duplicates/merge", url.Values{"keep": {a.ID}, "duplicate": {b.ID}}); r.status != 400 || !strings.Contains(r.body, "ya fue fusionado") {
		t.Errorf("merge twice: %d", r.status)
	}
	if r = c.page("/people/" + b.ID); !strings.Contains(r.body, "se fusionó con otro") || !strings.Contains(r.body, `href="/people/`+a.ID+`"`) {
		t.Errorf("the merged registration does not point at the one kept")
	}
	if r = c.page("/people/" + a.ID); strings.Contains(r.body, "se fusionó") {
		t.Error("the kept registration says it was merged")
	}
	// Different people: the pair leaves the list.
	x := e.traced("Rosa María", "Ramírez", "Cruz", "F", "1971-11-23", "Danlí")
	y := e.traced("Rosa María", "Ramírez", "Cruz", "F", "1971-11-23", "Danlí")
	if r = v.page("/duplicates"); !strings.Contains(r.body, `value="`+x.ID+`"`) {
		t.Fatalf("the new pair is not listed")
	}
	if r = v.form("/duplicates/distinct", url.Values{"a": {x.ID}, "b": {y.ID}}); r.status != 303 || r.header.Get("Location") != "/duplicates?done=distinct" {
		t.Fatalf("distinct: %d %q", r.status, r.header.Get("Location"))
	}
	if r = v.page("/duplicates?done=distinct"); strings.Contains(r.body, `value="`+x.ID+`"`) || !strings.Contains(r.body, "Marcadas como personas distintas.") {
		t.Errorf("the pair marked different is still listed")
	}
}

// TestTracingNoPIILeak is S4 for tracing: reports made and refused with
// canary names; no name or card code in any URL the pages link or redirect
// to, in any request the UI makes, or in the logs.
func TestTracingNoPIILeak(t *testing.T) {
	e := newEnv(t)
	p := e.traced("Qzxcanaryuno", "Wvkcanarydos", "Jhqcanarytres", "F", "2012-02-02", "Qzxcanarypueblo")
	v := e.login(auth.Volunteer)
	form := url.Values{"given_names": {"Qzxcanaryuno"}, "surnames": {"Wvkcanarydos"}, "reporter_name": {"Qzxcanarymadre"},
		"reporter_contact": {"Qzxcanarycontacto"}, "reporter_code": {p.Code}, "origin_town": {"Qzxcanarypueblo"}}
	r := v.form("/tracing", form)
	if r.status != 303 {
		t.Fatalf("report: %d %.1000s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	v.page(loc)
	id := reportPath.FindStringSubmatch(loc)[1]
	bad := cloneValues(form)
	bad.Set("reporter_code", breakCheck(p.Code))
	bad.Set("age", "Qzxcanaryedad")
	v.form("/tracing", bad)
	v.form("/tracing/"+id+"/reject", url.Values{"candidate": {"person/" + p.ID}})
	v.form("/tracing/"+id+"/confirm", url.Values{"candidate": {"Qzxcanaryuno"}})
	v.form("/tracing/"+id+"/confirm", url.Values{"candidate": {"person/" + p.ID}, "outcome": {"located"}})
	v.page("/tracing?status=all")
	v.page("/duplicates")
	v.do("POST", "/api/v1/reports", `{"given_names":"Qzxcanaryuno","reporter_code":"`+breakCheck(p.Code)+`"}`, nil)
	v.do("POST", "/api/v1/reports/"+id+"/confirm", `{"candidate":"Qzxcanaryuno"}`, nil)
	secrets := []string{"canary", strings.ToLower(p.Code), strings.ToLower(breakCheck(p.Code)), strings.ToLower(cardcode.Format(p.Code))}
	checkNoLeaks(t, e, v, `route="post /tracing"`, secrets)
}
