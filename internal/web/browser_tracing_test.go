package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"caravana/internal/auth"
)

// TestBrowserTracing drives family tracing in headless Chromium on a
// phone-sized screen, with no JavaScript of ours: a volunteer reports a
// missing boy by his nickname, sees the registered child as the first
// candidate with the explanation of what agreed, confirms "reunited", and
// sees the report closed with the person found.
func TestBrowserTracing(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	base := e.srv.URL
	tracingPopulation(e)
	child := e.traced("José", "Hernández", "López", "M", childBirth, "Choloma")
	e.traced("Josué", "Hernández", "Pineda", "M", "2015-02-02", "Choloma")

	d := driver{t, ctx}
	step, text := d.step, d.text
	shot := d.shot

	step("log in",
		chromedp.Navigate(base+"/login?lang=es"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=es] input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), e.users[auth.Volunteer]),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form button`)),
		chromedp.WaitVisible(chromedp.CSS(`body.p-dashboard`)),
	)
	step("open family tracing",
		chromedp.Click(chromedp.CSS(`nav a[href="/tracing"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body.p-tracing a.button[href="/tracing/new"]`)),
		chromedp.Click(chromedp.CSS(`a.button[href="/tracing/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/tracing"] input[name=given_names]`)),
	)
	step("fill in the report",
		chromedp.SendKeys(chromedp.CSS(`input[name=given_names]`), "Chepe"),
		chromedp.SendKeys(chromedp.CSS(`input[name=surnames]`), "Hernández"),
		chromedp.Click(chromedp.CSS(`input[name=sex][value=M]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=age]`), strconv.Itoa(ageToday(t, childBirth))),
		chromedp.SendKeys(chromedp.CSS(`input[name=origin_town]`), "Choloma"),
		chromedp.SendKeys(chromedp.CSS(`input[name=last_seen_place]`), "Puente Rodolfo Robles"),
		chromedp.SetValue(chromedp.CSS(`select[name=relation]`), "parent"),
		chromedp.SendKeys(chromedp.CSS(`input[name=reporter_name]`), "Marta López"),
		chromedp.SendKeys(chromedp.CSS(`input[name=reporter_contact]`), "+504 3333-4444"),
	)
	shot("tracing-form.png")
	step("record it",
		chromedp.Click(chromedp.CSS(`form[action="/tracing"] > button`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.cands li.cand`)),
	)
	if got := text("p.flash"); got != "Reporte registrado." {
		t.Errorf("flash after reporting = %q", got)
	}
	first := "ol.cands li.cand:first-child"
	if got := text(first + " .cand-head a"); got != "José Hernández López" {
		t.Fatalf("first candidate = %q, want the registered child", got)
	}
	why := text(first + " ul.why")
	// A volunteer may not see origin towns: that it matched is told only
	// as "other details".
	for _, w := range []string{"▲ Nombre: apodo equivalente", "▲ Sexo: coincide", "▲ Otros datos: no se muestran a su rol"} {
		if !strings.Contains(why, w) {
			t.Errorf("explanation lacks %q: %q", w, why)
		}
	}
	if strings.Contains(why, "Lugar de origen") {
		t.Errorf("a volunteer's explanation names the origin town: %q", why)
	}
	pct := strings.TrimSuffix(text(first+" .pct"), " %")
	if n, err := strconv.Atoi(pct); err != nil || n < 50 || n > 100 {
		t.Errorf("probability shown as %q", pct)
	}
	shot("tracing-report.png")

	step("confirm reunited",
		chromedp.Click(chromedp.CSS(first+` button[value=reunited]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.closed`)),
	)
	if got := text("p.flash"); got != "Coincidencia confirmada: el reporte está cerrado." {
		t.Errorf("flash after confirming = %q", got)
	}
	if got := text("section.closed .outcome"); got != "Reunida/o con su familia" {
		t.Errorf("outcome = %q", got)
	}
	if got := text(`section.closed a[href="/people/` + child.ID + `"]`); got != "José Hernández López" {
		t.Errorf("person found = %q", got)
	}
	if got := text("main h1 + p .badge"); got != "cerrado" {
		t.Errorf("status = %q", got)
	}
	shot("tracing-closed.png")
	step("the list of closed reports",
		chromedp.Navigate(base+"/tracing?status=closed"),
		chromedp.WaitVisible(chromedp.CSS(`ul.reports li`)),
	)
	if got := text("ul.reports li .badge"); got != "Reunida/o con su familia" {
		t.Errorf("closed list shows %q", got)
	}
	// The duplicates page, for a look: one woman registered at two desks.
	e.traced("Karla Patricia", "Rodríguez", "Flores", "F", "1994-09-19", "Comayagua")
	e.traced("Karla", "Rodriguez", "Flores", "F", "1994-09-19", "Comayagua")
	step("duplicates", chromedp.Navigate(base+"/duplicates"), chromedp.WaitVisible(chromedp.CSS(`section.dup .pair`)))
	shot("duplicates.png")
}
