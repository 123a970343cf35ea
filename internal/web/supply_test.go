package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/supply"
)

// supplyFamily loads the catalogue and makes a household of two.
func supplyFamily(t *testing.T, e *env) (string, registry.Person, registry.Person) {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	if _, err := e.n.Supply.DefineDefaults(ctx, op); err != nil {
		t.Fatal(err)
	}
	a, b := e.register(samplePerson("Abril", "Zepeda")), e.register(samplePerson("Bruno", "Zepeda"))
	h, err := e.n.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Casa Zepeda", Kind: "family",
		Members: []registry.Member{{Person: a.ID, Role: "head"}, {Person: b.ID, Role: "child"}}})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID, a, b
}

// TestSupplyPageFlow: without JavaScript, a volunteer chooses an item,
// types a card code, sees the household and that it is entitled, gives,
// and the stock table shows it; the same household is then refused.
func TestSupplyPageFlow(t *testing.T) {
	e := newEnv(t)
	_, a, b := supplyFamily(t, e)
	c := e.login(auth.Volunteer)
	if r := c.form("/supply/receive", url.Values{"item": {"water"}, "qty": {"1.000"}, "stage": {"tecun-uman"}, "donor": {"Parroquia"}}); r.status != 303 {
		t.Fatalf("receive: %d %.300s", r.status, r.body)
	}
	r := c.page("/supply?done=received")
	if r.status != 200 || !strings.Contains(r.body, "Donación registrada") || !strings.Contains(r.body, "1000") {
		t.Fatalf("supply page: %d %.2000s", r.status, r.body)
	}
	if r.wire > 50*1024 {
		t.Errorf("the supply page is %d bytes", r.wire)
	}
	r = c.form("/supply/check", url.Values{"item": {"water"}, "stage": {"tecun-uman"}, "code": {b.Code}})
	if r.status != 200 || !strings.Contains(r.body, "Abril") || !strings.Contains(r.body, "Puede recibir Agua: 30 L.") {
		t.Fatalf("check: %d %.3000s", r.status, r.body)
	}
	for _, s := range hiddenFrom[auth.Volunteer] {
		if strings.Contains(r.body, s) {
			t.Errorf("the check shows %q to a volunteer", s)
		}
	}
	if r := c.form("/supply/give", url.Values{"item": {"water"}, "stage": {"tecun-uman"}, "person": {b.ID}}); r.status != 303 ||
		!strings.HasPrefix(r.header.Get("Location"), "/supply?done=given") {
		t.Fatalf("give: %d %s", r.status, r.header.Get("Location"))
	}
	r = c.page("/supply?done=given")
	if !strings.Contains(r.body, "Entrega registrada") || !strings.Contains(r.body, "<td>30</td><td>970</td>") {
		t.Fatalf("after giving: %.3000s", r.body)
	}
	r = c.form("/supply/check", url.Values{"item": {"water"}, "stage": {"tecun-uman"}, "code": {a.Code}})
	if r.status != 200 || !strings.Contains(r.body, "Este hogar ya recibió Agua") || strings.Contains(r.body, `action="/supply/give"`) {
		t.Fatalf("check after giving: %d %.3000s", r.status, r.body)
	}
	before := e.events()
	r = c.form("/supply/give", url.Values{"item": {"water"}, "stage": {"tecun-uman"}, "code": {a.Code}})
	if r.status != 400 || !strings.Contains(r.body, "ya recibió este artículo") {
		t.Fatalf("second give: %d %.3000s", r.status, r.body)
	}
	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/supply/check", url.Values{"item": {"water"}, "code": {"7KQ2M"}}, "un código tiene 10 letras"},
		{"/supply/check", url.Values{"item": {"piano"}, "stage": {"tecun-uman"}, "code": {a.Code}}, "no es un artículo del catálogo"},
		{"/supply/receive", url.Values{"item": {"water"}, "qty": {"1.5"}, "stage": {"tecun-uman"}}, "no es válido"},
		{"/supply/receive", url.Values{"item": {"water"}, "qty": {"5"}, "stage": {"paris"}}, "no es una etapa de la ruta"},
	} {
		if r := c.form(tc.path, tc.form); r.status != 400 || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %v: %d, want 400 with %q\n%.2000s", tc.path, tc.form, r.status, tc.want, r.body)
		}
	}
	if got := e.events(); got != before {
		t.Fatalf("refused forms wrote %d events", got-before)
	}
	// Without a CSRF token nothing is given.
	if r := c.do("POST", "/supply/give", url.Values{"item": {"family-tent"}, "stage": {"tecun-uman"}, "person": {a.ID}}, nil); r.status != 403 {
		t.Fatalf("give without CSRF: %d", r.status)
	}
}

// TestSupplyAPI: distributions and receipts through the JSON API, a
// refusal that names the field and writes nothing, and a double
// distribution (a coordinator's override) that the conflicts page lists
// with both sides and closes on review.
func TestSupplyAPI(t *testing.T) {
	e := newEnv(t)
	hh, a, b := supplyFamily(t, e)
	vol, coord := e.login(auth.Volunteer), e.login(auth.Coordinator)
	r := vol.do("POST", "/api/v1/supply/receipts", `{"item":"family-tent","qty":5,"stage":"tecun-uman","donor":"ACNUR"}`, nil)
	var rc supply.Receipt
	if r.status != 201 {
		t.Fatalf("receipt: %d %s", r.status, r.body)
	}
	r.json(t, &rc)
	if rc.Balance != 5 {
		t.Fatalf("receipt: %+v", rc)
	}
	r = vol.do("POST", "/api/v1/supply/distributions", `{"item":"family-tent","stage":"tecun-uman","people":[{"code":"`+a.Code+`"}]}`, nil)
	var res distributionsResponse
	if r.status != 201 {
		t.Fatalf("give: %d %s", r.status, r.body)
	}
	r.json(t, &res)
	if len(res.Results) != 1 || res.Results[0].Household != hh || res.Results[0].Balance != 4 || res.Results[0].Glance == nil {
		t.Fatalf("give: %+v", res)
	}
	before := e.events()
	r = vol.do("POST", "/api/v1/supply/distributions", `{"item":"family-tent","stage":"tecun-uman","people":[{"code":"`+b.Code+`"}]}`, nil)
	if r.status != 400 || !strings.Contains(r.body, `"field":"people[0]"`) || !strings.Contains(r.body, `"code":"already_received"`) {
		t.Fatalf("second tent: %d %s", r.status, r.body)
	}
	for _, body := range []string{`{"item":"family-tent","people":[{"code":"x"}],"colour":"red"}`, `{"item":"family-tent"`, `{"item":"water","stage":"tecun-uman","people":[]}`} {
		if r := vol.do("POST", "/api/v1/supply/distributions", body, nil); r.status != 400 {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := vol.do("POST", "/api/v1/supply/distributions", `{"item":"family-tent","stage":"tecun-uman","override":true,"people":[{"code":"`+b.Code+`"}]}`, nil); r.status != 403 {
		t.Fatalf("a volunteer's override: %d %s", r.status, r.body)
	}
	if got := e.events(); got != before {
		t.Fatalf("refused requests wrote %d events", got-before)
	}
	if r := coord.do("POST", "/api/v1/supply/distributions", `{"item":"family-tent","stage":"tecun-uman","override":true,"people":[{"code":"`+b.Code+`"}]}`, nil); r.status != 201 {
		t.Fatalf("override: %d %s", r.status, r.body)
	}
	r = vol.do("GET", "/api/v1/supply/stock?stage=tecun-uman", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, `"distributed":2`) || !strings.Contains(r.body, `"balance":3`) {
		t.Fatalf("stock counts both: %d %s", r.status, r.body)
	}
	if r := vol.do("GET", "/api/v1/supply/stock?stage=paris", nil, nil); r.status != 400 {
		t.Fatalf("stock at an unknown stage: %d", r.status)
	}
	page := coord.page("/conflicts")
	key := hh + "+family-tent+once"
	if !strings.Contains(page.body, "Artículo entregado dos veces") || !strings.Contains(page.body, `value="`+strings.ReplaceAll(key, "+", "&#43;")+`"`) ||
		strings.Count(page.body, "Carpa familiar: 1 carpa · Puente Rodolfo Robles / Tecún Umán") != 2 ||
		strings.Contains(page.body, "family-tent at") || strings.Contains(page.body, ">tecun-uman") {
		t.Fatalf("conflicts page: %.4000s", page.body)
	}
	if r := coord.form("/conflicts/review", url.Values{"distribution": {key}, "outcome": {"lost"}}); r.status != 400 {
		t.Fatalf("review with a bad outcome: %d", r.status)
	}
	if r := coord.form("/conflicts/review", url.Values{"distribution": {key}, "outcome": {"accepted"}, "note": {"la primera se mojó"}}); r.status != 303 ||
		r.header.Get("Location") != "/conflicts?done=distribution" {
		t.Fatalf("review: %d %s", r.status, r.header.Get("Location"))
	}
	if page := coord.page("/conflicts?done=distribution"); strings.Contains(page.body, hh) || !strings.Contains(page.body, "marcada como revisada") {
		t.Fatalf("after review: %.3000s", page.body)
	}
}

// TestSupplyFormsKeepInput: a refused donation shows back everything
// typed and chosen, and a refused card code stays in its box with the
// item and stage chosen, so nobody types it all again.
func TestSupplyFormsKeepInput(t *testing.T) {
	e := newEnv(t)
	supplyFamily(t, e)
	c := e.login(auth.Volunteer)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		want       []string
	}{
		{"donation", "/supply/receive", url.Values{"item": {"blanket"}, "qty": {"1.5"}, "stage": {"ciudad-hidalgo"}, "donor": {"Parroquia San José"}},
			[]string{`name="qty" value="1.5"`, `<option value="blanket" selected>`, `<option value="ciudad-hidalgo" selected>`,
				`name="donor" value="Parroquia San José"`}},
		{"donation, unknown stage", "/supply/receive", url.Values{"item": {"hygiene-kit"}, "qty": {"1 000"}, "stage": {"paris"}, "donor": {"Vecinos"}},
			[]string{`name="qty" value="1 000"`, `<option value="hygiene-kit" selected>`, `name="donor" value="Vecinos"`}},
		{"card code", "/supply/check", url.Values{"item": {"family-tent"}, "stage": {"tapachula"}, "code": {"7KQ2M-X2P"}},
			[]string{`name="code" value="7KQ2M-X2P"`, `<option value="family-tent" selected>`, `<option value="tapachula" selected>`}},
	} {
		r := c.form(tc.path, tc.form)
		if r.status != 400 {
			t.Fatalf("%s: %d, want 400", tc.name, r.status)
		}
		for _, w := range tc.want {
			if strings.Count(r.body, w) != 1 {
				t.Errorf("%s: %q shown %d times, want once", tc.name, w, strings.Count(r.body, w))
			}
		}
	}
}

// TestSupplyUnits: the units of the default catalogue are in the page's
// language, singular for one; an item defined with its own unit shows it
// as defined.
func TestSupplyUnits(t *testing.T) {
	e := newEnv(t)
	_, a, _ := supplyFamily(t, e)
	if _, err := e.n.Supply.DefineItem(context.Background(), auth.Operator("test"), supply.Item{ID: "zapatos", NameES: "Zapatos",
		NameEN: "Shoes", Unit: "par", Per: supply.PerPerson, Qty: 1, Period: supply.Once}); err != nil {
		t.Fatal(err)
	}
	c := e.login(auth.Volunteer)
	es := c.page("/supply").body
	for _, w := range []string{"Cobija · 1 cobija por persona una vez", "Carpa familiar · 1 carpa por hogar una vez",
		"Ración de comida · 1 ración por persona por día", "Agua · 15 L por persona por día", "Zapatos · 1 par por persona una vez"} {
		if !strings.Contains(es, w) {
			t.Errorf("Spanish page lacks %q", w)
		}
	}
	for _, f := range []string{"blanket", "1 tent", "ration "} {
		if strings.Contains(es, ">"+f) || strings.Contains(es, " "+f) {
			t.Errorf("Spanish page shows %q", f)
		}
	}
	r := c.form("/supply/check", url.Values{"item": {"family-tent"}, "stage": {"tecun-uman"}, "code": {a.Code}})
	for _, w := range []string{"Puede recibir Carpa familiar: 1 carpa.", "Entregar 1 carpa", "2 personas"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the check lacks %q:\n%.3000s", w, r.body)
		}
	}
	c.page("/supply?lang=en")
	r = c.form("/supply/check", url.Values{"item": {"blanket"}, "stage": {"tecun-uman"}, "code": {a.Code}})
	for _, w := range []string{"May receive Blanket: 2 blankets.", "Give 2 blankets", "Family tent · 1 tent per household once"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the English check lacks %q:\n%.3000s", w, r.body)
		}
	}
}
