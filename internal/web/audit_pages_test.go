package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/store"
)

// TestAuditPageWorded: the audit page words each action and each reason
// for a read in the reader's language, with the names of stages and
// items rather than their ids, keeps the stored key at hand (a title)
// and shows what this version has no words for as stored.
func TestAuditPageWorded(t *testing.T) {
	e := newEnv(t)
	p := e.person("Óscar", "Reyes", "1990-01-01")
	ctx := context.Background()
	if err := e.n.Ledger.Audit(ctx,
		store.AuditEntry{Actor: "test", Action: "person.facts", Record: "registry", Detail: "12 people: missing list ciudad-hidalgo"},
		store.AuditEntry{Actor: "test", Action: "person.facts", Record: "registry", Detail: "1 people: headcounts"},
		store.AuditEntry{Actor: "test", Action: "person.read", Record: "person/" + p.ID, Detail: "supply family-tent"},
		store.AuditEntry{Actor: "test", Action: "person.read", Record: "person/" + p.ID, Detail: "checkin tecun-uman"},
		store.AuditEntry{Actor: "sync", Action: "sync.import", Record: "log",
			Detail: "5 events applied (0 of them held before), 2 already in the log, 1 held for review, 0 refused"},
		store.AuditEntry{Actor: "test", Action: "future.kind", Record: "x/1", Detail: "something new"},
	); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Supply.DefineDefaults(ctx, auth.Operator("test")); err != nil {
		t.Fatal(err)
	}
	c := e.login(auth.Coordinator)
	c.page("/people/" + p.ID)
	r := c.page("/audit")
	for _, w := range []string{
		`<td title="person.read">Datos de una persona leídos</td>`, `<td title="login">Inicio de sesión</td>`,
		`<td title="person.registered">Persona registrada</td>`, "<td>ficha</td>",
		"<td>12 personas: lista de faltantes en Ciudad Hidalgo</td>", "<td>1 persona: conteos</td>",
		"<td>entrega de Carpa familiar</td>", "<td>control en Puente Rodolfo Robles / Tecún Umán</td>",
		"<td>eventos aplicados: 5; ya estaban: 2; retenidos para revisión: 1; rechazados: 0</td>",
		`<td title="future.kind">future.kind</td>`, "<td>something new</td>",
	} {
		if !strings.Contains(r.body, w) {
			t.Errorf("Spanish audit page lacks %q", w)
		}
	}
	for _, f := range []string{"missing list", ">person.read<", "people:", "events applied"} {
		if strings.Contains(r.body, f) {
			t.Errorf("Spanish audit page shows %q", f)
		}
	}
	if t.Failed() {
		t.Logf("%.6000s", r.body)
	}
	c.page("/audit?lang=en")
	r = c.page("/audit?" + url.Values{"record": {"registry"}}.Encode())
	for _, w := range []string{"<td>12 people: missing list at Ciudad Hidalgo</td>", "<td>1 person: headcounts</td>", "People&#39;s basic facts read"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("English audit page lacks %q:\n%.3000s", w, r.body)
		}
	}
}
