package web

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

// TestBrowserCheckins drives the check-in page in headless Chromium on a
// phone-sized screen, with no JavaScript of ours: choose the checkpoint,
// scan three cards by typing their codes and pressing Enter, one with a
// typo that the check character refuses; the running count goes from N to
// N+2, the box is empty and focused after each scan, and reloading the
// page records nothing again. It also photographs the check-in page, the
// missing list and the dashboard map of a travelled demo caravan.
func TestBrowserCheckins(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	base := e.srv.URL
	mother := e.person("Glenda Xiomara", "Aguilar", "1991-04-02")
	son := e.person("Ángel Gabriel", "Aguilar", "2013-09-09")
	daughter := e.person("Dulce María", "Aguilar", "2019-01-20")
	e.household("Familia Aguilar Mejía", "family", registry.Member{Person: mother.ID, Role: "head"},
		registry.Member{Person: son.ID, Role: "child"}, registry.Member{Person: daughter.ID, Role: "child"})
	tr := travelDemo(t, e, 400) // the demo walks to ciudad-hidalgo; we count at the next stage
	t.Logf("demo: %+v", tr)
	const stage = "tapachula"
	var early []journey.CheckinInput
	for _, p := range []registry.Person{e.person("Marvin", "Reyes", "1980-01-01"), e.person("Elmer", "Cruz", "1975-01-01")} {
		early = append(early, journey.CheckinInput{PersonRef: journey.PersonRef{Person: p.ID}})
	}
	if _, err := e.n.Journey.CheckInBatch(context.Background(), auth.Operator("test"), stage, early); err != nil {
		t.Fatal(err)
	}

	d := driver{t, ctx}
	step, text := d.step, d.text
	eval := func(js string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	shot := func(name string, full bool, sel ...string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		act := chromedp.CaptureScreenshot()
		switch {
		case len(sel) > 0:
			act = chromedp.Screenshot(chromedp.CSS(sel[0]))
		case full:
			act = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(sctx, act)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shotDir(t), name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	countNow := func() int {
		t.Helper()
		n, err := strconv.Atoi(text("#count"))
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	// scan types a code into the focused box and presses Enter, as a
	// keyboard-wedge scanner does, then waits for the page the redirect
	// brings (the old page is marked so the wait cannot see it).
	scan := func(code string) {
		t.Helper()
		// autofocus applies once the page has loaded: wait for it, briefly.
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := chromedp.Run(fctx, chromedp.Poll[bool](`document.activeElement !== null && document.activeElement.id === "code"`,
			chromedp.WithPollingTimeout(4*time.Second)))
		cancel()
		if err != nil {
			t.Fatalf("the code box is not focused before a scan (focus on %q): %v",
				eval(`document.activeElement ? document.activeElement.id || document.activeElement.tagName : ""`), err)
		}
		eval(`document.body.dataset.old = "1", ""`)
		step("scan "+code,
			chromedp.SendKeys(chromedp.CSS(`#code`), code+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(`body:not([data-old]) #result`)),
		)
		if v := eval(`document.getElementById("code").value`); v != "" {
			t.Fatalf("the code box is not empty after a scan: %q", v)
		}
	}

	step("log in",
		chromedp.Navigate(base+"/login?lang=es"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=es] input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), e.users[auth.Volunteer]),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form button`)),
		chromedp.WaitVisible(chromedp.CSS(`body.p-dashboard`)),
	)
	step("choose the checkpoint",
		chromedp.Click(chromedp.CSS(`nav a[href="/checkin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body.p-checkin ul.stage-pick`)),
	)
	shot("checkin-choose.png", false)
	step("pick the stage",
		chromedp.Click(chromedp.CSS(`ul.stage-pick:not(.suggested) a[href="/checkin/`+stage+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#count`)),
	)
	n := countNow()
	if n != 2 {
		t.Fatalf("count before scanning = %d, want 2", n)
	}

	scan(cardcode.Format(mother.Code))
	if got := text("#result .outcome"); got != "Registrada/o ✓" {
		t.Errorf("first scan: %q", got)
	}
	if got := text("#result .gname"); got != "Glenda Xiomara Aguilar Quintanilla" {
		t.Errorf("glance name = %q", got)
	}
	if got := text("#result .hh-head"); !strings.Contains(got, "Familia Aguilar Mejía") || !strings.Contains(got, "1 de 3 vistas aquí") {
		t.Errorf("household at a glance = %q", got)
	}
	if got := countNow(); got != n+1 {
		t.Errorf("count after the first scan = %d, want %d", got, n+1)
	}

	scan(breakCheck(daughter.Code))
	if got := text("#result .outcome"); got != "código inválido: revise el carácter de control" {
		t.Errorf("typo: %q", got)
	}
	if got := countNow(); got != n+1 {
		t.Errorf("a typo changed the count to %d", got)
	}

	scan(strings.ToLower(daughter.Code)) // as read aloud: lower case, no dash
	if got := text("#result .hh-head"); !strings.Contains(got, "2 de 3 vistas aquí") {
		t.Errorf("household after the second member = %q", got)
	}
	if got := countNow(); got != n+2 {
		t.Errorf("count after three scans (one refused) = %d, want %d", got, n+2)
	}
	shot("checkin.png", true)

	// Reloading never submits again and loses nothing.
	events := e.events()
	step("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#count`)))
	if got := countNow(); got != n+2 || e.events() != events {
		t.Errorf("after reload: count %d, %d events written", got, e.events()-events)
	}
	if got := text("#result .gname"); got != "Dulce María Aguilar Quintanilla" {
		t.Errorf("after reload the last scan shows %q", got)
	}

	// The rest, for a look: the missing list, the dashboard map, the
	// route, the timeline.
	step("missing list", chromedp.Navigate(base+"/missing"), chromedp.WaitVisible(chromedp.CSS(`.missing-hh`)))
	if got := text(".missing-hh .badge"); got != "niña/o sola/o" {
		t.Errorf("the missing list starts with %q, want a child alone", got)
	}
	shot("missing-latest.png", false)
	step("missing list at the river", chromedp.Navigate(base+"/missing?stage=ciudad-hidalgo"), chromedp.WaitVisible(chromedp.CSS(`.missing-hh`)))
	shot("missing.png", false)
	shot("missing-full.png", true)
	step("dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.journey svg`)))
	shot("dashboard.png", false)
	shot("dashboard-map.png", false, ".journey")
	step("route", chromedp.Navigate(base+"/route"), chromedp.WaitVisible(chromedp.CSS(`.map svg`)))
	shot("route.png", true)
	step("timeline", chromedp.Navigate(base+"/timeline"), chromedp.WaitVisible(chromedp.CSS(`ol.timeline`)),
		chromedp.Click(chromedp.CSS(`details.record summary`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/incidents"] select[name=kind]`)))
	shot("timeline.png", true)
	step("headcounts", chromedp.Navigate(base+"/headcounts"), chromedp.WaitVisible(chromedp.CSS(`table.hc`)))
	shot("headcounts.png", true)
}
