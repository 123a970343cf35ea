package web

import (
	"errors"
	"net/http"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/replication"
)

// The conflicts page: what two nodes did concurrently, every side kept,
// each with the way to settle it (choose a field's value, merge or mark
// two registrations different, review a report closed twice, disable the
// second account of a username).

type conflictSide struct {
	Value, Node, At, Ref, ID string
}

type conflictRow struct {
	Kind, Subject, ID, Field string
	Pct                      int
	Sides                    []conflictSide
}

type conflictsView struct {
	Rows []conflictRow
}

func (s *Server) conflictsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderConflicts(w, r, c, http.StatusOK, doneFlash(c, r, "conflict.done."))
}

func (s *Server) renderConflicts(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, flash string) error {
	cs, err := replication.Conflicts(r.Context(), s.n, c.p)
	if err != nil {
		return err
	}
	var v conflictsView
	for _, cf := range cs {
		_, id, _ := strings.Cut(cf.Subject, "/")
		row := conflictRow{Kind: cf.Kind, Subject: cf.Subject, ID: id, Field: cf.Field, Pct: percent(cf.Probability)}
		for _, sd := range cf.Sides {
			cs := conflictSide{Value: sd.Value, Node: sd.Node, Ref: sd.Ref}
			if !sd.At.IsZero() {
				cs.At = sd.At.UTC().Format("2006-01-02 15:04")
			}
			_, cs.ID, _ = strings.Cut(sd.Ref, "/")
			row.Sides = append(row.Sides, cs)
		}
		v.Rows = append(v.Rows, row)
	}
	view := s.newView(r, c, "conflict.title", "conflicts", v)
	view.Flash = flash
	return s.render(w, r, status, "conflicts", view)
}

// conflictAction runs a button of the conflicts page and goes back to it.
func (s *Server) conflictAction(w http.ResponseWriter, r *http.Request, c *reqCtx, action auth.Action, done string, do func() error) error {
	if err := auth.Check(c.p, action); err != nil {
		return err
	}
	err := do()
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		return s.renderConflicts(w, r, c, http.StatusBadRequest, c.T("form.has_errors"))
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/conflicts?done="+done)
}

func (s *Server) conflictResolve(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	return s.conflictAction(w, r, c, auth.ConflictResolve, "resolved", func() error {
		_, err := s.n.Registry.ResolveField(r.Context(), c.p, strings.TrimSpace(f.Get("person")),
			strings.TrimSpace(f.Get("field")), f.Get("value"))
		return err
	})
}

func (s *Server) conflictReview(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	if key := strings.TrimSpace(f.Get("distribution")); key != "" {
		return s.conflictAction(w, r, c, auth.ConflictResolve, "distribution", func() error {
			return s.n.Supply.Review(r.Context(), c.p, key, f.Get("outcome"), f.Get("note"))
		})
	}
	return s.conflictAction(w, r, c, auth.ConflictResolve, "reviewed", func() error {
		return s.n.Tracing.Review(r.Context(), c.p, strings.TrimSpace(f.Get("report")))
	})
}

func (s *Server) conflictDisableUser(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	return s.conflictAction(w, r, c, auth.UserManage, "disabled", func() error {
		id := strings.TrimSpace(f.Get("user"))
		if id == "" || strings.Contains(id, "/") {
			return registry.ValidationError{{Field: "user", Code: "required", Message: "name an account"}}
		}
		return s.n.Auth.Disable(r.Context(), c.p, "user/"+id)
	})
}
