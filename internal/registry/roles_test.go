package registry_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// visibility is S6's field matrix for the registry, written out by hand
// (not derived from auth's tables, so a change there fails here).
var visibility = []struct {
	p      auth.Principal
	hidden []string // fields withheld, as listed in Person.Hidden
	flags  []string // flags shown, sorted
}{
	{coord, nil, []string{"disability", "elderly", "medical", "pregnant", "separated_child", "unaccompanied_child"}},
	{vol, []string{"birth_date", "flags", "notes", "origin_town", "phone"},
		[]string{"disability", "elderly", "separated_child", "unaccompanied_child"}},
	{legal, []string{"flags"}, []string{"disability", "elderly", "pregnant", "separated_child", "unaccompanied_child"}},
	{medic, []string{"nationality", "origin_town", "phone"},
		[]string{"disability", "elderly", "medical", "pregnant", "separated_child", "unaccompanied_child"}},
}

// fieldValue returns a Person's value of a string field by its API name.
func fieldValue(p registry.Person, field string) string {
	switch field {
	case "code":
		return p.Code
	case "given_names":
		return p.GivenNames
	case "surname1":
		return p.Surname1
	case "surname2":
		return p.Surname2
	case "sex":
		return p.Sex
	case "birth_date":
		return p.BirthDate
	case "nationality":
		return p.Nationality
	case "origin_town":
		return p.OriginTown
	case "phone":
		return p.Phone
	case "notes":
		return p.Notes
	}
	panic("unknown field " + field)
}

var stringFields = []string{"code", "given_names", "surname1", "surname2", "sex", "birth_date", "nationality", "origin_town", "phone", "notes"}

// checkView asserts that got is exactly what the role may see of full.
func checkView(t *testing.T, via string, got, full registry.Person, hidden, flags []string) {
	t.Helper()
	if got.ID != full.ID {
		t.Fatalf("%s: person %s, want %s", via, got.ID, full.ID)
	}
	for _, f := range stringFields {
		want := fieldValue(full, f)
		if slices.Contains(hidden, f) {
			want = ""
		}
		if g := fieldValue(got, f); g != want {
			t.Errorf("%s: %s = %q, want %q", via, f, g, want)
		}
	}
	if gotHidden := slices.Sorted(slices.Values(got.Hidden)); !slices.Equal(gotHidden, hidden) {
		t.Errorf("%s: Hidden = %v, want %v", via, gotHidden, hidden)
	}
	if gotFlags := slices.Sorted(slices.Values(got.Flags)); !slices.Equal(gotFlags, flags) {
		t.Errorf("%s: Flags = %v, want %v", via, gotFlags, flags)
	}
	// Every role sees the age (derived), even those that may not see the date.
	if got.Age == nil || *got.Age != 15 {
		t.Errorf("%s: Age = %v, want 15", via, got.Age)
	}
	// Nothing withheld leaks through the JSON the API would send.
	data, _ := json.Marshal(got)
	for _, f := range hidden {
		if f == "flags" {
			for _, fl := range full.Flags {
				if !slices.Contains(flags, fl) && strings.Contains(string(data), fl) {
					t.Errorf("%s: JSON carries hidden flag %q", via, fl)
				}
			}
			continue
		}
		if v := fieldValue(full, f); strings.Contains(string(data), v) {
			t.Errorf("%s: JSON carries hidden %s %q", via, f, v)
		}
	}
}

func TestRoleVisibility(t *testing.T) {
	n := newNode(t)
	full := register(t, n, fullPerson())
	if len(full.Hidden) != 0 || len(full.Flags) != 6 || full.Phone == "" {
		t.Fatalf("coordinator's view of a registration is incomplete: %+v", full)
	}
	hh, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Tlapaltecatl", Kind: "single",
		Members: []registry.Member{{Person: full.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range visibility {
		t.Run(string(v.p.Role), func(t *testing.T) {
			reads := map[string]func() (registry.Person, error){
				"Get": func() (registry.Person, error) { return n.Registry.Get(ctx, v.p, full.ID, "test") },
				"Find": func() (registry.Person, error) {
					ps, err := n.Registry.Find(ctx, v.p, "xochiquetzal", 5)
					if err != nil || len(ps) != 1 {
						return registry.Person{}, errors.Join(err, errors.New("not exactly one found"))
					}
					return ps[0], nil
				},
				"List": func() (registry.Person, error) {
					ps, total, err := n.Registry.List(ctx, v.p, 0, 10)
					if err != nil || len(ps) != 1 || total != 1 {
						return registry.Person{}, errors.Join(err, errors.New("not exactly one listed"))
					}
					return ps[0], nil
				},
				"ByCode": func() (registry.Person, error) { return n.Registry.ByCode(ctx, v.p, full.Code) },
				"GetHousehold": func() (registry.Person, error) {
					h, err := n.Registry.GetHousehold(ctx, v.p, hh.ID)
					if err != nil || len(h.Members) != 1 {
						return registry.Person{}, errors.Join(err, errors.New("not exactly one member"))
					}
					return h.Members[0].Person, nil
				},
			}
			for via, read := range reads {
				got, err := read()
				if err != nil {
					t.Errorf("%s: %v", via, err)
					continue
				}
				checkView(t, via, got, full, v.hidden, v.flags)
			}
			st, err := n.Registry.Stats(ctx, v.p)
			if err != nil {
				t.Fatal(err)
			}
			var statFlags []string
			for _, c := range st.Flags {
				statFlags = append(statFlags, c.Key)
				if c.Value != 1 {
					t.Errorf("Stats flag %s = %d, want 1", c.Key, c.Value)
				}
			}
			if slices.Sort(statFlags); !slices.Equal(statFlags, v.flags) {
				t.Errorf("Stats flags = %v, want %v", statFlags, v.flags)
			}
		})
	}
}

// TestRoleActions: what each role may not do is refused with ErrForbidden
// and writes nothing.
func TestRoleActions(t *testing.T) {
	n := newNode(t)
	a := register(t, n, person("Ana", "Paz"))
	b := register(t, n, person("Berta", "Paz"))
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Paz", Kind: "family",
		Members: []registry.Member{{Person: a.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(auth.Principal) error{
		"Register": func(p auth.Principal) error {
			_, err := n.Registry.Register(ctx, p, person("Carla", "Paz"))
			return err
		},
		"CreateHousehold": func(p auth.Principal) error {
			_, err := n.Registry.CreateHousehold(ctx, p, registry.HouseholdInput{Label: "X", Kind: "single",
				Members: []registry.Member{{Person: b.ID, Role: "head"}}})
			return err
		},
		"AddMember": func(p auth.Principal) error {
			_, err := n.Registry.AddMember(ctx, p, h.ID, registry.Member{Person: b.ID, Role: "sibling"})
			return err
		},
		"RemoveMember": func(p auth.Principal) error { _, err := n.Registry.RemoveMember(ctx, p, h.ID, a.ID); return err },
		"Update": func(p auth.Principal) error {
			_, err := n.Registry.Update(ctx, p, a.ID, registry.Patch{Fields: map[string]string{"surname2": "Luna"}})
			return err
		},
		"ReissueCard":    func(p auth.Principal) error { _, err := n.Registry.ReissueCard(ctx, p, a.ID); return err },
		"Get":            func(p auth.Principal) error { _, err := n.Registry.Get(ctx, p, a.ID, "t"); return err },
		"Find":           func(p auth.Principal) error { _, err := n.Registry.Find(ctx, p, "ana", 5); return err },
		"List":           func(p auth.Principal) error { _, _, err := n.Registry.List(ctx, p, 0, 5); return err },
		"ByCode":         func(p auth.Principal) error { _, err := n.Registry.ByCode(ctx, p, b.Code); return err }, // a's card is reissued
		"GetHousehold":   func(p auth.Principal) error { _, err := n.Registry.GetHousehold(ctx, p, h.ID); return err },
		"ListHouseholds": func(p auth.Principal) error { _, _, err := n.Registry.ListHouseholds(ctx, p, 0, 5); return err },
		"HouseholdLabels": func(p auth.Principal) error {
			_, err := n.Registry.HouseholdLabels(ctx, p, []string{h.ID}, "t")
			return err
		},
		"Stats": func(p auth.Principal) error { _, err := n.Registry.Stats(ctx, p); return err },
		"AddUser": func(p auth.Principal) error {
			_, err := n.Auth.AddUser(ctx, p, "newuser", auth.Volunteer, "long enough pw")
			return err
		},
		"Users":      func(p auth.Principal) error { _, err := n.Auth.Users(ctx, p); return err },
		"ReadAudit":  func(p auth.Principal) error { return auth.Check(p, auth.AuditRead) },
		"ExportPII":  func(p auth.Principal) error { return auth.Check(p, auth.PersonExport) },
		"PrintCards": func(p auth.Principal) error { return auth.Check(p, auth.CardPrint) },
	}
	forbidden := map[auth.Role][]string{
		auth.Volunteer: {"AddUser", "Users", "ReadAudit", "ExportPII"},
		auth.Legal:     {"Register", "CreateHousehold", "AddMember", "RemoveMember", "AddUser", "Users", "ReadAudit", "ExportPII"},
		auth.Medic: {"Register", "CreateHousehold", "AddMember", "RemoveMember", "AddUser", "Users", "ReadAudit",
			"ExportPII", "PrintCards"},
		"member": {"Register", "CreateHousehold", "AddMember", "RemoveMember", "Update", "ReissueCard", "Get", "Find",
			"List", "ByCode", "GetHousehold", "ListHouseholds", "HouseholdLabels", "Stats", "AddUser", "Users",
			"ReadAudit", "ExportPII", "PrintCards"},
		"": {"Register", "Get", "Find", "List", "ByCode", "Stats", "Users", "ReadAudit"},
	}
	for role, names := range forbidden {
		p := auth.Principal{UserID: "u-" + string(role), Username: "who", Role: role}
		for _, name := range names {
			t.Run(string(role)+"/"+name, func(t *testing.T) {
				events, audit := countEvents(t, n), lastAuditID(t, n)
				if err := ops[name](p); !errors.Is(err, auth.ErrForbidden) {
					t.Fatalf("error = %v, want ErrForbidden", err)
				}
				if got := countEvents(t, n); got != events {
					t.Errorf("events %d -> %d after a forbidden %s", events, got, name)
				}
				if rows := auditSince(t, n, audit); len(rows) != 0 {
					t.Errorf("a forbidden %s wrote audit rows %+v", name, rows)
				}
			})
		}
	}
	// And what each staff role may do works (the matrix is not all "no").
	allowed := map[auth.Principal][]string{
		vol:   {"Register", "AddMember", "Update", "Get", "Find", "List", "ByCode", "GetHousehold", "Stats", "PrintCards"},
		legal: {"Update", "Get", "Find", "ByCode", "GetHousehold", "Stats", "PrintCards"},
		medic: {"Get", "Find", "List", "ByCode", "GetHousehold", "HouseholdLabels", "Stats"},
		coord: {"ReadAudit", "ExportPII", "Users", "AddUser", "ReissueCard", "RemoveMember", "CreateHousehold"},
	}
	for p, names := range allowed {
		for _, name := range names {
			if err := ops[name](p); err != nil {
				t.Errorf("%s %s: %v", p.Role, name, err)
			}
		}
	}
}

// TestUpdateFieldPermissions: a role cannot change what it cannot see, and
// changing the flags it sees keeps the ones it does not.
func TestUpdateFieldPermissions(t *testing.T) {
	n := newNode(t)
	in := fullPerson()
	in.Flags = []string{"medical", "pregnant", "elderly"}
	p := register(t, n, in)

	refused := []struct {
		who   auth.Principal
		patch registry.Patch
	}{
		{vol, registry.Patch{Fields: map[string]string{"phone": "+504 1111-2222"}}},
		{vol, registry.Patch{Fields: map[string]string{"phone": ""}}}, // clearing is changing
		{vol, registry.Patch{Fields: map[string]string{"birth_date": "1990-01-01"}}},
		{vol, registry.Patch{Fields: map[string]string{"origin_town": "Tela"}}},
		{vol, registry.Patch{Fields: map[string]string{"notes": "x"}}},
		{vol, registry.Patch{Flags: &[]string{"medical"}}},
		{vol, registry.Patch{Flags: &[]string{"disability", "pregnant"}}},
		{legal, registry.Patch{Flags: &[]string{"medical"}}},
		{medic, registry.Patch{Fields: map[string]string{"phone": "+504 1111-2222"}}},
		{medic, registry.Patch{Fields: map[string]string{"origin_town": "Tela"}}},
		{medic, registry.Patch{Fields: map[string]string{"nationality": "GT"}}},
	}
	for _, r := range refused {
		before := countEvents(t, n)
		if _, err := n.Registry.Update(ctx, r.who, p.ID, r.patch); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s Update(%+v) error = %v, want ErrForbidden", r.who.Role, r.patch, err)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s Update(%+v) wrote %d events", r.who.Role, r.patch, got-before)
		}
	}
	// The code and derived age are not fields anyone sets directly.
	// An unknown key is client input and is not echoed: the error names the map.
	for f, want := range map[string]string{"code": "code", "age": "age", "flags": "flags", "photo": "fields"} {
		_, err := n.Registry.Update(ctx, coord, p.ID, registry.Patch{Fields: map[string]string{f: "x"}})
		var v registry.ValidationError
		if !errors.As(err, &v) || len(v) != 1 || v[0].Field != want {
			t.Errorf("Update field %s: error = %v, want a validation error on %s", f, err, want)
		}
	}

	// A volunteer replaces the flags they see; medical and pregnant stay.
	got, err := n.Registry.Update(ctx, vol, p.ID, registry.Patch{Flags: &[]string{"disability"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Flags, []string{"disability"}) {
		t.Errorf("volunteer sees flags %v after update, want [disability]", got.Flags)
	}
	all, err := n.Registry.Get(ctx, coord, p.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"disability", "medical", "pregnant"}; !slices.Equal(all.Flags, want) {
		t.Errorf("flags after volunteer update = %v, want %v (hidden flags kept)", all.Flags, want)
	}
	// Clearing every visible flag still keeps the hidden ones.
	if _, err := n.Registry.Update(ctx, vol, p.ID, registry.Patch{Flags: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	all, _ = n.Registry.Get(ctx, coord, p.ID, "test")
	if want := []string{"medical", "pregnant"}; !slices.Equal(all.Flags, want) {
		t.Errorf("flags after volunteer cleared theirs = %v, want %v", all.Flags, want)
	}
	// Legal changes flags: medical (hidden from legal) stays, pregnant (seen) goes.
	if _, err := n.Registry.Update(ctx, legal, p.ID, registry.Patch{Flags: &[]string{"elderly"}}); err != nil {
		t.Fatal(err)
	}
	all, _ = n.Registry.Get(ctx, coord, p.ID, "test")
	if want := []string{"elderly", "medical"}; !slices.Equal(all.Flags, want) {
		t.Errorf("flags after legal update = %v, want %v", all.Flags, want)
	}

	// Allowed changes go through and leave the other fields alone.
	if _, err := n.Registry.Update(ctx, vol, p.ID, registry.Patch{Fields: map[string]string{"surname2": "  Luna  "}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Registry.Update(ctx, medic, p.ID, registry.Patch{Fields: map[string]string{"notes": "Sano"}}); err != nil {
		t.Fatal(err)
	}
	all, _ = n.Registry.Get(ctx, coord, p.ID, "test")
	if all.Surname2 != "Luna" || all.Notes != "Sano" || all.Phone != p.Phone || all.BirthDate != p.BirthDate ||
		all.OriginTown != p.OriginTown || all.GivenNames != p.GivenNames || all.Code != p.Code {
		t.Errorf("after updates: %+v\nregistered: %+v", all, p)
	}
	// An invalid value is refused with a validation error and nothing written.
	before := countEvents(t, n)
	_, err = n.Registry.Update(ctx, coord, p.ID, registry.Patch{Fields: map[string]string{"sex": "Q", "given_names": ""}})
	var v registry.ValidationError
	if !errors.As(err, &v) || !slices.Equal(fieldCodes(v), []string{"given_names:required", "sex:invalid"}) {
		t.Errorf("invalid update error = %v", err)
	}
	if got := countEvents(t, n); got != before {
		t.Errorf("an invalid update wrote %d events", got-before)
	}
}
