package registry_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// TestHiddenFlagsLeaveNoTrace is S6 for the flags: what a role is shown of
// a person is the same whether or not the person has a flag the role may
// not see. People with no flag and with each single flag, all alike
// otherwise, are read through every read path; for each role, the hidden
// list is one and the same for all of them, and a person whose only flag
// is hidden reads exactly like the person with none.
func TestHiddenFlagsLeaveNoTrace(t *testing.T) {
	n := newNode(t)
	// A girl of 10, so that every flag fits her (sex F, under 18).
	base := func() registry.PersonInput {
		in := person("Igual", "Semejante")
		in.Sex, in.BirthDate = "F", "2008-05-05"
		return in
	}
	byFlag := map[string]registry.Person{"": register(t, n, base())}
	for _, f := range auth.Flags {
		in := base()
		in.Flags = []string{f}
		byFlag[f] = register(t, n, in)
	}
	// Everyone in one household, so the household read path is covered.
	var members []registry.Member
	for _, p := range byFlag {
		members = append(members, registry.Member{Person: p.ID, Role: "relative"})
	}
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Semejante", Kind: "group", Members: members})
	if err != nil {
		t.Fatal(err)
	}
	// wantHidden is written out by hand: a role that may not see every
	// flag always has "flags" hidden.
	wantHidden := map[auth.Role][]string{
		auth.Coordinator: nil,
		auth.Volunteer:   {"birth_date", "flags", "notes", "origin_town", "phone"},
		auth.Legal:       {"flags"},
		auth.Medic:       {"nationality", "origin_town", "phone"},
	}
	// same blanks what tells two registrations apart anyway (id, card,
	// time) and the flags the role may see, and returns the JSON.
	same := func(p registry.Person) string {
		p.ID, p.Code, p.Registered, p.Households, p.Flags = "", "", time.Time{}, nil, nil
		return string(mustJSON(t, p))
	}
	for _, pr := range []auth.Principal{coord, vol, legal, medic} {
		t.Run(string(pr.Role), func(t *testing.T) {
			reads := map[string]func() (map[string]registry.Person, error){
				"Get": func() (map[string]registry.Person, error) {
					out := map[string]registry.Person{}
					for _, p := range byFlag {
						got, err := n.Registry.Get(ctx, pr, p.ID, "t")
						if err != nil {
							return nil, err
						}
						out[got.ID] = got
					}
					return out, nil
				},
				"ByCode": func() (map[string]registry.Person, error) {
					out := map[string]registry.Person{}
					for _, p := range byFlag {
						got, err := n.Registry.ByCode(ctx, pr, p.Code)
						if err != nil {
							return nil, err
						}
						out[got.ID] = got
					}
					return out, nil
				},
				"List": func() (map[string]registry.Person, error) {
					ps, _, err := n.Registry.List(ctx, pr, 0, 100)
					return index(ps), err
				},
				"Find": func() (map[string]registry.Person, error) {
					ps, err := n.Registry.Find(ctx, pr, "igual semejante", 100)
					return index(ps), err
				},
				"GetHousehold": func() (map[string]registry.Person, error) {
					hh, err := n.Registry.GetHousehold(ctx, pr, h.ID)
					var ps []registry.Person
					for _, m := range hh.Members {
						ps = append(ps, m.Person)
					}
					return index(ps), err
				},
			}
			for via, read := range reads {
				got, err := read()
				if err != nil {
					t.Fatalf("%s: %v", via, err)
				}
				if len(got) != len(byFlag) {
					t.Fatalf("%s: read %d people, want %d", via, len(got), len(byFlag))
				}
				none := same(got[byFlag[""].ID])
				for flag, p := range byFlag {
					g := got[p.ID]
					if hidden := slices.Sorted(slices.Values(g.Hidden)); !slices.Equal(hidden, wantHidden[pr.Role]) {
						t.Errorf("%s: person flagged %q: hidden %v, want %v", via, flag, hidden, wantHidden[pr.Role])
					}
					var wantFlags []string
					if flag != "" && auth.CanSeeFlag(pr.Role, flag) {
						wantFlags = []string{flag}
					}
					if !slices.Equal(g.Flags, wantFlags) {
						t.Errorf("%s: person flagged %q shows flags %v, want %v", via, flag, g.Flags, wantFlags)
					}
					if s := same(g); s != none {
						t.Errorf("%s: person flagged %q reads\n%s\nbut the unflagged one reads\n%s", via, flag, s, none)
					}
				}
			}
		})
	}
}

func index(ps []registry.Person) map[string]registry.Person {
	out := make(map[string]registry.Person, len(ps))
	for _, p := range ps {
		out[p.ID] = p
	}
	return out
}

// TestRegisterOnlyVisibleFlags: a role may set at registration only the
// flags it may see, as at an update; the refusal names the flags field
// and writes nothing.
func TestRegisterOnlyVisibleFlags(t *testing.T) {
	n := newNode(t)
	tests := []struct {
		who   auth.Principal
		flags []string
		ok    bool
	}{
		{vol, []string{"pregnant"}, false},
		{vol, []string{"medical"}, false},
		{vol, []string{"separated_child", "medical"}, false},
		{vol, []string{"separated_child", "disability", "elderly"}, true},
		{coord, []string{"pregnant", "medical", "unaccompanied_child"}, true},
	}
	for _, tc := range tests {
		in := person("Flor", "Registro")
		in.Sex, in.BirthDate, in.Flags = "F", "2005-01-01", tc.flags
		before := countEvents(t, n)
		p, err := n.Registry.Register(ctx, tc.who, in)
		if tc.ok {
			if err != nil {
				t.Errorf("%s registers %v: %v", tc.who.Role, tc.flags, err)
			} else if !slices.Equal(p.Flags, slices.Sorted(slices.Values(tc.flags))) {
				t.Errorf("%s registered flags %v, want %v", tc.who.Role, p.Flags, tc.flags)
			}
			continue
		}
		var v registry.ValidationError
		if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), []string{"flags:not_allowed"}) {
			t.Errorf("%s registers %v: error %v, want flags:not_allowed", tc.who.Role, tc.flags, err)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s registers %v: %d events written", tc.who.Role, tc.flags, got-before)
		}
		if _, err := n.Registry.PrepareRegister(tc.who, in); !errors.As(err, &v) {
			t.Errorf("PrepareRegister as %s with %v: %v, want a ValidationError", tc.who.Role, tc.flags, err)
		}
	}
}

// TestFlagsFitPerson: pregnant does not go with sex M, nor a
// child-protection flag with a birth date of 18 or more years ago; an
// unknown birth date is no contradiction. Registration and update check
// the same; an update checks only when it changes flags, sex or birth
// date, and only against the flags the role sees.
func TestFlagsFitPerson(t *testing.T) {
	n := newNode(t) // today is 2018-10-20
	reg := []struct {
		name, sex, birth string
		flags            []string
		want             []string // field:code; nil = accepted
	}{
		{"pregnant man", "M", "1990-01-01", []string{"pregnant"}, []string{"flags:pregnant_sex"}},
		{"pregnant woman", "F", "1990-01-01", []string{"pregnant"}, nil},
		{"pregnant, sex X", "X", "1990-01-01", []string{"pregnant"}, nil},
		{"unaccompanied at 18 today", "M", "2000-10-20", []string{"unaccompanied_child"}, []string{"flags:child_age"}},
		{"unaccompanied at 17, 18 tomorrow", "M", "2000-10-21", []string{"unaccompanied_child"}, nil},
		{"separated adult", "F", "1980-01-01", []string{"separated_child"}, []string{"flags:child_age"}},
		{"separated, no birth date", "F", "", []string{"separated_child"}, nil},
		{"both wrong at once", "M", "1980-01-01", []string{"pregnant", "separated_child"},
			[]string{"flags:child_age", "flags:pregnant_sex"}},
		{"adult with other flags", "M", "1950-01-01", []string{"elderly", "medical"}, nil},
	}
	for _, tc := range reg {
		in := person("Caso", "Prueba")
		in.Sex, in.BirthDate, in.Flags = tc.sex, tc.birth, tc.flags
		before := countEvents(t, n)
		_, err := n.Registry.Register(ctx, coord, in)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var v registry.ValidationError
		if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s: a refused registration wrote %d events", tc.name, got-before)
		}
	}

	woman := person("Rosa", "Cambio")
	woman.Sex, woman.BirthDate, woman.Flags = "F", "1990-01-01", []string{"pregnant"}
	w := register(t, n, woman)
	girl := person("Lupe", "Cambio")
	girl.Sex, girl.BirthDate, girl.Flags = "F", "2001-01-01", []string{"unaccompanied_child"}
	g := register(t, n, girl)
	plain := person("Juana", "Cambio")
	plain.Sex = "F"
	pl := register(t, n, plain)
	upd := []struct {
		name  string
		who   auth.Principal
		id    string
		patch registry.Patch
		want  []string
	}{
		{"sex M on a pregnant woman", coord, w.ID, registry.Patch{Fields: map[string]string{"sex": "M"}}, []string{"flags:pregnant_sex"}},
		{"pregnant on a man", coord, pl.ID, registry.Patch{Fields: map[string]string{"sex": "M"}, Flags: &[]string{"pregnant"}},
			[]string{"flags:pregnant_sex"}},
		{"adult birth date on an unaccompanied child", legal, g.ID, registry.Patch{Fields: map[string]string{"birth_date": "1999-01-01"}},
			[]string{"flags:child_age"}},
		// The volunteer sees her age, not her birth date: told all the same.
		{"separated on an adult", vol, w.ID, registry.Patch{Flags: &[]string{"separated_child"}}, []string{"flags:child_age"}},
		{"medic fixes the birth date", medic, g.ID, registry.Patch{Fields: map[string]string{"birth_date": "2002-01-01"}}, nil},
	}
	for _, tc := range upd {
		before := countEvents(t, n)
		_, err := n.Registry.Update(ctx, tc.who, tc.id, tc.patch)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var v registry.ValidationError
		if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s: a refused update wrote %d events", tc.name, got-before)
		}
	}

	// A volunteer does not see "pregnant": changing the sex of a pregnant
	// woman answers exactly as for any woman, or the answer would tell.
	for _, id := range []string{w.ID, pl.ID} {
		if _, err := n.Registry.Update(ctx, vol, id, registry.Patch{Fields: map[string]string{"sex": "M"}}); err != nil {
			t.Errorf("volunteer changes the sex of %s: %v", id, err)
		}
	}

	// A child registered at 17 who has since turned 18 keeps the flag, and
	// other changes still go through; a change of flags must drop it.
	later := newNode(t)
	kid := person("Chuy", "Crece")
	kid.Sex, kid.BirthDate, kid.Flags = "M", "2001-01-01", []string{"separated_child"}
	k := register(t, later, kid)
	registry.SetNow(later.Registry, func() time.Time { return today.AddDate(2, 0, 0) })
	if _, err := later.Registry.Update(ctx, coord, k.ID, registry.Patch{Fields: map[string]string{"surname2": "Luna"}}); err != nil {
		t.Errorf("an unrelated change to a child come of age: %v", err)
	}
	_, err := later.Registry.Update(ctx, coord, k.ID, registry.Patch{Flags: &[]string{"separated_child", "disability"}})
	var v registry.ValidationError
	if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), []string{"flags:child_age"}) {
		t.Errorf("re-setting a child flag on an adult: %v, want flags:child_age", err)
	}
	if _, err := later.Registry.Update(ctx, coord, k.ID, registry.Patch{Flags: &[]string{"disability"}}); err != nil {
		t.Errorf("dropping the child flag: %v", err)
	}
}

// TestConsentPatch: an update changes only the consents it names, and
// never withdraws consent to registration (that is an erasure request).
func TestConsentPatch(t *testing.T) {
	n := newNode(t)
	in := person("Ana", "Consiente")
	in.Consent = registry.Consent{Registration: true, Tracing: false, Sharing: true}
	p := register(t, n, in)
	yes, no := true, false

	// As the API decodes it: only "tracing" is present.
	var patch registry.Patch
	if err := json.Unmarshal([]byte(`{"consent":{"tracing":true}}`), &patch); err != nil {
		t.Fatal(err)
	}
	got, err := n.Registry.Update(ctx, vol, p.ID, patch)
	if err != nil {
		t.Fatal(err)
	}
	if want := (registry.Consent{Registration: true, Tracing: true, Sharing: true}); got.Consent != want {
		t.Errorf("after a tracing-only patch, consent = %+v, want %+v", got.Consent, want)
	}
	got, err = n.Registry.Update(ctx, legal, p.ID, registry.Patch{ConsentKeys: &registry.ConsentPatch{Sharing: &no}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (registry.Consent{Registration: true, Tracing: true, Sharing: false}); got.Consent != want {
		t.Errorf("after a sharing-only patch, consent = %+v, want %+v", got.Consent, want)
	}
	// A patch that changes nothing writes nothing.
	before := countEvents(t, n)
	if _, err := n.Registry.Update(ctx, coord, p.ID, registry.Patch{ConsentKeys: &registry.ConsentPatch{Tracing: &yes, Registration: &yes}}); err != nil {
		t.Fatal(err)
	}
	if got := countEvents(t, n); got != before {
		t.Errorf("a consent patch changing nothing wrote %d events", got-before)
	}

	withdraw := []struct {
		name  string
		patch registry.Patch
	}{
		{"key", registry.Patch{ConsentKeys: &registry.ConsentPatch{Registration: &no}}},
		{"key with another change", registry.Patch{Fields: map[string]string{"surname2": "Luna"},
			ConsentKeys: &registry.ConsentPatch{Registration: &no, Tracing: &no}}},
		{"whole consent", registry.Patch{Consent: &registry.Consent{Tracing: true}}},
	}
	for _, tc := range withdraw {
		before := countEvents(t, n)
		_, err := n.Registry.Update(ctx, coord, p.ID, tc.patch)
		var v registry.ValidationError
		if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), []string{"consent.registration:not_allowed"}) {
			t.Errorf("%s: error %v, want consent.registration:not_allowed", tc.name, err)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s: a refused withdrawal wrote %d events", tc.name, got-before)
		}
	}
	all, err := n.Registry.Get(ctx, coord, p.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := (registry.Consent{Registration: true, Tracing: true, Sharing: false}); all.Consent != want || all.Surname2 != "" {
		t.Errorf("after refused withdrawals: consent %+v surname2 %q", all.Consent, all.Surname2)
	}
}
