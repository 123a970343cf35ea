package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

type householdsData struct {
	Households []registry.HouseholdSummary
	Pager      pager
}

func (s *Server) householdList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	page := pageNum(r)
	hs, total, err := s.n.Registry.ListHouseholds(r.Context(), c.p, (page-1)*perPage, perPage)
	if err != nil {
		return err
	}
	d := householdsData{Households: hs, Pager: newPager(page, perPage, total)}
	return s.render(w, r, http.StatusOK, "households", s.newView(r, c, "households.title", "households", d))
}

// memberRow is one member line of the new-household form.
type memberRow struct {
	Code, Role string
}

type householdForm struct {
	Label, Kind string
	Rows        []memberRow
	Kinds       []string
	Roles       []string
}

// formRows is how many member lines the new-household form offers; more
// members are added from the household page.
const formRows = 6

func newHouseholdForm() householdForm {
	f := householdForm{Kind: "family", Kinds: registry.HouseholdKinds, Roles: registry.HouseholdRoles}
	f.Rows = make([]memberRow, formRows)
	f.Rows[0].Role = "head"
	return f
}

func (s *Server) householdNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "household_form", s.newView(r, c, "household.new", "households", newHouseholdForm()))
}

// householdCreate resolves each typed card code, then creates the
// household. Every row's problem is reported at once and nothing is saved.
func (s *Server) householdCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	f := newHouseholdForm()
	f.Label, f.Kind = r.PostForm.Get("label"), r.PostForm.Get("kind")
	codes, roles := r.PostForm["code"], r.PostForm["role"]
	for i := range f.Rows {
		f.Rows[i] = memberRow{}
		if i < len(codes) {
			f.Rows[i].Code = strings.TrimSpace(codes[i])
		}
		if i < len(roles) {
			f.Rows[i].Role = roles[i]
		}
	}
	in := registry.HouseholdInput{Label: f.Label, Kind: f.Kind}
	var fes registry.ValidationError
	var rowOf []int // domain member index -> form row
	for i, row := range f.Rows {
		if row.Code == "" {
			continue
		}
		field := fmt.Sprintf("members[%d].code", i)
		id, err := s.personByCode(r.Context(), c, field, row.Code)
		if he := (*httpError)(nil); errors.As(err, &he) && he.status == http.StatusBadRequest {
			fes = append(fes, he.fields...)
			continue
		}
		if err != nil {
			return err
		}
		in.Members = append(in.Members, registry.Member{Person: id, Role: row.Role})
		rowOf = append(rowOf, i)
	}
	var h registry.Household
	var err error
	if len(fes) == 0 {
		h, err = s.n.Registry.CreateHousehold(r.Context(), c.p, in)
		if errors.As(err, &fes) {
			fes = renumber(fes, rowOf)
		}
	}
	if len(fes) > 0 {
		v := s.newView(r, c, "household.new", "households", f)
		v.Errors = fieldErrors(c, fes)
		return s.render(w, r, http.StatusBadRequest, "household_form", v)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/households/"+h.ID)
}

type householdView struct {
	H     registry.Household
	Roles []string
	Code  string // the add-member form's input, kept on error
	Role  string
}

func (s *Server) showHousehold(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, d householdView, errs map[string]string) error {
	h, err := s.n.Registry.GetHousehold(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.H, d.Roles = h, registry.HouseholdRoles
	v := s.newView(r, c, "household.title", "households", d)
	v.Errors = errs
	return s.render(w, r, status, "household", v)
}

func (s *Server) householdShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.showHousehold(w, r, c, http.StatusOK, householdView{Role: "child"}, nil)
}

func (s *Server) memberAdd(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	hid := r.PathValue("id")
	code, role := strings.TrimSpace(r.PostForm.Get("code")), r.PostForm.Get("role")
	id, err := s.personByCode(r.Context(), c, "code", code)
	if err == nil {
		_, err = s.n.Registry.AddMember(r.Context(), c.p, hid, registry.Member{Person: id, Role: role})
	}
	if err != nil {
		he := classify(err)
		if he.status != http.StatusBadRequest {
			return err
		}
		// The registry names the one member "members[0]"; the form has
		// plain role and code boxes.
		for i := range he.fields {
			f := strings.TrimPrefix(he.fields[i].Field, "members[0].")
			if f == "person" {
				f = "code"
			}
			he.fields[i].Field = f
		}
		return s.showHousehold(w, r, c, http.StatusBadRequest, householdView{Code: code, Role: role}, fieldErrors(c, he.fields))
	}
	return redirect(w, r, "/households/"+hid)
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	hid := r.PathValue("id")
	if _, err := s.n.Registry.RemoveMember(r.Context(), c.p, hid, r.PathValue("person")); err != nil {
		return err
	}
	return redirect(w, r, "/households/"+hid)
}

// renumber maps the registry's members[k] errors back to the form rows the
// members came from, and names the code box for person errors.
func renumber(fes registry.ValidationError, rowOf []int) registry.ValidationError {
	out := make(registry.ValidationError, len(fes))
	for i, fe := range fes {
		var k int
		var rest string
		if n, _ := fmt.Sscanf(fe.Field, "members[%d]%s", &k, &rest); n == 2 && k >= 0 && k < len(rowOf) {
			if rest == ".person" {
				rest = ".code"
			}
			fe.Field = fmt.Sprintf("members[%d]%s", rowOf[k], rest)
		}
		out[i] = fe
	}
	return out
}
