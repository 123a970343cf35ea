package web

import (
	"net/url"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/ledger"
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
