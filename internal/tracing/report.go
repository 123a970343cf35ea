package tracing

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"caravana/internal/registry"
)

// Report fields, as named in events, the API and forms.
const (
	FieldGivenNames      = "given_names"
	FieldSurnames        = "surnames"
	FieldSex             = "sex"
	FieldAge             = "age"
	FieldBirthDate       = "birth_date"
	FieldNationality     = "nationality"
	FieldOriginTown      = "origin_town"
	FieldLastSeenPlace   = "last_seen_place"
	FieldLastSeenDate    = "last_seen_date"
	FieldRelation        = "relation"
	FieldReporterName    = "reporter_name"
	FieldReporterContact = "reporter_contact"
	FieldNotes           = "notes"
)

// Relations are what the reporter is to the missing person.
var Relations = []string{"parent", "child", "sibling", "spouse", "grandparent", "grandchild", "relative", "friend", "other"}

// ReportInput is what a relative tells about a missing person: whatever
// they know, often a nickname, one surname, an approximate age.
type ReportInput struct {
	GivenNames  string `json:"given_names"` // one or more, or a nickname
	Surnames    string `json:"surnames"`    // one or both, any order
	Sex         string `json:"sex"`         // F, M, X or ""
	Age         *int   `json:"age,omitempty"`
	BirthDate   string `json:"birth_date"` // YYYY-MM-DD, if known
	Nationality string `json:"nationality"`
	OriginTown  string `json:"origin_town"`
	// Where and when the reporter last saw them.
	LastSeenPlace string `json:"last_seen_place"`
	LastSeenDate  string `json:"last_seen_date"` // YYYY-MM-DD
	// Relation is what the reporter is to the missing person (Relations).
	Relation        string `json:"relation"`
	ReporterName    string `json:"reporter_name"`
	ReporterContact string `json:"reporter_contact"`
	// ReporterCode is the reporter's card code, if they are registered.
	ReporterCode string `json:"reporter_code,omitempty"`
	Notes        string `json:"notes"`
}

// normalize trims and checks in, reporting every problem at once.
func (in *ReportInput) normalize(now time.Time) registry.ValidationError {
	var v registry.ValidationError
	for _, f := range []*string{&in.GivenNames, &in.Surnames, &in.Sex, &in.BirthDate, &in.Nationality, &in.OriginTown,
		&in.LastSeenPlace, &in.LastSeenDate, &in.Relation, &in.ReporterName, &in.ReporterContact, &in.ReporterCode, &in.Notes} {
		*f = strings.Join(strings.Fields(*f), " ")
	}
	in.Sex = strings.ToUpper(in.Sex)
	in.Nationality = strings.ToUpper(in.Nationality)
	registry.CheckText(&v, FieldGivenNames, in.GivenNames, false, 100)
	registry.CheckText(&v, FieldSurnames, in.Surnames, false, 100)
	if in.GivenNames == "" && in.Surnames == "" {
		v.Add(FieldGivenNames, "required", "give at least a name or a surname")
	}
	if in.Sex != "" && !slices.Contains(registry.Sexes, in.Sex) {
		v.Add(FieldSex, "invalid", "must be F, M or X")
	}
	if in.Age != nil && (*in.Age < 0 || *in.Age > 120) {
		v.Add(FieldAge, "invalid", "must be between 0 and 120")
	}
	checkDate(&v, FieldBirthDate, in.BirthDate, now)
	checkDate(&v, FieldLastSeenDate, in.LastSeenDate, now)
	if in.Nationality != "" && (len(in.Nationality) != 2 || strings.IndexFunc(in.Nationality, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0) {
		v.Add(FieldNationality, "invalid", "must be a two-letter country code")
	}
	registry.CheckText(&v, FieldOriginTown, in.OriginTown, false, 100)
	registry.CheckText(&v, FieldLastSeenPlace, in.LastSeenPlace, false, 200)
	if in.Relation != "" && !slices.Contains(Relations, in.Relation) {
		v.Add(FieldRelation, "invalid", "must be one of %s", strings.Join(Relations, ", "))
	}
	registry.CheckText(&v, FieldReporterName, in.ReporterName, false, 100)
	registry.CheckText(&v, FieldReporterContact, in.ReporterContact, false, 100)
	registry.CheckText(&v, FieldNotes, in.Notes, false, 1000)
	return v
}

func checkDate(v *registry.ValidationError, field, s string, now time.Time) {
	if s == "" {
		return
	}
	d, err := time.Parse(time.DateOnly, s)
	switch {
	case err != nil:
		v.Add(field, "invalid", "must be a date as YYYY-MM-DD")
	case d.After(now):
		v.Add(field, "future", "is in the future")
	case d.Year() < now.Year()-120:
		v.Add(field, "invalid", "is too long ago")
	}
}

// fields lists the values to seal, by field name (empty ones left out).
func (in *ReportInput) fields() map[string]string {
	m := map[string]string{
		FieldGivenNames: in.GivenNames, FieldSurnames: in.Surnames, FieldSex: in.Sex, FieldBirthDate: in.BirthDate,
		FieldNationality: in.Nationality, FieldOriginTown: in.OriginTown, FieldLastSeenPlace: in.LastSeenPlace,
		FieldLastSeenDate: in.LastSeenDate, FieldRelation: in.Relation, FieldReporterName: in.ReporterName,
		FieldReporterContact: in.ReporterContact, FieldNotes: in.Notes,
	}
	if in.Age != nil {
		m[FieldAge] = strconv.Itoa(*in.Age)
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// Report is a missing-person report as shown to staff allowed to read it.
type Report struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	ReportInput
	// Reporter is the registered reporter's person id, if any.
	Reporter   string    `json:"reporter,omitempty"`
	Reported   time.Time `json:"reported"`
	ReportedBy string    `json:"reported_by"`
	// Outcome, Match and Closed describe the closing decision: the
	// earliest, when two nodes decided differently (then Conflict is set).
	Outcome  string    `json:"outcome,omitempty"` // reunited, located, withdrawn
	Reason   string    `json:"reason,omitempty"`  // why it was withdrawn (WithdrawReasons)
	Match    string    `json:"match,omitempty"`   // the person found
	Closed   time.Time `json:"closed,omitzero"`
	ClosedBy string    `json:"closed_by,omitempty"`
	Conflict bool      `json:"conflict,omitempty"`
	Rejected []string  `json:"rejected,omitempty"`
	Linked   []string  `json:"linked,omitempty"`
}

// Name is the missing person's name as reported.
func (r Report) Name() string {
	return strings.TrimSpace(r.GivenNames + " " + r.Surnames)
}
