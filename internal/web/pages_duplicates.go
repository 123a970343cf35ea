package web

import (
	"errors"
	"net/http"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// The duplicates page: likely second registrations of one person, side by
// side, each pair with "different people" and, for coordinators, a merge
// either way.

const (
	// dupMin is the lowest probability the page lists a pair at.
	dupMin = 0.5
	// dupPerPage bounds the page: pairs are resolved from the top, and
	// each one resolved makes room for the next.
	dupPerPage = 25
)

// dupPerson is one side of a pair, with what the role may see.
type dupPerson struct {
	ID, Name, Code string
	Facts          []fieldRow
	Merged         string // merged into, if it already was
}

type dupPair struct {
	A, B  dupPerson
	Prob  float64
	Pct   int
	Lines []explainLine
}

// Sides lists A and B, for the template to lay out alike.
func (p dupPair) Sides() []dupPerson { return []dupPerson{p.A, p.B} }

type dupsView struct {
	Pairs []dupPair
	More  bool
}

func dupSide(c *reqCtx, p registry.Person) dupPerson {
	d := dupPerson{ID: p.ID, Name: p.FullName(), Code: p.Code, Merged: p.MergedInto}
	var age string
	if p.Age != nil {
		age = c.T("trace.years", *p.Age)
	}
	var sex, nat string
	if p.Sex != "" {
		sex = label(c, "sex.", p.Sex)
	}
	if p.Nationality != "" {
		nat = label(c, "country.", p.Nationality)
	}
	for _, f := range []struct{ key, val string }{
		{"field.sex", sex}, {"field.age", age}, {"field.birth_date", p.BirthDate}, {"field.nationality", nat},
		{"field.origin_town", p.OriginTown}, {"dup.registered", fmtTime(p.Registered)},
	} {
		if f.val != "" {
			d.Facts = append(d.Facts, fieldRow{Label: c.T(f.key), Value: f.val})
		}
	}
	return d
}

func (s *Server) duplicatesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderDuplicates(w, r, c, http.StatusOK, doneFlash(c, r, "dup.done."))
}

func (s *Server) renderDuplicates(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, flash string) error {
	if err := auth.Check(c.p, auth.DuplicatesRead); err != nil {
		return err
	}
	// One more than shown says whether more wait behind these.
	dups, err := s.n.Tracing.Duplicates(r.Context(), c.p, dupMin, dupPerPage+1)
	if err != nil {
		return err
	}
	var v dupsView
	if len(dups) > dupPerPage {
		dups, v.More = dups[:dupPerPage], true
	}
	for _, d := range dups {
		v.Pairs = append(v.Pairs, dupPair{A: dupSide(c, d.A), B: dupSide(c, d.B), Prob: d.Probability,
			Pct: percent(d.Probability), Lines: explain(c, d.Fields)})
	}
	view := s.newView(r, c, "dup.title", "tracing", v)
	view.Flash = flash
	return s.render(w, r, status, "duplicates", view)
}

// dupAction runs a button of the duplicates page and goes back to it. A
// refused choice (a person already merged) shows the page with a message.
func (s *Server) dupAction(w http.ResponseWriter, r *http.Request, c *reqCtx, action auth.Action, done string, do func() error) error {
	if err := auth.Check(c.p, action); err != nil {
		return err
	}
	err := do()
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		msg := c.T("form.has_errors")
		for _, fe := range ve {
			if k := "dup.err." + fe.Code; c.cat.Has(k) {
				msg = c.T(k)
			}
		}
		return s.renderDuplicates(w, r, c, http.StatusBadRequest, msg)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/duplicates?done="+done)
}

func (s *Server) duplicatesDistinct(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	return s.dupAction(w, r, c, auth.DuplicatesRead, "distinct", func() error {
		return s.n.Tracing.Distinct(r.Context(), c.p, strings.TrimSpace(f.Get("a")), strings.TrimSpace(f.Get("b")))
	})
}

func (s *Server) duplicatesMerge(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	return s.dupAction(w, r, c, auth.PersonMerge, "merged", func() error {
		return s.n.Tracing.Merge(r.Context(), c.p, strings.TrimSpace(f.Get("keep")), strings.TrimSpace(f.Get("duplicate")))
	})
}
