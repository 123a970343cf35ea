package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// apiMember names a person by id or by card code.
type apiMember struct {
	Person string `json:"person,omitempty"`
	Code   string `json:"code,omitempty"`
	Role   string `json:"role"`
}

type apiHouseholdInput struct {
	Label   string      `json:"label"`
	Kind    string      `json:"kind"`
	Members []apiMember `json:"members"`
}

// resolve turns an apiMember into a registry member, looking its code up
// (within the look-up budget) when it has no person id.
func (s *Server) resolve(r *http.Request, c *reqCtx, prefix string, m apiMember) (registry.Member, error) {
	switch {
	case (m.Person == "") == (m.Code == ""):
		return registry.Member{}, invalid(registry.FieldError{Field: prefix + "person", Code: "one_of", Message: "send exactly one of person or code"})
	case m.Code != "":
		id, err := s.personByCode(r.Context(), c, prefix+"code", m.Code)
		return registry.Member{Person: id, Role: m.Role}, err
	}
	return registry.Member{Person: m.Person, Role: m.Role}, nil
}

type householdsPage struct {
	Households []registry.HouseholdSummary `json:"households"`
	Total      int                         `json:"total"`
	Offset     int                         `json:"offset"`
	Limit      int                         `json:"limit"`
}

func (s *Server) apiHouseholdList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdRead); err != nil {
		return err
	}
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	hs, total, err := s.n.Registry.ListHouseholds(r.Context(), c.p, offset, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, householdsPage{Households: nonNil(hs), Total: total, Offset: offset, Limit: limit})
	return nil
}

func (s *Server) apiHouseholdCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	var req apiHouseholdInput
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	in := registry.HouseholdInput{Label: req.Label, Kind: req.Kind}
	var fes []registry.FieldError
	for i, m := range req.Members {
		mem, err := s.resolve(r, c, fmt.Sprintf("members[%d].", i), m)
		if err != nil {
			he := classify(err)
			if he.status != http.StatusBadRequest {
				return err
			}
			fes = append(fes, he.fields...)
			continue
		}
		in.Members = append(in.Members, mem)
	}
	if len(fes) > 0 {
		return invalid(fes...)
	}
	h, err := s.n.Registry.CreateHousehold(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/households/"+h.ID)
	writeJSON(w, http.StatusCreated, h)
	return nil
}

func (s *Server) apiHouseholdGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	h, err := s.n.Registry.GetHousehold(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) apiMemberAdd(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	var req apiMember
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	m, err := s.resolve(r, c, "", req)
	if err != nil {
		return err
	}
	h, err := s.n.Registry.AddMember(r.Context(), c.p, r.PathValue("id"), m)
	if err != nil {
		return memberFields(err, req)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// memberFields renames the registry's field names for the one member it
// checked ("members[0].role") to this body's keys ("role"); the person,
// sent by card code, is the code.
func memberFields(err error, req apiMember) error {
	var ve registry.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := make(registry.ValidationError, len(ve))
	for i, fe := range ve {
		f := strings.TrimPrefix(fe.Field, "members[0]")
		f = strings.TrimPrefix(f, ".")
		switch {
		case f == "":
			f = "person"
			if req.Code != "" {
				f = "code"
			}
		case f == "person" && req.Code != "":
			f = "code"
		}
		fe.Field = f
		out[i] = fe
	}
	return out
}

func (s *Server) apiMemberRemove(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.HouseholdWrite); err != nil {
		return err
	}
	h, err := s.n.Registry.RemoveMember(r.Context(), c.p, r.PathValue("id"), r.PathValue("person"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}
