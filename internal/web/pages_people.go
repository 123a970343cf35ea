package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

const perPage = 50

type peopleData struct {
	People []registry.Person
	Pager  pager
	Query  string
	Search bool // showing search results rather than the list
}

func (s *Server) peopleList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	page := pageNum(r)
	people, total, err := s.n.Registry.List(r.Context(), c.p, (page-1)*perPage, perPage)
	if err != nil {
		return err
	}
	d := peopleData{People: people, Pager: newPager(page, perPage, total)}
	return s.render(w, r, http.StatusOK, "people", s.newView(r, c, "people.title", "people", d))
}

// peopleSearch takes the query from a POST body: names must never travel
// in a URL (S4), where proxies, history and logs would keep them.
func (s *Server) peopleSearch(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := strings.TrimSpace(r.PostForm.Get("q"))
	d := peopleData{Query: q, Search: true}
	res, err := s.search(r.Context(), c, "q", q)
	var he *httpError
	if err != nil {
		he = classify(err)
		if he.status != http.StatusBadRequest {
			return err
		}
		v := s.newView(r, c, "people.title", "people", d)
		v.Errors = fieldErrors(c, he.fields)
		return s.render(w, r, http.StatusBadRequest, "people", v)
	}
	if res.ByCode && len(res.People) == 1 {
		return redirect(w, r, "/people/"+res.People[0].ID)
	}
	d.People = res.People
	v := s.newView(r, c, "people.title", "people", d)
	if len(res.People) == 0 {
		v.Flash = c.T("people.none")
	}
	return s.render(w, r, http.StatusOK, "people", v)
}

// personFields are the form fields in display order.
var personFields = []string{auth.FieldGivenNames, auth.FieldSurname1, auth.FieldSurname2, auth.FieldSex,
	auth.FieldBirthDate, auth.FieldNationality, auth.FieldOriginTown, auth.FieldPhone, auth.FieldNotes}

type personForm struct {
	ID       string
	New      bool
	In       registry.PersonInput
	Editable map[string]bool // fields shown on the form
	Flags    []string        // flag checkboxes offered
	Sexes    []string
	Kinds    []string
}

func (f personForm) Show(field string) bool { return f.Editable[field] }

func formInput(f url.Values) registry.PersonInput {
	return registry.PersonInput{
		GivenNames: f.Get(auth.FieldGivenNames), Surname1: f.Get(auth.FieldSurname1), Surname2: f.Get(auth.FieldSurname2),
		Sex: f.Get(auth.FieldSex), BirthDate: f.Get(auth.FieldBirthDate), Nationality: f.Get(auth.FieldNationality),
		OriginTown: f.Get(auth.FieldOriginTown), Phone: f.Get(auth.FieldPhone), Notes: f.Get(auth.FieldNotes),
		Flags: f["flags"],
		Consent: registry.Consent{Registration: f.Get("consent_registration") != "",
			Tracing: f.Get("consent_tracing") != "", Sharing: f.Get("consent_sharing") != ""},
	}
}

// newForm offers every field: the registration desk records what the
// person tells it, even fields its role will not read back later. It offers
// only the flags the role may see, the only ones it may set.
func newForm(r auth.Role) personForm {
	ed := map[string]bool{auth.FieldFlags: true}
	for _, f := range personFields {
		ed[f] = true
	}
	return personForm{New: true, Editable: ed, Flags: visibleFlags(r), Sexes: registry.Sexes}
}

// visibleFlags lists the flags role r may see, in display order.
func visibleFlags(r auth.Role) []string {
	var out []string
	for _, f := range auth.Flags {
		if auth.CanSeeFlag(r, f) {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) personNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonRegister); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "person_form", s.newView(r, c, "person.new", "people", newForm(c.p.Role)))
}

func (s *Server) personCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonRegister); err != nil {
		return err
	}
	f := newForm(c.p.Role)
	f.In = formInput(r.PostForm)
	p, err := s.n.Registry.Register(r.Context(), c.p, f.In)
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		v := s.newView(r, c, "person.new", "people", f)
		v.Errors = fieldErrors(c, ve)
		return s.render(w, r, http.StatusBadRequest, "person_form", v)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/people/"+p.ID)
}

type fieldRow struct {
	Label  string
	Value  string
	Hidden bool
	// Partial: the role sees some values of this field and not others
	// (the flags), whatever this person's are.
	Partial bool
}

type personView struct {
	P          registry.Person
	Rows       []fieldRow
	Households []registry.HouseholdSummary
}

// rows lays out what the role may see; hidden fields say so rather than
// vanish, so staff know to ask someone else instead of re-asking the person.
func personRows(c *reqCtx, p registry.Person) []fieldRow {
	hidden := func(f string) bool { return slices.Contains(p.Hidden, f) }
	val := map[string]string{
		auth.FieldGivenNames: p.GivenNames, auth.FieldSurname1: p.Surname1, auth.FieldSurname2: p.Surname2,
		auth.FieldSex: label(c, "sex.", p.Sex), auth.FieldBirthDate: p.BirthDate,
		auth.FieldNationality: label(c, "country.", p.Nationality), auth.FieldOriginTown: p.OriginTown,
		auth.FieldPhone: p.Phone, auth.FieldNotes: p.Notes,
	}
	if p.Sex == "" {
		val[auth.FieldSex] = ""
	}
	var rows []fieldRow
	for _, f := range personFields {
		row := fieldRow{Label: c.T("field." + f), Value: val[f], Hidden: hidden(f)}
		rows = append(rows, row)
		if f == auth.FieldBirthDate && p.Age != nil {
			rows = append(rows, fieldRow{Label: c.T("field.age"),
				Value: c.T("person.age_value", *p.Age, registry.AgeBand(*p.Age, true))})
		}
	}
	flags := make([]string, len(p.Flags))
	for i, f := range p.Flags {
		flags[i] = c.T("flag." + f)
	}
	// Every person's flags row reads the same for a role that may not see
	// every flag, flagged or not: what it shows must not depend on what it
	// hides (S6).
	rows = append(rows, fieldRow{Label: c.T("field.flags"), Value: strings.Join(flags, ", "), Partial: hidden(auth.FieldFlags)})
	return rows
}

func (s *Server) personShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := s.n.Registry.Get(r.Context(), c.p, r.PathValue("id"), "view")
	if err != nil {
		return err
	}
	d := personView{P: p, Rows: personRows(c, p)}
	if len(p.Households) > 0 && auth.Can(c.p.Role, auth.HouseholdRead) {
		if d.Households, err = s.n.Registry.HouseholdLabels(r.Context(), c.p, p.Households, "person "+p.ID); err != nil {
			return err
		}
	}
	return s.render(w, r, http.StatusOK, "person", s.newView(r, c, "person.title", "people", d))
}

// editForm offers only the fields the role may change (auth.CanWrite).
func editForm(c *reqCtx, p registry.Person) personForm {
	ed := map[string]bool{}
	for _, f := range append(slices.Clone(personFields), auth.FieldFlags) {
		ed[f] = auth.CanWrite(c.p.Role, f)
	}
	flags := visibleFlags(c.p.Role)
	in := registry.PersonInput{GivenNames: p.GivenNames, Surname1: p.Surname1, Surname2: p.Surname2, Sex: p.Sex,
		BirthDate: p.BirthDate, Nationality: p.Nationality, OriginTown: p.OriginTown, Phone: p.Phone,
		Notes: p.Notes, Flags: p.Flags, Consent: p.Consent}
	return personForm{ID: p.ID, In: in, Editable: ed, Flags: flags, Sexes: registry.Sexes}
}

func (s *Server) personEdit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonUpdate); err != nil {
		return err
	}
	p, err := s.n.Registry.Get(r.Context(), c.p, r.PathValue("id"), "edit")
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "person_form", s.newView(r, c, "person.edit", "people", editForm(c, p)))
}

// personUpdate patches only what changed, so a stale form cannot undo
// someone else's edit of a field this user did not touch.
func (s *Server) personUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonUpdate); err != nil {
		return err
	}
	cur, err := s.n.Registry.Get(r.Context(), c.p, r.PathValue("id"), "edit")
	if err != nil {
		return err
	}
	f := editForm(c, cur)
	in := formInput(r.PostForm)
	old := f.In
	patch := registry.Patch{Fields: map[string]string{}}
	pairs := map[string][2]string{
		auth.FieldGivenNames: {old.GivenNames, in.GivenNames}, auth.FieldSurname1: {old.Surname1, in.Surname1},
		auth.FieldSurname2: {old.Surname2, in.Surname2}, auth.FieldSex: {old.Sex, in.Sex},
		auth.FieldBirthDate: {old.BirthDate, in.BirthDate}, auth.FieldNationality: {old.Nationality, in.Nationality},
		auth.FieldOriginTown: {old.OriginTown, in.OriginTown}, auth.FieldPhone: {old.Phone, in.Phone},
		auth.FieldNotes: {old.Notes, in.Notes},
	}
	for field, pr := range pairs {
		if f.Editable[field] && strings.TrimSpace(pr[0]) != strings.TrimSpace(pr[1]) {
			patch.Fields[field] = pr[1]
		}
	}
	if f.Editable[auth.FieldFlags] {
		got := slices.Sorted(slices.Values(in.Flags))
		if !slices.Equal(got, slices.Sorted(slices.Values(old.Flags))) {
			patch.Flags = &got
		}
	}
	// Consent to registration itself is not withdrawn from this form: that
	// is an erasure request, handled elsewhere. Only the consents the form
	// changed are sent, so a stale form does not undo another change.
	if in.Consent.Tracing != old.Consent.Tracing {
		patch.ConsentKeys = &registry.ConsentPatch{Tracing: &in.Consent.Tracing}
	}
	if in.Consent.Sharing != old.Consent.Sharing {
		if patch.ConsentKeys == nil {
			patch.ConsentKeys = &registry.ConsentPatch{}
		}
		patch.ConsentKeys.Sharing = &in.Consent.Sharing
	}
	_, err = s.n.Registry.Update(r.Context(), c.p, cur.ID, patch)
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		in.Consent.Registration = old.Consent.Registration
		f.In = in
		v := s.newView(r, c, "person.edit", "people", f)
		v.Errors = fieldErrors(c, ve)
		return s.render(w, r, http.StatusBadRequest, "person_form", v)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/people/"+cur.ID)
}
