package web

import (
	"net/http"
	"strconv"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

const (
	defaultLimit = 50
	maxLimit     = 200
)

// paging reads ?offset=&limit= for API lists.
func paging(r *http.Request) (offset, limit int, err error) {
	q := r.URL.Query()
	offset, limit = 0, defaultLimit
	var fes []registry.FieldError
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			fes = append(fes, registry.FieldError{Field: "offset", Code: "invalid", Message: "must be a whole number, 0 or more"})
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLimit {
			fes = append(fes, registry.FieldError{Field: "limit", Code: "invalid", Message: "must be 1 to " + strconv.Itoa(maxLimit)})
		}
	}
	if len(fes) > 0 {
		return 0, 0, invalid(fes...)
	}
	return offset, limit, nil
}

type peoplePage struct {
	People []registry.Person `json:"people"`
	Total  int               `json:"total"`
	Offset int               `json:"offset"`
	Limit  int               `json:"limit"`
}

func (s *Server) apiPeopleList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonRead); err != nil {
		return err
	}
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	people, total, err := s.n.Registry.List(r.Context(), c.p, offset, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, peoplePage{People: nonNil(people), Total: total, Offset: offset, Limit: limit})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) apiPersonCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	// Check the role before reading the body, so a role that may not
	// register learns nothing from validation errors.
	if err := auth.Check(c.p, auth.PersonRegister); err != nil {
		return err
	}
	var in registry.PersonInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	p, err := s.n.Registry.Register(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/people/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) apiPersonGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := s.n.Registry.Get(r.Context(), c.p, r.PathValue("id"), "api")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) apiPersonPatch(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonUpdate); err != nil {
		return err
	}
	var patch registry.Patch
	if err := decodeJSON(r, &patch); err != nil {
		return err
	}
	p, err := s.n.Registry.Update(r.Context(), c.p, r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

type searchRequest struct {
	Q    string `json:"q,omitempty"`
	Code string `json:"code,omitempty"`
}

type searchResponse struct {
	People []registry.Person `json:"people"`
	ByCode bool              `json:"by_code"`
}

// apiPeopleSearch takes the query in the body: names and codes never go in
// URLs (S4). "code" is strict (a malformed code is an error); "q" is the
// search box: a code if it reads as one, else a name.
func (s *Server) apiPeopleSearch(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonRead); err != nil {
		return err
	}
	var req searchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Q, req.Code = strings.TrimSpace(req.Q), strings.TrimSpace(req.Code)
	if (req.Q == "") == (req.Code == "") {
		return invalid(registry.FieldError{Field: "q", Code: "one_of", Message: "send exactly one of q or code"})
	}
	var res searchResult
	if req.Code != "" {
		canon, err := parseCode("code", req.Code)
		if err != nil {
			return err
		}
		p, err := s.byCode(r.Context(), c, canon)
		switch {
		case err == nil:
			res.People = []registry.Person{p}
		case classify(err) != errNotFound:
			return err
		}
		res.ByCode = true
	} else {
		var err error
		if res, err = s.search(r.Context(), c, "q", req.Q); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, searchResponse{People: nonNil(res.People), ByCode: res.ByCode})
	return nil
}

func (s *Server) apiCardReissue(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := checkCard(c); err != nil {
		return err
	}
	p, err := s.n.Registry.ReissueCard(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
