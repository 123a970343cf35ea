package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

// codeShapedName finds a surname that makes "Denis <surname>" a valid card
// code: ten code symbols (every letter is one, or a look-alike of one)
// whose last is the check symbol, as one name in 31 is.
func codeShapedName(t *testing.T) (given, surname string) {
	t.Helper()
	for _, stem := range []string{"Lope", "Rami", "Mora", "Vega", "Soto"} {
		for c := 'a'; c <= 'z'; c++ {
			s := stem + string(c)
			if _, err := cardcode.Parse("denis " + strings.ToLower(s)); err == nil {
				return "Denis", s
			}
		}
	}
	t.Fatal("no surname makes a code-shaped name")
	return "", ""
}

func TestPersonFindCodeShapedName(t *testing.T) {
	e := newCLIEnv(t)
	given, surname := codeShapedName(t)
	q := strings.ToLower(given + " " + surname)
	if !cardcode.LooksLike(q) {
		t.Fatalf("%q should pass as a card code for this test to mean anything", q)
	}
	n := e.open(t)
	p, err := n.Registry.Register(context.Background(), auth.Operator("test"), registry.PersonInput{GivenNames: given,
		Surname1: surname, Sex: "M", Consent: registry.Consent{Registration: true}})
	n.Close()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query string
		want  string // a person id, or "" for nobody
	}{
		{"name shaped like a code", q, p.ID},
		{"the same, as typed with capitals", given + " " + surname, p.ID},
		{"a real code", e.ana.Code, e.ana.ID},
		{"a formatted code nobody holds is not searched as a name", cardcode.Format(strings.ToUpper(strings.ReplaceAll(q, " ", ""))), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := e.run(t, "person", "find", tt.query, "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got []registry.Person
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			var ids []string
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if tt.want == "" && len(ids) > 0 || tt.want != "" && !slices.Contains(ids, tt.want) {
				t.Errorf("find %q = %v, want %q", tt.query, ids, tt.want)
			}
		})
	}
}

func TestPersonFindLimit(t *testing.T) {
	e := newCLIEnv(t) // two people named Canario
	tests := []struct {
		name    string
		args    []string
		exit    int
		rows    int
		cutNote bool
	}{
		{"limit above the registry's cap", []string{"--limit", "101"}, 2, 0, false},
		{"limit zero", []string{"--limit", "0"}, 2, 0, false},
		{"negative limit", []string{"--limit", "-1"}, 2, 0, false},
		{"cut at the limit", []string{"--limit", "1"}, 0, 1, true},
		{"everyone fits", []string{"--limit", "100"}, 0, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := e.run(t, append([]string{"person", "find", "canario"}, tt.args...)...)
			if code != tt.exit {
				t.Fatalf("exit %d, want %d: %s%s", code, tt.exit, out, errs)
			}
			if tt.exit == 2 && !strings.Contains(errs, "--limit must be between 1 and 100") {
				t.Errorf("stderr does not explain the limit: %s", errs)
			}
			if got := strings.Count(out, "Canario"); got != tt.rows {
				t.Errorf("%d rows, want %d:\n%s", got, tt.rows, out)
			}
			if got := strings.Contains(out, "Showing the first"); got != tt.cutNote {
				t.Errorf("cut note shown: %v, want %v:\n%s", got, tt.cutNote, out)
			}
		})
	}
	// With --json the note goes to stderr, and stdout stays a JSON array.
	code, out, errs := e.run(t, "person", "find", "canario", "--limit", "1", "--json")
	var people []registry.Person
	if code != 0 || json.Unmarshal([]byte(out), &people) != nil || len(people) != 1 || !strings.Contains(errs, "Showing the first 1") {
		t.Errorf("find --json --limit 1: exit %d\n%s\n%s", code, out, errs)
	}
}

// personNow reads a person straight from the node.
func (e *cliEnv) personNow(t *testing.T, id string) registry.Person {
	t.Helper()
	n := e.open(t)
	defer n.Close()
	p, err := n.Registry.Get(context.Background(), auth.Operator("test"), id, "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPersonUpdateFlags(t *testing.T) {
	e := newCLIEnv(t)
	id := e.ana.ID
	steps := []struct {
		name string
		args []string
		exit int
		want []string // the flags after
	}{
		{"add to none", []string{"--add-flag", auth.FlagPregnant}, 0, []string{auth.FlagPregnant}},
		{"add keeps the others", []string{"--add-flag", auth.FlagMedical + "," + auth.FlagElderly}, 0,
			[]string{auth.FlagPregnant, auth.FlagElderly, auth.FlagMedical}},
		{"add one already there", []string{"--add-flag", auth.FlagMedical}, 0, []string{auth.FlagPregnant, auth.FlagElderly, auth.FlagMedical}},
		{"remove one", []string{"--remove-flag", auth.FlagElderly}, 0, []string{auth.FlagPregnant, auth.FlagMedical}},
		{"add and remove at once", []string{"--add-flag", auth.FlagDisability, "--remove-flag", auth.FlagPregnant}, 0,
			[]string{auth.FlagDisability, auth.FlagMedical}},
		{"remove one not there", []string{"--remove-flag", auth.FlagPregnant}, 0, []string{auth.FlagDisability, auth.FlagMedical}},
		{"unknown flag to add", []string{"--add-flag", "tall"}, 1, []string{auth.FlagDisability, auth.FlagMedical}},
		{"unknown flag to remove", []string{"--remove-flag", "tall"}, 1, []string{auth.FlagDisability, auth.FlagMedical}},
		{"replace and edit together", []string{"--flag", auth.FlagElderly, "--add-flag", auth.FlagMedical}, 2,
			[]string{auth.FlagDisability, auth.FlagMedical}},
		{"clear and set together", []string{"--flag", auth.FlagElderly, "--clear-flags"}, 2, []string{auth.FlagDisability, auth.FlagMedical}},
		{"--flag replaces them all", []string{"--flag", auth.FlagElderly}, 0, []string{auth.FlagElderly}},
		{"--clear-flags", []string{"--clear-flags"}, 0, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errs := e.run(t, append([]string{"person", "update", id}, st.args...)...)
			if code != st.exit {
				t.Fatalf("exit %d, want %d: %s%s", code, st.exit, out, errs)
			}
			if got := e.personNow(t, id).Flags; !sameSet(got, st.want) {
				t.Errorf("flags %v, want %v", got, st.want)
			}
		})
	}
	code, out, _ := e.run(t, "person", "update", "--help")
	if code != 0 || !strings.Contains(out, "removing every other") || !strings.Contains(out, "--add-flag") || !strings.Contains(out, "--remove-flag") {
		t.Errorf("update --help does not say --flag replaces the flags:\n%s", out)
	}
}

// TestConsentUpdate: the consents not named on the command line keep
// their values, consent to registration above all (withdrawn consent is
// never given back by an edit).
func TestConsentUpdate(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name             string
		cur              registry.Consent
		tracing, sharing *bool
		want             registry.Consent
	}{
		{"tracing given, registration withdrawn", registry.Consent{Registration: false, Sharing: true}, &yes, nil,
			registry.Consent{Registration: false, Tracing: true, Sharing: true}},
		{"sharing taken back", registry.Consent{Registration: true, Tracing: true, Sharing: true}, nil, &no,
			registry.Consent{Registration: true, Tracing: true, Sharing: false}},
		{"both", registry.Consent{Registration: false}, &yes, &yes, registry.Consent{Registration: false, Tracing: true, Sharing: true}},
		{"none", registry.Consent{Registration: false, Tracing: true}, nil, nil, registry.Consent{Registration: false, Tracing: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := consentUpdate(tt.cur, tt.tracing, tt.sharing); got != tt.want {
				t.Errorf("consentUpdate(%+v) = %+v, want %+v", tt.cur, got, tt.want)
			}
		})
	}
}

// TestPersonUpdateKeepsConsent runs the same through the command line on
// a real node: each consent flag changes its consent only.
func TestPersonUpdateKeepsConsent(t *testing.T) {
	e := newCLIEnv(t)
	id := e.luis.ID // registered with consent to registration only
	steps := []struct {
		args []string
		want registry.Consent
	}{
		{[]string{"--consent-sharing"}, registry.Consent{Registration: true, Sharing: true}},
		{[]string{"--consent-tracing"}, registry.Consent{Registration: true, Tracing: true, Sharing: true}},
		{[]string{"--consent-sharing=false"}, registry.Consent{Registration: true, Tracing: true}},
		{[]string{"--phone", "+504 9999-0000"}, registry.Consent{Registration: true, Tracing: true}},
	}
	for _, st := range steps {
		if code, out, errs := e.run(t, append([]string{"person", "update", id}, st.args...)...); code != 0 {
			t.Fatalf("update %v: exit %d %s%s", st.args, code, out, errs)
		}
		if got := e.personNow(t, id).Consent; got != st.want {
			t.Errorf("after update %v: consent %+v, want %+v", st.args, got, st.want)
		}
	}
}

// TestErrorsNameRealFlags holds every field error to a flag or argument
// the command really has.
func TestErrorsNameRealFlags(t *testing.T) {
	e := newCLIEnv(t)
	ana, luis := cardcode.Format(e.ana.Code), cardcode.Format(e.luis.Code)
	tests := []struct {
		name      string
		args      []string
		exit      int
		want      []string
		forbidden []string
	}{
		{"bad --flag on add", []string{"person", "add", "--given-names", "Eva", "--surname1", "Paz", "--consent", "--flag", "tall"}, 1,
			[]string{"nothing was saved", "  --flag: has an unknown flag"}, []string{"--flags"}},
		{"bad --flag on update", []string{"person", "update", e.ana.ID, "--flag", "tall"}, 1,
			[]string{"  --flag: has an unknown flag"}, []string{"--flags"}},
		{"bad --sex and --birth-date", []string{"person", "update", e.ana.ID, "--sex", "Q", "--birth-date", "ayer"}, 1,
			[]string{"  --sex: must be F, M or X", "  --birth-date: must be a date"}, []string{"--birth_date"}},
		{"bad member role", []string{"household", "add", "--label", "Otra", "--member", ana + ":head", "--member", luis + ":kid"}, 1,
			[]string{"  --member #2 (" + luis + ":kid): role: must be one of"}, []string{"members[", "--members"}},
		{"member twice", []string{"household", "add", "--member", ana + ":head", "--member", e.ana.ID + ":spouse"}, 1,
			[]string{"  --member #2 (" + e.ana.ID + ":spouse): person: is listed twice"}, []string{"members["}},
		{"bad kind", []string{"household", "add", "--kind", "tribe"}, 1, []string{"  --kind: must be one of"}, nil},
		{"empty find", []string{"person", "find", ""}, 2, []string{"give a name or a card code"}, []string{"--q", "nothing was saved"}},
		{"blank find", []string{"person", "find", " ", "-"}, 2, []string{"give a name or a card code"}, []string{"--q", "nothing was saved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.events(t)
			code, out, errs := e.run(t, tt.args...)
			if code != tt.exit {
				t.Fatalf("exit %d, want %d: %s%s", code, tt.exit, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			for _, f := range tt.forbidden {
				if strings.Contains(errs, f) {
					t.Errorf("stderr names %q, which is no flag:\n%s", f, errs)
				}
			}
			if got := e.events(t); got != before {
				t.Errorf("a refused command wrote %d events", got-before)
			}
		})
	}
}

func TestHouseholdAddMemberNamesRole(t *testing.T) {
	e := newCLIEnv(t)
	code, out, errs := e.run(t, "household", "add", "--label", "Nueva", "--json")
	var h registry.Household
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil {
		t.Fatalf("household add: %d %s%s", code, out, errs)
	}
	code, _, errs = e.run(t, "household", "add-member", h.ID, e.ana.Code, "--role", "kid")
	if code != 1 || !strings.Contains(errs, "  --role: must be one of") || strings.Contains(errs, "members[") {
		t.Errorf("add-member --role kid: exit %d\n%s", code, errs)
	}
}
