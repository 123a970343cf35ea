package web

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// phoneWidth is the narrowest screen the pages are made for, in CSS px.
const phoneWidth = 390

// TestBrowserPagesFitPhone opens every page the server registers (as
// TestPageSizes lists them, with long lists, tables and names), in Spanish
// and in English, in headless Chromium on a 390 px wide phone with
// JavaScript off, and checks that none is wider than the screen: a wide
// table scrolls inside its own box, the page does not.
func TestBrowserPagesFitPhone(t *testing.T) {
	ctx := browser(t)
	se := newSizeEnv(t, 300)
	base := se.srv.URL
	d := driver{t, ctx}
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	width := func() float64 {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		m, err := chromedp.Call(sctx, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil || m.CSSContentSize == nil {
			t.Fatalf("layout metrics: %v", err)
		}
		return m.CSSContentSize.Width
	}
	var paths []string
	for _, sc := range se.allCases(t) {
		if sc.form == nil && sc.path != "/login" && !slices.Contains(paths, sc.path) {
			paths = append(paths, sc.path)
		}
	}
	wide := 0
	check := func(lang, path string) {
		t.Helper()
		if w := width(); w > phoneWidth+0.5 {
			wide++
			t.Errorf("%s %s is %.0f px wide on a %d px screen", lang, path, math.Ceil(w), phoneWidth)
			if wide <= 3 {
				d.shot("wide-" + lang + strings.NewReplacer("/", "_", "?", "_", "&", "_", "=", "_").Replace(path) + ".png")
			}
		}
	}
	for _, lang := range []string{"es", "en"} {
		d.step("login page "+lang, chromedp.Navigate(base+"/login?lang="+lang), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
		check(lang, "/login")
		d.step("log in "+lang,
			chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "coord"),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			chromedp.Click(chromedp.CSS(`main form button`)),
			chromedp.WaitVisible(chromedp.CSS(`html[lang=`+lang+`] body.p-dashboard`)),
		)
		for _, path := range paths {
			d.step(lang+" "+path, chromedp.Navigate(base+path), chromedp.WaitReady(chromedp.CSS(`main`)))
			check(lang, path)
		}
		// The answer to a card check: the household at a glance.
		d.step(lang+" supply check",
			chromedp.Navigate(base+"/supply?"+url.Values{"item": {"water"}, "stage": {"tecun-uman"}}.Encode()),
			chromedp.SendKeys(chromedp.CSS(`#code`), se.code),
			chromedp.Click(chromedp.CSS(`form.scan button`)),
			chromedp.WaitVisible(chromedp.CSS(`#result`)),
		)
		check(lang, "POST /supply/check")
		d.step("log out "+lang, chromedp.Click(chromedp.CSS(`.top form button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)))
	}
}
