package web

import (
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// TestPersonPageHidesFlagPresence (S6): a person's page and API record read
// the same to a role whether or not the person has a flag the role may not
// see. People alike but for one flag each (or none) are compared per role,
// once their id and card code are blanked.
func TestPersonPageHidesFlagPresence(t *testing.T) {
	e := newEnv(t)
	byFlag := map[string]registry.Person{}
	for _, f := range append([]string{""}, auth.Flags...) {
		in := samplePerson("Igual", "Semejante")
		// A girl of 10 (the web's clock is the real one): every flag fits her.
		in.BirthDate, in.Flags = time.Now().AddDate(-10, 0, 0).Format(time.DateOnly), nil
		if f != "" {
			in.Flags = []string{f}
		}
		byFlag[f] = e.register(in)
	}
	blank := func(body string, p registry.Person) string {
		return strings.NewReplacer(p.ID, "ID", cardcode.Format(p.Code), "CODE", p.Code, "CODE").Replace(body)
	}
	for _, role := range roles {
		c := e.login(role)
		seesAll := true
		for _, f := range auth.Flags {
			seesAll = seesAll && auth.CanSeeFlag(role, f)
		}
		none := blank(c.page("/people/"+byFlag[""].ID).body, byFlag[""])
		if got := strings.Contains(none, "su rol no ve algunos tipos"); got == seesAll {
			t.Errorf("%s: person page says some flag kinds are not shown: %v, want %v", role, got, !seesAll)
		}
		var noneAPI struct{ Hidden []string }
		c.page("/api/v1/people/"+byFlag[""].ID).json(t, &noneAPI)
		for f, p := range byFlag {
			if f == "" || auth.CanSeeFlag(role, f) {
				continue
			}
			if got := blank(c.page("/people/"+p.ID).body, p); got != none {
				t.Errorf("%s: the page of a person flagged %s differs from an unflagged one's:\n%s\n----\n%s", role, f, got, none)
			}
			var api struct {
				Hidden []string
				Flags  []string
			}
			c.page("/api/v1/people/"+p.ID).json(t, &api)
			if !slices.Equal(api.Hidden, noneAPI.Hidden) || len(api.Flags) != 0 {
				t.Errorf("%s: API person flagged %s: hidden %v flags %v; unflagged: hidden %v", role, f, api.Hidden, api.Flags, noneAPI.Hidden)
			}
		}
	}
}

// TestRegisterFormOffersVisibleFlags: the registration form offers a role
// only the flags it may see, and a flag it may not see is refused with a
// field error on flags, by form and by API, and nothing is registered.
func TestRegisterFormOffersVisibleFlags(t *testing.T) {
	e := newEnv(t)
	for _, role := range []auth.Role{auth.Coordinator, auth.Volunteer} {
		body := e.login(role).page("/people/new").body
		for _, f := range auth.Flags {
			if got := strings.Contains(body, `value="`+f+`"`); got != auth.CanSeeFlag(role, f) {
				t.Errorf("%s: registration form offers %s: %v", role, f, got)
			}
		}
	}
	v := e.login(auth.Volunteer)
	before := e.countPeople()
	r := v.form("/people", url.Values{"given_names": {"Rosa"}, "surname1": {"Prueba"}, "sex": {"F"},
		"flags": {"pregnant"}, "consent_registration": {"1"}})
	if r.status != 400 || !strings.Contains(r.body, "su rol no puede marcar esta condición") {
		t.Errorf("volunteer registers a pregnancy by form: %d\n%.2000s", r.status, r.body)
	}
	r = v.do("POST", "/api/v1/people", `{"given_names":"Rosa","surname1":"Prueba","sex":"F","flags":["medical"],"consent":{"registration":true}}`, nil)
	var fe struct {
		Fields []registry.FieldError `json:"fields"`
	}
	if r.json(t, &fe); r.status != 400 || len(fe.Fields) != 1 || fe.Fields[0].Field != "flags" || fe.Fields[0].Code != "not_allowed" {
		t.Errorf("volunteer registers a medical flag by API: %d %s", r.status, r.body)
	}
	if got := e.countPeople(); got != before {
		t.Errorf("refused registrations registered %d people", got-before)
	}
	// A flag that contradicts the person is refused the same way.
	r = e.login(auth.Coordinator).form("/people", url.Values{"given_names": {"Pedro"}, "surname1": {"Prueba"}, "sex": {"M"},
		"flags": {"pregnant"}, "consent_registration": {"1"}})
	if r.status != 400 || !strings.Contains(r.body, "embarazo no corresponde al sexo M") {
		t.Errorf("a pregnant man registered by form: %d\n%.2000s", r.status, r.body)
	}
}

// TestPatchConsentPerKey: PATCH changes only the consent keys it sends,
// and refuses to withdraw consent to registration, naming the field.
func TestPatchConsentPerKey(t *testing.T) {
	e := newEnv(t)
	in := samplePerson("Ana", "Consiente")
	in.Consent = registry.Consent{Registration: true, Tracing: false, Sharing: true}
	p := e.register(in)
	c := e.login(auth.Legal)
	r := c.do("PATCH", "/api/v1/people/"+p.ID, `{"consent":{"tracing":true}}`, nil)
	var got registry.Person
	if r.json(t, &got); r.status != 200 || got.Consent != (registry.Consent{Registration: true, Tracing: true, Sharing: true}) {
		t.Errorf("tracing-only patch: %d consent %+v", r.status, got.Consent)
	}
	r = c.do("PATCH", "/api/v1/people/"+p.ID, `{"consent":{"registration":false}}`, nil)
	var fe struct {
		Fields []registry.FieldError `json:"fields"`
	}
	if r.json(t, &fe); r.status != 400 || len(fe.Fields) != 1 || fe.Fields[0].Field != "consent.registration" {
		t.Errorf("withdrawing consent to registration: %d %s", r.status, r.body)
	}
	now, err := e.n.Registry.Get(context.Background(), auth.Operator("test"), p.ID, "test")
	if err != nil || now.Consent != (registry.Consent{Registration: true, Tracing: true, Sharing: true}) {
		t.Errorf("consent after a refused withdrawal: %+v, %v", now.Consent, err)
	}
	// The edit form changes tracing only; sharing stays as it is.
	co := e.login(auth.Coordinator)
	if r = co.form("/people/"+p.ID+"/edit", url.Values{"given_names": {"Ana"}, "surname1": {"Consiente"}, "surname2": {"Quintanilla"},
		"sex": {"F"}, "birth_date": {"1987-03-14"}, "nationality": {"HN"}, "origin_town": {"Choluteca"}, "phone": {"+504 9876-5432"},
		"notes": {"nota privada"}, "flags": {"medical", "pregnant", "elderly"}, "consent_sharing": {"1"}}); r.status != 303 {
		t.Fatalf("edit form: %d\n%.1500s", r.status, r.body)
	}
	now, _ = e.n.Registry.Get(context.Background(), auth.Operator("test"), p.ID, "test")
	if now.Consent != (registry.Consent{Registration: true, Tracing: false, Sharing: true}) {
		t.Errorf("consent after the edit form unticked tracing: %+v", now.Consent)
	}
}

// TestHouseholdsAuditedAndEmpty: listing households as a volunteer audits
// each label shown (S7), and an emptied household's members are [] in
// the API.
func TestHouseholdsAuditedAndEmpty(t *testing.T) {
	e := newEnv(t)
	a := e.register(samplePerson("Ana", "Moreno"))
	h, err := e.n.Registry.CreateHousehold(context.Background(), auth.Operator("test"), registry.HouseholdInput{
		Label: "Familia Moreno Benítez", Kind: "family", Members: []registry.Member{{Person: a.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	v := e.login(auth.Volunteer)
	for _, path := range []string{"/households", "/api/v1/households"} {
		r := v.page(path)
		if r.status != 200 || !strings.Contains(r.body, "Familia Moreno Benítez") {
			t.Fatalf("%s: %d %.500s", path, r.status, r.body)
		}
		var rows []store.AuditEntry
		if err := e.n.Store.View(context.Background(), func(tx store.ReadTx) error {
			var err error
			rows, err = tx.Audit(context.Background(), store.AuditFilter{Record: "household/" + h.ID, Limit: 100})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var reads int
		for _, row := range rows {
			if row.Action == "household.read" && row.Actor != auth.Operator("test").Actor() {
				reads++
			}
		}
		if want := map[string]int{"/households": 1, "/api/v1/households": 2}[path]; reads != want {
			t.Errorf("after %s, %d household.read rows by the volunteer, want %d: %+v", path, reads, want, rows)
		}
	}
	r := v.do("DELETE", "/api/v1/households/"+h.ID+"/members/"+a.ID, nil, nil)
	if r.status != 200 || !strings.Contains(r.body, `"members":[]`) {
		t.Errorf("emptied household: %d %s", r.status, r.body)
	}
}

// TestOpenAPIRegistrySchemas: the registry's response schemas name every
// JSON key the server sends for them, and no other.
func TestOpenAPIRegistrySchemas(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiJSON(t), &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"Person": registry.Person{}, "Consent": registry.Consent{},
		"Household": registry.Household{}, "HouseholdMember": registry.HouseholdMember{},
		"HouseholdSummary": registry.HouseholdSummary{}, "Stats": registry.Stats{}, "Count": registry.Count{},
		"PersonInput": registry.PersonInput{}, "Patch": registry.Patch{}, "ConsentPatch": registry.ConsentPatch{}} {
		var keys []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if tag != "-" && rt.Field(i).IsExported() {
				keys = append(keys, tag)
			}
		}
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		documented := slices.Sorted(maps.Keys(s.Properties))
		if slices.Sort(keys); !slices.Equal(keys, documented) {
			t.Errorf("schema %s documents %v; the server sends %v", name, documented, keys)
		}
	}
}

func openapiJSON(t *testing.T) []byte {
	t.Helper()
	data, err := fs.ReadFile(assets, "openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}
