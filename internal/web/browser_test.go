package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/testenv"
)

// browser starts headless Chromium with a phone-sized viewport.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := testenv.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844)}
	for name, value := range testenv.ChromiumFlagMap() {
		opts = append(opts, chromedp.Flag(name, value))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shotDir is where screenshots go: CARAVANA_SCREENSHOTS to keep them for a
// look, else the test's temp folder.
func shotDir(t *testing.T) string {
	if d := os.Getenv("CARAVANA_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// driver runs the steps of a browser test, each with its own timeout, and
// fails the test with the step's name.
type driver struct {
	t   *testing.T
	ctx context.Context
}

func (d driver) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	sctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
}

// text is the trimmed text of the element sel.
func (d driver) text(sel string) string {
	d.t.Helper()
	sctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		d.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// shot saves a full-page screenshot as name (see shotDir).
func (d driver) shot(name string) {
	d.t.Helper()
	sctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(shotDir(d.t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		d.t.Fatal(err)
	}
	d.t.Logf("screenshot: %s", p)
}

// TestBrowserRegisterAndFind drives the real UI (which has no JavaScript)
// in headless Chromium on a phone-sized screen: log in, register through the form,
// find the person by an accent-free name and by card code, open the person
// and the card.
func TestBrowserRegisterAndFind(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	base := e.srv.URL
	d := driver{t, ctx}
	step, text := d.step, d.text
	shot := d.shot

	// Chromium asks for English; the switch link's ?lang=es sets Spanish.
	step("log in",
		chromedp.Navigate(base+"/login?lang=es"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=es] input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "coord"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form button`)),
		chromedp.WaitVisible(chromedp.CSS(`body.p-dashboard dl.totals`)),
	)

	step("register",
		chromedp.Navigate(base+"/people/new"),
		chromedp.SendKeys(chromedp.CSS(`input[name=given_names]`), "José Ángel"),
		chromedp.SendKeys(chromedp.CSS(`input[name=surname1]`), "Núñez"),
		chromedp.SendKeys(chromedp.CSS(`input[name=surname2]`), "Castañeda"),
		chromedp.Click(chromedp.CSS(`input[name=sex][value=M]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=birth_date]`), "1990-05-01"),
		chromedp.SendKeys(chromedp.CSS(`input[name=nationality]`), "HN"),
		chromedp.SendKeys(chromedp.CSS(`input[name=origin_town]`), "San Pedro Sula"),
		chromedp.Click(chromedp.CSS(`input[name=consent_registration]`)),
		chromedp.Click(chromedp.CSS(`main form button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.code.big`)),
	)
	const fullName = "José Ángel Núñez Castañeda"
	if got := text("main h1"); got != fullName {
		t.Fatalf("person page h1 = %q, want %q", got, fullName)
	}
	code := text("p.code.big")
	canon, err := cardcode.Parse(code)
	if err != nil {
		t.Fatalf("person page shows %q, not a card code: %v", code, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	personPath := strings.TrimPrefix(loc, base)
	if !strings.HasPrefix(personPath, "/people/") {
		t.Fatalf("after registering, at %s", loc)
	}

	step("search by name without accents",
		chromedp.Navigate(base+"/people"),
		chromedp.SendKeys(chromedp.CSS(`#q`), "jose nunez"),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#results`)),
	)
	if got := text("table.list tbody"); !strings.Contains(got, fullName) || !strings.Contains(got, cardcode.Format(canon)) {
		t.Fatalf("search results = %q, want %q and its code", got, fullName)
	}

	// Typed in lower case without the dash, as someone reading a card aloud might.
	step("search by card code",
		chromedp.Navigate(base+"/people"),
		chromedp.SendKeys(chromedp.CSS(`#q`), strings.ToLower(canon)),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.code.big`)),
	)
	if got := text("main h1"); got != fullName {
		t.Fatalf("code search landed on %q, want %q", got, fullName)
	}

	step("wrong check character",
		chromedp.Navigate(base+"/people"),
		// As printed: cardcode.Format shows an invalid code without its dash,
		// and ten letters without a digit or dash may be a name.
		chromedp.SendKeys(chromedp.CSS(`#q`), canon[:5]+"-"+canon[5:9]+nextSymbol(canon[9])),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.search .err`)),
	)
	if got := text("form.search .err"); got != "código inválido: revise el carácter de control" {
		t.Fatalf("check-character error = %q", got)
	}

	step("open the card",
		chromedp.Navigate(base+personPath+"/card"),
		chromedp.WaitVisible(chromedp.CSS(`.idcard-qr svg`)),
	)
	if got := text(".idcard-name"); got != fullName {
		t.Fatalf("card name = %q", got)
	}
	if got := text(".idcard-code"); got != cardcode.Format(canon) {
		t.Fatalf("card code = %q, want %q", got, cardcode.Format(canon))
	}
	shot("card.png")

	// Some data so the dashboard charts have bars to show.
	for i := range 12 {
		in := samplePerson("Persona", "Demo")
		in.Sex = []string{"F", "M"}[i%2]
		if in.Sex == "M" {
			in.Flags = []string{auth.FlagMedical, auth.FlagElderly}
		}
		in.BirthDate = []string{"2019-02-01", "2012-07-07", "1995-01-01", "1950-05-05"}[i%4]
		in.Nationality = []string{"HN", "GT", "SV"}[i%3]
		e.register(in)
	}
	step("dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.chart svg`)))
	shot("dashboard.png")
	step("person page", chromedp.Navigate(base+personPath), chromedp.WaitVisible(chromedp.CSS(`dl.fields`)))
	shot("person.png")
	step("people list", chromedp.Navigate(base+"/people"), chromedp.WaitVisible(chromedp.CSS(`table.list`)))
	shot("people.png")
	step("registration form", chromedp.Navigate(base+"/people/new"), chromedp.WaitVisible(chromedp.CSS(`form.card-form`)))
	shot("form.png")
}

// nextSymbol returns another alphabet symbol than c, to break a check character.
func nextSymbol(c byte) string {
	i := strings.IndexByte(cardcode.Alphabet, c)
	return string(cardcode.Alphabet[(i+1)%len(cardcode.Alphabet)])
}
