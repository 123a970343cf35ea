package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
	"caravana/internal/replication"
	"caravana/internal/supply"
)

// The conflicts page: what two nodes did concurrently, every side kept,
// each with the way to settle it (choose a field's value, merge or mark
// two registrations different, review a report closed twice, disable the
// second account of a username). After a long offline stretch there may
// be thousands (an item given twice by two desks that could not see each
// other), so the page is paged and can be narrowed to one kind; each
// kind is explained once, where its first entry on the page is.

// conflictsPerPage bounds the page for a 2G phone (DESIGN.md section 6).
const conflictsPerPage = 20

// conflictKinds in the order replication.Conflicts lists them.
var conflictKinds = []string{replication.ConflictField, replication.ConflictDuplicate, replication.ConflictReport,
	replication.ConflictDistribution, replication.ConflictUsername}

type conflictSide struct {
	Value, Node, At, Ref, ID string
	// What is a distribution's "15 L de Agua" or a report decision's
	// outcome, in the reader's language; Stage the stage's name.
	What, Stage string
}

type conflictRow struct {
	Kind, Subject, ID, Field string
	Pct                      int
	Sides                    []conflictSide
	// Title heads the first row of its kind on the page, with the kind's
	// explanation; later rows of the kind leave both out.
	Title string
}

// conflictKindCount is one kind's total, a link narrowing the list to it.
type conflictKindCount struct {
	Kind, Title, URL string
	N                int
	Current          bool
}

type conflictsView struct {
	Rows        []conflictRow
	Kinds       []conflictKindCount
	Kind        string // the kind chosen ("" = all)
	AllURL      string
	Total       int // conflicts in the list chosen
	Page, Pages int
	Prev, Next  string
}

// conflictKindTitle names a kind of conflict in the reader's language.
func conflictKindTitle(c *reqCtx, kind string) string {
	switch kind {
	case replication.ConflictField:
		return c.T("conflict.kind.field")
	case replication.ConflictDuplicate:
		return c.T("conflict.kind.duplicate")
	case replication.ConflictReport:
		return c.T("conflict.kind.report")
	case replication.ConflictDistribution:
		return c.T("conflict.kind.distribution")
	case replication.ConflictUsername:
		return c.T("conflict.kind.username")
	}
	return kind
}

// traceOutcome words a report's closing decision.
func traceOutcome(c *reqCtx, outcome string) string {
	switch outcome {
	case "reunited":
		return c.T("trace.outcome.reunited")
	case "located":
		return c.T("trace.outcome.located")
	case "withdrawn":
		return c.T("trace.outcome.withdrawn")
	}
	return outcome
}

// kindPageURL is a listing's address at path, filtered by kind (none: all)
// and at page (1: the first), as its pager and filter links write it.
func kindPageURL(path, kind string, page int) string {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func (s *Server) conflictsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderConflicts(w, r, c, http.StatusOK, doneFlash(c, r, "conflict.done."))
}

// conflictNames reads what turns the ids of a conflict into words: item
// names and units, stage names and node names. None of it is personal.
func (s *Server) conflictNames(r *http.Request, c *reqCtx) (map[string]supply.Item, journey.Route, map[string]string, error) {
	items := map[string]supply.Item{}
	if auth.Can(c.p.Role, auth.SupplyRead) {
		list, err := s.n.Supply.Items(r.Context(), c.p)
		if err != nil {
			return nil, journey.Route{}, nil, err
		}
		for _, it := range list {
			items[it.ID] = it
		}
	}
	var route journey.Route
	if auth.Can(c.p.Role, auth.JourneyRead) {
		var err error
		if route, err = s.n.Journey.Route(r.Context(), c.p); err != nil {
			return nil, journey.Route{}, nil, err
		}
	}
	nodes, err := s.n.Ledger.NodeList(r.Context())
	if err != nil {
		return nil, journey.Route{}, nil, err
	}
	names := map[string]string{}
	for _, n := range nodes {
		if n.Name != "" {
			names[n.ID] = n.Name
		}
	}
	return items, route, names, nil
}

// renderConflicts lists the conflicts: the kind chosen (?kind=, or the
// form's own after a refused button) and the page asked for.
func (s *Server) renderConflicts(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, flash string) error {
	cs, err := replication.Conflicts(r.Context(), s.n, c.p)
	if err != nil {
		return err
	}
	items, route, nodes, err := s.conflictNames(r, c)
	if err != nil {
		return err
	}
	var v conflictsView
	for _, k := range []string{r.URL.Query().Get("kind"), r.PostForm.Get("kind")} {
		if slices.Contains(conflictKinds, k) {
			v.Kind = k
		}
	}
	counts := map[string]int{}
	var chosen []replication.Conflict
	for _, cf := range cs {
		counts[cf.Kind]++
		if v.Kind == "" || cf.Kind == v.Kind {
			chosen = append(chosen, cf)
		}
	}
	for _, k := range conflictKinds {
		if counts[k] > 0 {
			v.Kinds = append(v.Kinds, conflictKindCount{Kind: k, Title: conflictKindTitle(c, k), URL: kindPageURL("/conflicts", k, 1), N: counts[k],
				Current: k == v.Kind})
		}
	}
	v.AllURL = kindPageURL("/conflicts", "", 1)
	v.Total = len(chosen)
	v.Pages = max(1, (len(chosen)+conflictsPerPage-1)/conflictsPerPage)
	v.Page = min(pageNum(r), v.Pages)
	if v.Page > 1 {
		v.Prev = kindPageURL("/conflicts", v.Kind, v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = kindPageURL("/conflicts", v.Kind, v.Page+1)
	}
	from := (v.Page - 1) * conflictsPerPage
	prevKind := ""
	for _, cf := range chosen[min(from, len(chosen)):min(from+conflictsPerPage, len(chosen))] {
		_, id, _ := strings.Cut(cf.Subject, "/")
		row := conflictRow{Kind: cf.Kind, Subject: cf.Subject, ID: id, Field: cf.Field, Pct: percent(cf.Probability)}
		if cf.Kind != prevKind {
			row.Title, prevKind = conflictKindTitle(c, cf.Kind), cf.Kind
		}
		for _, sd := range cf.Sides {
			cs := conflictSide{Value: sd.Value, Node: sd.Node, Ref: sd.Ref}
			if name := nodes[sd.Node]; name != "" {
				cs.Node = name
			}
			if !sd.At.IsZero() {
				cs.At = sd.At.UTC().Format("2006-01-02 15:04")
			}
			_, cs.ID, _ = strings.Cut(sd.Ref, "/")
			switch cf.Kind {
			case replication.ConflictDistribution:
				cs.What, cs.Stage = sd.Item, sd.Stage
				if it, ok := items[sd.Item]; ok {
					cs.What = it.Name(c.lang) + ": " + unitQty(c, it.Unit, sd.Qty)
				} else {
					cs.What = sd.Item + ": " + strconv.Itoa(sd.Qty)
				}
				if st, ok := route.Stage(sd.Stage); ok {
					cs.Stage = st.Name
				}
			case replication.ConflictReport:
				cs.What = traceOutcome(c, sd.Outcome)
			}
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
	// Back to the kind being worked through, if one was chosen.
	back := "/conflicts?done=" + done
	if k := r.PostForm.Get("kind"); slices.Contains(conflictKinds, k) {
		back += "&kind=" + k
	}
	return redirect(w, r, back)
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
