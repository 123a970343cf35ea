package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// events counts the node's events: a refused or repeated request must not
// add any.
func (e *env) events() int {
	e.t.Helper()
	var n int
	err := e.n.Store.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		n, err = tx.CountEvents(context.Background())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) person(given, surname, birth string, flags ...string) registry.Person {
	e.t.Helper()
	in := samplePerson(given, surname)
	in.BirthDate, in.Flags = birth, flags
	return e.register(in)
}

func (e *env) household(label, kind string, members ...registry.Member) string {
	e.t.Helper()
	h, err := e.n.Registry.CreateHousehold(context.Background(), auth.Operator("test"),
		registry.HouseholdInput{Label: label, Kind: kind, Members: members})
	if err != nil {
		e.t.Fatal(err)
	}
	return h.ID
}

// freshCode is a well-formed code nobody holds.
func freshCode(t testing.TB) string {
	c, err := cardcode.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scanPage posts a code on the check-in page, checks the redirect back to
// the page (never a render of the POST) and returns the page after it.
func (c *client) scan(stage, code string) *resp {
	c.t.Helper()
	r := c.form("/checkin/"+stage, url.Values{"code": {code}})
	if r.status != 303 || r.header.Get("Location") != "/checkin/"+stage {
		c.t.Fatalf("scan: %d %q\n%.800s", r.status, r.header.Get("Location"), r.body)
	}
	return c.page("/checkin/" + stage)
}

var countRE = regexp.MustCompile(`<span id="count">(\d+)</span>`)

func count(t testing.TB, r *resp) string {
	t.Helper()
	m := countRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no count on the page:\n%.1500s", r.body)
	}
	return m[1]
}

// TestCheckinPage walks a crossing: choose the stage once, scan a mother,
// see her child at a glance, scan her twice, mistype a code, scan a code
// nobody holds, find someone without a card by name; the count follows and
// a reload never records anything again.
func TestCheckinPage(t *testing.T) {
	e := newEnv(t)
	mother := e.person("Reina", "Zelaya", "1990-01-01", auth.FlagPregnant)
	child := e.person("Kevin", "Zelaya", "2016-05-05")
	lone := e.person("Elmer", "Castillo", "1980-02-02")
	e.household("Familia Zelaya", "family", registry.Member{Person: mother.ID, Role: "head"}, registry.Member{Person: child.ID, Role: "child"})
	c := e.login(auth.Volunteer)

	if r := c.page("/checkin"); r.status != 200 || !strings.Contains(r.body, `href="/checkin/agua-caliente"`) {
		t.Fatalf("chooser: %d", r.status)
	}
	r := c.page("/checkin/agua-caliente")
	if r.status != 200 || count(t, r) != "0" || !strings.Contains(r.body, `autofocus`) {
		t.Fatalf("check-in page: %d\n%.1000s", r.status, r.body)
	}
	// The stage is remembered: the nav link goes straight to it.
	if r := c.page("/checkin"); r.status != 303 || r.header.Get("Location") != "/checkin/agua-caliente" {
		t.Errorf("remembered stage: %d %q", r.status, r.header.Get("Location"))
	}
	if r := c.page("/checkin?choose=1"); r.status != 200 {
		t.Errorf("choose again: %d", r.status)
	}
	if r := c.page("/checkin/nowhere"); r.status != 404 {
		t.Errorf("unknown stage: %d", r.status)
	}

	r = c.scan("agua-caliente", strings.ToLower(mother.Code)) // as typed, lower case, no dash
	for _, w := range []string{"Registrada/o ✓", "Reina Zelaya Quintanilla", "Kevin Zelaya Quintanilla", "Familia Zelaya",
		"1 de 2 vistas aquí", "Mujer", "5-11", "18-59"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("after the scan the page lacks %q", w)
		}
	}
	// A volunteer sees no pregnancy flag, and no birth date, phone or photo.
	for _, f := range []string{"Embarazo", piiBirth, piiPhone, "<img"} {
		if strings.Contains(r.body, f) {
			t.Errorf("the glance shows %q", f)
		}
	}
	if got := count(t, r); got != "1" {
		t.Errorf("count after one scan = %s", got)
	}
	if !strings.Contains(r.body, `value=""`) && strings.Contains(r.body, mother.Code) {
		t.Errorf("the input is not empty after a scan")
	}
	// Reloading shows the same result and records nothing.
	before := e.events()
	if r2 := c.page("/checkin/agua-caliente"); count(t, r2) != "1" || !strings.Contains(r2.body, "Reina Zelaya") {
		t.Errorf("reload lost the result")
	}
	// The same person twice is one check-in.
	r = c.scan("agua-caliente", cardcode.Format(mother.Code))
	if !strings.Contains(r.body, "Ya registrada/o aquí a las") || count(t, r) != "1" {
		t.Errorf("second scan:\n%.2000s", r.body)
	}
	// A typo is caught by the check character, before any look-up.
	r = c.scan("agua-caliente", breakCheck(child.Code))
	if !strings.Contains(r.body, "código inválido: revise el carácter de control") || count(t, r) != "1" {
		t.Errorf("typo:\n%.2000s", r.body)
	}
	if e.events() != before {
		t.Errorf("a repeat or a typo wrote events")
	}
	// Ten letters and no digit may be a code with a typo or a one-word
	// name: the page says the first and searches the second, at once.
	word := "VILLANUEVA"
	if _, err := cardcode.Parse(word); err == nil {
		t.Fatalf("%s parses as a code; pick another word", word)
	}
	r = c.form("/checkin/agua-caliente", url.Values{"code": {word}})
	if r.status != 200 || !strings.Contains(r.body, "código inválido: revise el carácter de control") || strings.Contains(r.body, "Ningún resultado") {
		t.Errorf("ten letters, no digit: %d\n%.2000s", r.status, r.body)
	}
	r = c.scan("agua-caliente", freshCode(t))
	if !strings.Contains(r.body, "ninguna persona tiene este código") {
		t.Errorf("unknown code:\n%.2000s", r.body)
	}
	r = c.scan("agua-caliente", "K7M4Q-X2")
	if !strings.Contains(r.body, "un código tiene 10 letras y números") {
		t.Errorf("short code:\n%.2000s", r.body)
	}
	// The child now: the household shows both seen.
	r = c.scan("agua-caliente", child.Code)
	if !strings.Contains(r.body, "2 de 2 vistas aquí") || count(t, r) != "2" {
		t.Errorf("child scan:\n%.2000s", r.body)
	}
	if !strings.Contains(r.body, "Antes en este teléfono") {
		t.Errorf("no recent scans listed")
	}
	// No card: a name typed in the box is searched, and checked in by id.
	r = c.form("/checkin/agua-caliente", url.Values{"code": {"elmer castillo"}})
	if r.status != 200 || !strings.Contains(r.body, "Elmer Castillo") || !strings.Contains(r.body, `name="person" value="`+lone.ID+`"`) {
		t.Fatalf("name search: %d\n%.2000s", r.status, r.body)
	}
	r = c.form("/checkin/agua-caliente", url.Values{"person": {lone.ID}})
	if r.status != 303 {
		t.Fatalf("check in by id: %d", r.status)
	}
	if r = c.page("/checkin/agua-caliente"); count(t, r) != "3" || !strings.Contains(r.body, "Elmer Castillo") {
		t.Errorf("after the check-in by id: %s", count(t, r))
	}
	// Without the form's CSRF token nothing is recorded.
	before = e.events()
	if r := c.form("/checkin/agua-caliente", url.Values{"code": {freshCode(t)}, "csrf": {"forged"}}); r.status != 403 {
		t.Errorf("check-in without CSRF token: %d", r.status)
	}
	if r := c.do("POST", "/api/v1/checkins", checkinsBody("agua-caliente", mother.Code), map[string]string{"X-CSRF-Token": ""}); r.status != 403 {
		t.Errorf("api check-in without CSRF header: %d", r.status)
	}
	if r := e.login(auth.Coordinator).upload("/route", upload{fields: url.Values{"csrf": {"forged"}}, name: "r.csv", data: []byte("id\n")}); r.status != 403 {
		t.Errorf("route upload without CSRF token: %d", r.status)
	}
	if e.events() != before {
		t.Error("a request without its CSRF token wrote events")
	}
	// Legal and medical staff do not count people.
	if r := e.login(auth.Medic).page("/checkin/agua-caliente"); r.status != 403 {
		t.Errorf("medic on the check-in page: %d", r.status)
	}
}

type checkinsAnswer struct {
	Results []struct {
		Person   string `json:"person"`
		Repeat   bool   `json:"repeat"`
		SeenHere []string
		Glance   *struct {
			Person struct {
				Name string `json:"name"`
			} `json:"person"`
		} `json:"glance"`
		Error *registry.FieldError `json:"error"`
	} `json:"results"`
	Recorded, Repeats, Errors int
}

func checkinsBody(stage string, codes ...string) string {
	var ins []string
	for _, c := range codes {
		ins = append(ins, fmt.Sprintf(`{"code":%q}`, c))
	}
	return fmt.Sprintf(`{"stage":%q,"checkins":[%s]}`, stage, strings.Join(ins, ","))
}

// TestCheckinsAPI: batches are idempotent, a typo refuses the whole batch
// and writes nothing, and check-ins have their own budget, well above the
// card-code look-up budget.
func TestCheckinsAPI(t *testing.T) {
	e := newEnv(t)
	a := e.person("Ana", "Cruz", "1990-01-01")
	b := e.person("Berta", "Cruz", "2012-01-01")
	c := e.login(auth.Volunteer)
	body := checkinsBody("tecun-uman", a.Code, cardcode.Format(b.Code), a.Code, freshCode(t))
	r := c.do("POST", "/api/v1/checkins", body, nil)
	var ans checkinsAnswer
	r.json(t, &ans)
	if r.status != 200 || ans.Recorded != 2 || ans.Repeats != 1 || ans.Errors != 1 || len(ans.Results) != 4 {
		t.Fatalf("batch: %d %+v\n%s", r.status, ans, r.body)
	}
	if ans.Results[0].Glance == nil || ans.Results[0].Glance.Person.Name != "Ana Cruz Quintanilla" || ans.Results[3].Error.Code != "not_found" {
		t.Errorf("results: %s", r.body)
	}
	before := e.events()
	r = c.do("POST", "/api/v1/checkins", body, nil)
	ans = checkinsAnswer{}
	r.json(t, &ans)
	if r.status != 200 || ans.Recorded != 0 || ans.Repeats != 3 || e.events() != before {
		t.Errorf("the same batch again: %d %+v, %d events written", r.status, ans, e.events()-before)
	}
	runScenarios(t, e, []scenario{
		{name: "typo refuses the batch", role: auth.Volunteer, method: "POST", path: "/api/v1/checkins",
			body: checkinsBody("ciudad-hidalgo", a.Code, breakCheck(b.Code)), status: 400,
			want: []string{`"field":"checkins[1].code"`, `"code":"check"`}, forbid: []string{"Cruz"}},
		{name: "unknown stage", role: auth.Volunteer, method: "POST", path: "/api/v1/checkins",
			body: checkinsBody("atlantis", a.Code), status: 400, want: []string{`"field":"stage"`, `"code":"unknown_stage"`}},
		{name: "empty batch", role: auth.Volunteer, method: "POST", path: "/api/v1/checkins",
			body: `{"stage":"tapachula","checkins":[]}`, status: 400, want: []string{`"field":"checkins"`}},
		{name: "over 500", role: auth.Volunteer, method: "POST", path: "/api/v1/checkins",
			body: checkinsBody("tapachula", strings.Split(strings.Repeat(a.Code+",", 501), ",")[:501]...), status: 400,
			want: []string{`"code":"too_many"`}},
		{name: "legal may not", role: auth.Legal, method: "POST", path: "/api/v1/checkins",
			body: checkinsBody("tapachula", a.Code), status: 403, forbid: []string{"Cruz"}},
		{name: "time in the future", role: auth.Volunteer, method: "POST", path: "/api/v1/checkins",
			body:   `{"stage":"tapachula","checkins":[{"code":"` + a.Code + `","at":"` + time.Now().Add(48*time.Hour).Format(time.RFC3339) + `"}]}`,
			status: 400, want: []string{`"field":"checkins[0].at"`, `"code":"future"`}},
	})
	if e.events() != before {
		t.Errorf("refused batches wrote events")
	}
	// Forty scans, one per request: past the card-code look-up budget (30 a
	// minute, bursts of 10), well within the check-in budget.
	people := make([]string, 40)
	for i := range people {
		people[i] = e.person(fmt.Sprintf("Persona%d", i), "Lote", "1995-01-01").Code
	}
	for i, code := range people {
		if r := c.do("POST", "/api/v1/checkins", checkinsBody("tapachula", code), nil); r.status != 200 {
			t.Fatalf("scan %d: %d %s", i, r.status, r.body)
		}
	}
	if r := c.do("POST", "/api/v1/people/search", `{"code":"`+a.Code+`"}`, nil); r.status != 200 {
		t.Errorf("check-ins spent the look-up budget: search by code %d", r.status)
	}
	// The check-in budget ends somewhere: drain it and the next batch waits.
	var who struct {
		User auth.Principal `json:"user"`
	}
	c.do("GET", "/api/v1/session", nil, nil).json(t, &who)
	for ok := true; ok; ok, _ = e.s.checkins.allowN(who.User.UserID, 1) {
	}
	r = c.do("POST", "/api/v1/checkins", checkinsBody("huixtla", a.Code), nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `"code":"rate_limited"`) {
		t.Errorf("past the budget: %d %s", r.status, r.body)
	}
	if !strings.Contains(e.logs.String(), "check-in budget exhausted") {
		t.Errorf("an exhausted budget was not logged")
	}
	// Another user's budget is their own.
	if r := e.login(auth.Coordinator).do("POST", "/api/v1/checkins", checkinsBody("huixtla", a.Code), nil); r.status != 200 {
		t.Errorf("coordinator after the volunteer's budget ran out: %d", r.status)
	}
}
