// Package auth holds users, roles, sessions and the permission rules: which
// role may do which action and see which field. Every check is server-side
// and the same for the CLI, the API and the web pages.
package auth

import (
	"errors"
	"fmt"
)

// Role is what a user is allowed to do.
type Role string

// The roles of DESIGN.md section 2 that log in with a password.
const (
	Coordinator Role = "coordinator"
	Volunteer   Role = "volunteer"
	Legal       Role = "legal"
	Medic       Role = "medic"
)

// Roles lists the staff roles in display order.
var Roles = []Role{Coordinator, Volunteer, Legal, Medic}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (one of coordinator, volunteer, legal, medic)", s)
}

// Principal is who is acting: a logged-in user, or the node operator at the CLI.
type Principal struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Role     Role   `json:"role"`
}

// Actor is the name recorded in events and the audit trail.
func (p Principal) Actor() string {
	if p.UserID != "" {
		return p.UserID
	}
	return p.Username
}

// Operator is the principal for CLI commands run by whoever holds the node
// passphrase: they can already open everything, so they act as coordinator.
func Operator(name string) Principal {
	return Principal{Username: "cli:" + name, Role: Coordinator}
}

// Action is something a role may be allowed to do.
type Action string

// Actions checked on every request.
const (
	PersonRegister Action = "person.register"
	PersonUpdate   Action = "person.update"
	PersonRead     Action = "person.read"
	HouseholdWrite Action = "household.write"
	HouseholdRead  Action = "household.read"
	StatsRead      Action = "stats.read"
	AuditRead      Action = "audit.read"
	UserManage     Action = "user.manage"
	PersonExport   Action = "person.export"
	CardPrint      Action = "card.print"
)

var actions = map[Role]map[Action]bool{
	Coordinator: {PersonRegister: true, PersonUpdate: true, PersonRead: true, HouseholdWrite: true,
		HouseholdRead: true, StatsRead: true, AuditRead: true, UserManage: true, PersonExport: true, CardPrint: true},
	Volunteer: {PersonRegister: true, PersonUpdate: true, PersonRead: true, HouseholdWrite: true,
		HouseholdRead: true, StatsRead: true, CardPrint: true},
	Legal: {PersonRead: true, PersonUpdate: true, HouseholdRead: true, StatsRead: true, CardPrint: true},
	Medic: {PersonRead: true, PersonUpdate: true, HouseholdRead: true, StatsRead: true},
}

// Can reports whether role r may perform a.
func Can(r Role, a Action) bool { return actions[r][a] }

// ErrForbidden means the principal's role does not allow the action.
var ErrForbidden = errors.New("not allowed for your role")

// Check returns ErrForbidden unless p may perform a.
func Check(p Principal, a Action) error {
	if !Can(p.Role, a) {
		return fmt.Errorf("%w: %s", ErrForbidden, a)
	}
	return nil
}

// Person fields, as named in events, the API and field permissions.
const (
	FieldCode        = "code"
	FieldGivenNames  = "given_names"
	FieldSurname1    = "surname1"
	FieldSurname2    = "surname2"
	FieldSex         = "sex"
	FieldBirthDate   = "birth_date"
	FieldAge         = "age" // derived from birth_date: shown to roles that may not see the date
	FieldNationality = "nationality"
	FieldOriginTown  = "origin_town"
	FieldPhone       = "phone"
	FieldNotes       = "notes"
	FieldFlags       = "flags"
)

// Vulnerability flags.
const (
	FlagUnaccompanied = "unaccompanied_child"
	FlagSeparated     = "separated_child"
	FlagPregnant      = "pregnant"
	FlagDisability    = "disability"
	FlagElderly       = "elderly"
	FlagMedical       = "medical"
)

// Flags lists every vulnerability flag in display order.
var Flags = []string{FlagUnaccompanied, FlagSeparated, FlagPregnant, FlagDisability, FlagElderly, FlagMedical}

// AllFields lists every person field name.
var AllFields = []string{FieldCode, FieldGivenNames, FieldSurname1, FieldSurname2, FieldSex, FieldBirthDate,
	FieldAge, FieldNationality, FieldOriginTown, FieldPhone, FieldNotes, FieldFlags}

var all = map[string]bool{FieldCode: true, FieldGivenNames: true, FieldSurname1: true, FieldSurname2: true,
	FieldSex: true, FieldBirthDate: true, FieldAge: true, FieldNationality: true, FieldOriginTown: true,
	FieldPhone: true, FieldNotes: true, FieldFlags: true}

// Who sees which field: the minimum each role needs (DESIGN.md section 2).
// A volunteer at a desk needs to recognise a person and their family, not
// their phone, exact birth date or health; medics need health, not origin.
var fields = map[Role]map[string]bool{
	Coordinator: all,
	Volunteer: {FieldCode: true, FieldGivenNames: true, FieldSurname1: true, FieldSurname2: true,
		FieldSex: true, FieldAge: true, FieldNationality: true, FieldFlags: true},
	Legal: {FieldCode: true, FieldGivenNames: true, FieldSurname1: true, FieldSurname2: true,
		FieldSex: true, FieldBirthDate: true, FieldAge: true, FieldNationality: true, FieldOriginTown: true,
		FieldPhone: true, FieldNotes: true, FieldFlags: true},
	Medic: {FieldCode: true, FieldGivenNames: true, FieldSurname1: true, FieldSurname2: true,
		FieldSex: true, FieldBirthDate: true, FieldAge: true, FieldFlags: true, FieldNotes: true},
}

// Which vulnerability flags each role sees. Child-protection flags go to
// everyone who meets children at a desk; health stays with medics.
var flags = map[Role]map[string]bool{
	Coordinator: {FlagUnaccompanied: true, FlagSeparated: true, FlagPregnant: true, FlagDisability: true, FlagElderly: true, FlagMedical: true},
	Volunteer:   {FlagUnaccompanied: true, FlagSeparated: true, FlagElderly: true, FlagDisability: true},
	Legal:       {FlagUnaccompanied: true, FlagSeparated: true, FlagPregnant: true, FlagDisability: true, FlagElderly: true},
	Medic:       {FlagUnaccompanied: true, FlagSeparated: true, FlagPregnant: true, FlagDisability: true, FlagElderly: true, FlagMedical: true},
}

// CanSee reports whether role r may see a person field.
func CanSee(r Role, field string) bool { return fields[r][field] }

// CanSeeFlag reports whether role r may see a vulnerability flag.
func CanSeeFlag(r Role, flag string) bool { return fields[r][FieldFlags] && flags[r][flag] }

// CanWrite reports whether role r may set a field: what you may not see,
// you may not change (it would let you probe it).
func CanWrite(r Role, field string) bool {
	if field == FieldAge || field == FieldCode {
		return false
	}
	return CanSee(r, field)
}
