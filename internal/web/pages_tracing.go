package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// Family tracing pages: the list of reports, the report form, a report
// with its ranked candidates, and the decisions on them. Every read goes
// through the tracing service, which checks the role and audits it; ids
// are the only thing that travels in URLs and forms.

// tracingPerPage keeps the list small for a 2G phone.
const tracingPerPage = 30

// traceStatuses are the list's filters; the first is the default.
var traceStatuses = []string{tracing.StatusOpen, tracing.StatusClosed, "all"}

// tracingURL is the list's own address: a status and a page number only.
func tracingURL(status string, page int) string {
	q := url.Values{}
	if status != traceStatuses[0] {
		q.Set("status", status)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/tracing"
	}
	return "/tracing?" + q.Encode()
}

type traceRow struct {
	ID, Name, Meta, Reported, Outcome string
	Open, Conflict                    bool
	Best                              float64
	BestPct                           int
}

type traceListView struct {
	Status      string
	Statuses    []string
	Rows        []traceRow
	Total       int
	Page, Pages int
	Prev, Next  string
}

func (s *Server) tracingList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceRead); err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	if !slices.Contains(traceStatuses, status) {
		status = traceStatuses[0]
	}
	page := pageNum(r)
	list, total, err := s.n.Tracing.List(r.Context(), c.p, status, (page-1)*tracingPerPage, tracingPerPage)
	if err != nil {
		return err
	}
	v := traceListView{Status: status, Statuses: traceStatuses, Total: total, Page: page,
		Pages: max(1, (total+tracingPerPage-1)/tracingPerPage)}
	if page > 1 {
		v.Prev = tracingURL(status, page-1)
	}
	if page < v.Pages {
		v.Next = tracingURL(status, page+1)
	}
	for _, x := range list {
		row := traceRow{ID: x.ID, Name: x.Name(), Meta: reportMeta(c, &x.Report), Reported: fmtTime(x.Reported),
			Open: x.Status == tracing.StatusOpen, Conflict: x.Conflict, Best: x.Best, BestPct: percent(x.Best)}
		if !row.Open {
			row.Outcome = label(c, "trace.outcome.", x.Outcome)
		}
		v.Rows = append(v.Rows, row)
	}
	return s.render(w, r, http.StatusOK, "tracing", s.newView(r, c, "trace.title", "tracing", v))
}

// traceForm is the report form and what was typed into it.
type traceForm struct {
	In        tracing.ReportInput
	Age       string
	Sexes     []string
	Relations []string
}

func newTraceForm() traceForm {
	return traceForm{Sexes: registry.Sexes, Relations: tracing.Relations}
}

// traceInput reads the form. An age that is not a number becomes -1, so
// the service reports it with every other problem at once.
func traceInput(f url.Values) (tracing.ReportInput, string) {
	in := tracing.ReportInput{
		GivenNames: f.Get(tracing.FieldGivenNames), Surnames: f.Get(tracing.FieldSurnames), Sex: f.Get(tracing.FieldSex),
		BirthDate: f.Get(tracing.FieldBirthDate), Nationality: f.Get(tracing.FieldNationality),
		OriginTown: f.Get(tracing.FieldOriginTown), LastSeenPlace: f.Get(tracing.FieldLastSeenPlace),
		LastSeenDate: f.Get(tracing.FieldLastSeenDate), Relation: f.Get(tracing.FieldRelation),
		ReporterName: f.Get(tracing.FieldReporterName), ReporterContact: f.Get(tracing.FieldReporterContact),
		ReporterCode: f.Get("reporter_code"), Notes: f.Get(tracing.FieldNotes),
	}
	age := strings.TrimSpace(f.Get(tracing.FieldAge))
	if age != "" {
		a, err := strconv.Atoi(age)
		if err != nil {
			a = -1
		}
		in.Age = &a
	}
	return in, age
}

func (s *Server) tracingNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceReport); err != nil {
		return err
	}
	v := s.newView(r, c, "trace.new", "tracing", newTraceForm())
	v.Flash = doneFlash(c, r, "trace.done.")
	return s.render(w, r, http.StatusOK, "tracing_form", v)
}

// tracingCreate records a report. Whoever may read reports goes on to it
// and its candidates; whoever only takes reports down (a medic) gets the
// empty form back with a word that it was recorded.
func (s *Server) tracingCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceReport); err != nil {
		return err
	}
	f := newTraceForm()
	f.In, f.Age = traceInput(r.PostForm)
	if err := s.spendReporterCode(c, f.In.ReporterCode); err != nil {
		return err
	}
	rep, _, err := s.n.Tracing.Report(r.Context(), c.p, f.In)
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		v := s.newView(r, c, "trace.new", "tracing", f)
		v.Errors = fieldErrors(c, ve)
		for _, fe := range ve {
			if fe.Field == tracing.FieldGivenNames && fe.Code == "required" {
				v.Errors[fe.Field] = c.T("trace.need_name")
			}
		}
		return s.render(w, r, http.StatusBadRequest, "tracing_form", v)
	}
	if err != nil {
		return err
	}
	if !auth.Can(c.p.Role, auth.TraceRead) {
		return redirect(w, r, "/tracing/new?done=reported")
	}
	return redirect(w, r, "/tracing/"+rep.ID+"?done=reported")
}

// spendReporterCode takes one card-code look-up from the user's budget
// when a well-formed reporter code will be looked up (S9): the answer
// "no registered person holds this card" tells whether a code exists.
func (s *Server) spendReporterCode(c *reqCtx, code string) error {
	if code == "" {
		return nil
	}
	if _, err := cardcode.Parse(code); err != nil {
		return nil // refused by the service without a look-up
	}
	if ok, wait := s.codes.allow(c.p.UserID); !ok {
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited",
			msg: "too many card-code look-ups; wait a moment", retryAfter: wait}
	}
	return nil
}

// linkedReport is another report about the same missing person.
type linkedReport struct{ ID, Name string }

type reportView struct {
	R                  tracing.Report
	Rows               []fieldRow
	Open               bool
	Cands              []candView
	Outcome            string
	MatchName          string
	Linked             []linkedReport
	Reasons, Outcomes  []string
	Closed, ReportedAt string
}

func (s *Server) tracingShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderReport(w, r, c, r.PathValue("id"), http.StatusOK, doneFlash(c, r, "trace.done."))
}

// reportRows lays out what the relative told, leaving out what they did
// not know.
func reportRows(c *reqCtx, rep tracing.Report) []fieldRow {
	var age string
	if rep.Age != nil {
		age = c.T("trace.years", *rep.Age)
	}
	var rows []fieldRow
	for _, f := range []struct{ key, val string }{
		{"trace.given_names", rep.GivenNames}, {"trace.surnames", rep.Surnames}, {"field.sex", label(c, "sex.", rep.Sex)},
		{"trace.age", age}, {"field.birth_date", rep.BirthDate}, {"field.nationality", label(c, "country.", rep.Nationality)},
		{"field.origin_town", rep.OriginTown}, {"trace.last_seen_place", rep.LastSeenPlace},
		{"trace.last_seen_date", rep.LastSeenDate}, {"trace.relation", label(c, "relation.", rep.Relation)},
		{"trace.reporter_name", rep.ReporterName}, {"trace.reporter_contact", rep.ReporterContact},
		{"field.notes", rep.Notes},
	} {
		if f.val != "" {
			rows = append(rows, fieldRow{Label: c.T(f.key), Value: f.val})
		}
	}
	return rows
}

// renderReport shows a report: open, with its ranked candidates and the
// buttons to decide; closed, with its outcome and the person found.
func (s *Server) renderReport(w http.ResponseWriter, r *http.Request, c *reqCtx, id string, status int, flash string) error {
	ctx := r.Context()
	rep, err := s.n.Tracing.Get(ctx, c.p, id)
	if err != nil {
		return err
	}
	v := reportView{R: rep, Rows: reportRows(c, rep), Open: rep.Status == tracing.StatusOpen,
		Reasons: tracing.WithdrawReasons, Outcomes: tracing.Outcomes, ReportedAt: fmtTime(rep.Reported)}
	if v.Open {
		cands, err := s.n.Tracing.Matches(ctx, c.p, rep.ID, 10, tracing.DefaultMin)
		if err != nil {
			return err
		}
		v.Cands = candViews(c, cands)
	} else {
		v.Outcome, v.Closed = label(c, "trace.outcome.", rep.Outcome), fmtTime(rep.Closed)
		if rep.Match != "" {
			p, err := s.n.Registry.Get(ctx, c.p, rep.Match, "trace match")
			switch {
			case err == nil:
				v.MatchName = p.FullName()
			case !errors.Is(err, registry.ErrNotFound):
				return err
			}
		}
	}
	for _, lid := range rep.Linked {
		o, err := s.n.Tracing.Get(ctx, c.p, lid)
		if errors.Is(err, tracing.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		v.Linked = append(v.Linked, linkedReport{ID: o.ID, Name: o.Name()})
	}
	view := s.newView(r, c, "trace.report", "tracing", v)
	view.Flash = flash
	return s.render(w, r, status, "tracing_report", view)
}

// decide runs one of a report's buttons and goes back to the report with
// a word on what was done. A choice left out (no reason to withdraw) shows
// the report again with a message; a closed report says so (409).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, c *reqCtx, do func(id string) (tracing.Report, string, error)) error {
	if err := auth.Check(c.p, auth.TraceDecide); err != nil {
		return err
	}
	id := r.PathValue("id")
	rep, done, err := do(id)
	var ve registry.ValidationError
	switch {
	case errors.As(err, &ve):
		msg := c.T("form.has_errors")
		for _, fe := range ve {
			if k := "trace.choose_" + fe.Field; c.cat.Has(k) {
				msg = c.T(k)
			}
		}
		return s.renderReport(w, r, c, id, http.StatusBadRequest, msg)
	case errors.Is(err, tracing.ErrClosed):
		return s.renderReport(w, r, c, id, http.StatusConflict, c.T("error.closed"))
	case err != nil:
		return err
	}
	return redirect(w, r, "/tracing/"+rep.ID+"?done="+done)
}

func (s *Server) tracingConfirm(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.decide(w, r, c, func(id string) (tracing.Report, string, error) {
		cand := strings.TrimSpace(r.PostForm.Get("candidate"))
		rep, err := s.n.Tracing.Confirm(r.Context(), c.p, id, cand, r.PostForm.Get("outcome"))
		if strings.HasPrefix(cand, tracing.CandidateReport+"/") {
			return rep, "linked", err
		}
		return rep, "confirmed", err
	})
}

func (s *Server) tracingReject(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.decide(w, r, c, func(id string) (tracing.Report, string, error) {
		rep, err := s.n.Tracing.Reject(r.Context(), c.p, id, strings.TrimSpace(r.PostForm.Get("candidate")))
		return rep, "rejected", err
	})
}

func (s *Server) tracingWithdraw(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.decide(w, r, c, func(id string) (tracing.Report, string, error) {
		rep, err := s.n.Tracing.Withdraw(r.Context(), c.p, id, r.PostForm.Get("reason"))
		return rep, "withdrawn", err
	})
}
