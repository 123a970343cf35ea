package web

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

// TestConflictsPage: a field two nodes changed concurrently (as sync
// delivers it: two updates from the same base) is listed with both values;
// keeping one settles it on this node.
func TestConflictsPage(t *testing.T) {
	e := newEnv(t)
	p := e.traced("Rosa", "Paz", "", "F", "1990-01-01", "Tela")
	c := e.login(auth.Coordinator)
	if r := c.page("/conflicts"); r.status != 200 || !strings.Contains(r.body, "No hay conflictos.") {
		t.Fatalf("empty page: %d\n%.1500s", r.status, r.body)
	}
	// Two updates of the same field, each made without seeing the other.
	var drafts []ledger.Draft
	for _, v := range []string{"Rosa María", "Rosa Elena"} {
		drafts = append(drafts, ledger.Draft{Kind: "person.updated", Subject: "person/" + p.ID, Body: map[string]any{
			"fields": map[string]string{"given_names": e.n.Sealer.Seal("person/"+p.ID, "given_names", v)},
			"base":   map[string]any{"given_names": map[string]any{"t": 0, "n": ""}},
		}})
	}
	for _, d := range drafts {
		if _, err := e.n.Ledger.Append(t.Context(), "test", []ledger.Draft{d}); err != nil {
			t.Fatal(err)
		}
	}
	r := c.page("/conflicts")
	for _, w := range []string{"Dato cambiado en dos nodos", "Rosa María", "Rosa Elena", "Quedarse con este valor", `href="/people/` + p.ID + `"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("conflicts page lacks %q:\n%.3000s", w, r.body)
		}
	}
	if v := e.login(auth.Volunteer).page("/conflicts"); v.status != 403 {
		t.Errorf("a volunteer opened the conflicts page: %d", v.status)
	}
	r = c.form("/conflicts/resolve", url.Values{"person": {p.ID}, "field": {"given_names"}, "value": {"Rosa Elena"}})
	if r.status != 303 || r.header.Get("Location") != "/conflicts?done=resolved" {
		t.Fatalf("resolve: %d %q\n%.1500s", r.status, r.header.Get("Location"), r.body)
	}
	if r = c.page("/conflicts?done=resolved"); !strings.Contains(r.body, "No hay conflictos.") || !strings.Contains(r.body, "Valor elegido") {
		t.Errorf("after resolving:\n%.2000s", r.body)
	}
	if r = c.page("/people/" + p.ID); !strings.Contains(r.body, "Rosa Elena") {
		t.Errorf("the chosen value is not shown")
	}
}

// TestConflictsPagedAndWorded: hundreds of items given twice are listed
// twenty to a page, narrowed to their kind, each kind explained once per
// page; every side is worded in the reader's language with the item's and
// the stage's names (no English words, no ids); a report closed two ways
// shows each outcome translated and the person it matched.
func TestConflictsPagedAndWorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := auth.Operator("test")
	if _, err := e.n.Supply.DefineDefaults(ctx, op); err != nil {
		t.Fatal(err)
	}
	var rs []supply.Recipient
	for i := range 45 {
		p := e.register(samplePerson(fmt.Sprintf("Recibe%d", i), "Zepeda"))
		rs = append(rs, supply.Recipient{Person: p.ID, Size: 1})
	}
	var drafts []ledger.Draft
	for _, stage := range []string{"tecun-uman", "ciudad-hidalgo"} {
		ds, err := e.n.Supply.PrepareDistributions(ctx, op, "blanket", stage, time.Now(), rs)
		if err != nil {
			t.Fatal(err)
		}
		drafts = append(drafts, ds...)
	}
	if _, err := e.n.Ledger.Append(ctx, "test", drafts); err != nil {
		t.Fatal(err)
	}
	// A report one desk closed as located and another withdrew.
	found := e.traced("Chuy", "Orellana", "", "M", "2010-02-02", "Tocoa")
	rep, _, err := e.n.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: "Chuy", Surnames: "Orellana"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Tracing.Confirm(ctx, op, rep.ID, "person/"+found.ID, tracing.OutcomeLocated); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Ledger.Append(ctx, "test", []ledger.Draft{{Kind: tracing.KindWithdrawn, Subject: "report/" + rep.ID,
		Body: map[string]string{"reason": "found_elsewhere"}}}); err != nil {
		t.Fatal(err)
	}

	c := e.login(auth.Coordinator)
	type page struct {
		path            string
		sections, hints int
		want, forbidden []string
	}
	es, en := []string{"1 blanket", "blanket at", " at ", "tecun-uman</", ">tecun-uman", "family-tent"}, []string{"cobija", "Aceptado", "nodo "}
	for _, p := range []page{
		{"/conflicts", conflictsPerPage, 1, []string{"Reporte cerrado de dos maneras", "Localizada/o", "Cerrado sin coincidencia",
			`href="/people/` + found.ID + `"`, "Cobija: 1 cobija · Puente Rodolfo Robles / Tecún Umán", "Cobija: 1 cobija · Ciudad Hidalgo",
			"Artículo entregado dos veces al mismo hogar: 45", `href="/conflicts?kind=distribution"`, `href="/conflicts?page=2"`}, es},
		{"/conflicts?page=3", 6, 1, []string{`href="/conflicts?page=2"`, "Cobija: 1 cobija"}, append(es, `rel="next"`)},
		{"/conflicts?kind=distribution&page=3", 5, 1, []string{`href="/conflicts?kind=distribution&amp;page=2"`, `name="kind" value="distribution"`},
			append(es, "Vale la primera decisión", `rel="next"`)},
		{"/conflicts?lang=en", conflictsPerPage, 1, []string{"Blanket: 1 blanket · Puente Rodolfo Robles / Tecún Umán", "Located, not yet reunited", "Closed without a match",
			"Item given twice to one household: 45"}, en},
	} {
		r := c.page(p.path)
		if r.status == 303 { // ?lang= sets the language and comes back
			r = c.page(r.header.Get("Location"))
		}
		if r.status != 200 {
			t.Fatalf("%s: %d", p.path, r.status)
		}
		if n := strings.Count(r.body, `<section class="dup">`); n != p.sections {
			t.Errorf("%s: %d conflicts shown, want %d", p.path, n, p.sections)
		}
		hint := "Ambas entregas se guardan"
		if strings.Contains(p.path, "lang=en") {
			hint = "Both distributions are kept"
		}
		if n := strings.Count(r.body, hint); n != p.hints {
			t.Errorf("%s: the distribution hint %d times, want %d", p.path, n, p.hints)
		}
		for _, w := range p.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s lacks %q", p.path, w)
			}
		}
		for _, f := range p.forbidden {
			if strings.Contains(r.body, f) {
				t.Errorf("%s shows %q", p.path, f)
			}
		}
		if t.Failed() {
			t.Fatalf("%s:\n%.5000s", p.path, r.body)
		}
	}
	// Reviewing one goes back to the kind being worked through.
	key := rs[0].Person
	r := c.form("/conflicts/review", url.Values{"distribution": {"person:" + key + "+blanket+once"}, "outcome": {"accepted"}, "kind": {"distribution"}})
	if r.status != 303 || r.header.Get("Location") != "/conflicts?done=distribution&kind=distribution" {
		t.Fatalf("review: %d %q\n%.2000s", r.status, r.header.Get("Location"), r.body)
	}
	if r := c.page("/conflicts"); !strings.Contains(r.body, "Item given twice to one household: 44") { // in English, as chosen
		t.Errorf("after a review:\n%.3000s", r.body)
	}
}
