package auth_test

import (
	"errors"
	"testing"

	"caravana/internal/auth"
)

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want auth.Role
		ok   bool
	}{
		{"coordinator", auth.Coordinator, true}, {"volunteer", auth.Volunteer, true}, {"legal", auth.Legal, true},
		{"medic", auth.Medic, true}, {"Coordinator", "", false}, {"member", "", false}, {"public", "", false},
		{"", "", false}, {" medic", "", false},
	} {
		got, err := auth.ParseRole(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPrincipalActor(t *testing.T) {
	if got := (auth.Principal{UserID: "u1", Username: "ana"}).Actor(); got != "u1" {
		t.Errorf("Actor with id = %q", got)
	}
	if got := (auth.Principal{Username: "ana"}).Actor(); got != "ana" {
		t.Errorf("Actor without id = %q", got)
	}
	op := auth.Operator("rebuild")
	if op.Role != auth.Coordinator || op.Actor() != "cli:rebuild" {
		t.Errorf("Operator = %+v", op)
	}
}

// TestActionMatrix is S6's action table, written out by hand.
func TestActionMatrix(t *testing.T) {
	all := []auth.Action{auth.PersonRegister, auth.PersonUpdate, auth.PersonRead, auth.HouseholdWrite, auth.HouseholdRead,
		auth.StatsRead, auth.AuditRead, auth.UserManage, auth.PersonExport, auth.CardPrint}
	allowed := map[auth.Role][]auth.Action{
		auth.Coordinator: all,
		auth.Volunteer: {auth.PersonRegister, auth.PersonUpdate, auth.PersonRead, auth.HouseholdWrite, auth.HouseholdRead,
			auth.StatsRead, auth.CardPrint},
		auth.Legal: {auth.PersonUpdate, auth.PersonRead, auth.HouseholdRead, auth.StatsRead, auth.CardPrint},
		auth.Medic: {auth.PersonUpdate, auth.PersonRead, auth.HouseholdRead, auth.StatsRead},
		"member":   nil,
		"public":   nil,
		"":         nil,
	}
	for role, yes := range allowed {
		for _, a := range all {
			want := false
			for _, y := range yes {
				want = want || y == a
			}
			if got := auth.Can(role, a); got != want {
				t.Errorf("Can(%q, %s) = %v, want %v", role, a, got, want)
			}
			err := auth.Check(auth.Principal{Role: role}, a)
			if want && err != nil {
				t.Errorf("Check(%q, %s) = %v", role, a, err)
			}
			if !want && !errors.Is(err, auth.ErrForbidden) {
				t.Errorf("Check(%q, %s) = %v, want ErrForbidden", role, a, err)
			}
		}
	}
	if auth.Can(auth.Coordinator, "person.delete_everything") {
		t.Error("an unknown action is allowed")
	}
}

// TestFieldMatrix is S6's field table: who sees and may change which field
// and flag.
func TestFieldMatrix(t *testing.T) {
	fields := []string{auth.FieldCode, auth.FieldGivenNames, auth.FieldSurname1, auth.FieldSurname2, auth.FieldSex,
		auth.FieldBirthDate, auth.FieldAge, auth.FieldNationality, auth.FieldOriginTown, auth.FieldPhone, auth.FieldNotes,
		auth.FieldFlags}
	hidden := map[auth.Role][]string{
		auth.Coordinator: nil,
		auth.Volunteer:   {auth.FieldBirthDate, auth.FieldOriginTown, auth.FieldPhone, auth.FieldNotes},
		auth.Legal:       nil,
		auth.Medic:       {auth.FieldNationality, auth.FieldOriginTown, auth.FieldPhone},
		"member":         fields,
	}
	flagsSeen := map[auth.Role][]string{
		auth.Coordinator: auth.Flags,
		auth.Volunteer:   {auth.FlagUnaccompanied, auth.FlagSeparated, auth.FlagDisability, auth.FlagElderly},
		auth.Legal:       {auth.FlagUnaccompanied, auth.FlagSeparated, auth.FlagPregnant, auth.FlagDisability, auth.FlagElderly},
		auth.Medic:       auth.Flags,
		"member":         nil,
	}
	in := func(s []string, v string) bool {
		for _, x := range s {
			if x == v {
				return true
			}
		}
		return false
	}
	for role, h := range hidden {
		for _, f := range fields {
			see := !in(h, f)
			if got := auth.CanSee(role, f); got != see {
				t.Errorf("CanSee(%q, %s) = %v, want %v", role, f, got, see)
			}
			// What you may not see you may not change; code and age are never set directly.
			write := see && f != auth.FieldCode && f != auth.FieldAge
			if got := auth.CanWrite(role, f); got != write {
				t.Errorf("CanWrite(%q, %s) = %v, want %v", role, f, got, write)
			}
		}
		for _, fl := range auth.Flags {
			if got, want := auth.CanSeeFlag(role, fl), in(flagsSeen[role], fl); got != want {
				t.Errorf("CanSeeFlag(%q, %s) = %v, want %v", role, fl, got, want)
			}
		}
		if auth.CanSee(role, "photo") || auth.CanSeeFlag(role, "vip") {
			t.Errorf("%q sees an unknown field or flag", role)
		}
	}
	if len(auth.Flags) != 6 || len(auth.Roles) != 4 {
		t.Errorf("flags %v roles %v", auth.Flags, auth.Roles)
	}
}
