package web

import (
	"net/http"
	"strconv"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// The tracing JSON API: missing-person reports, their candidates and the
// decisions on them, and likely duplicate registrations. The service
// checks every role again and audits every read; the handlers check first
// so a role that may not act learns nothing from validation errors.

type reportCreated struct {
	Report     tracing.Report `json:"report"`
	Candidates []apiCandidate `json:"candidates"`
}

type reportsPage struct {
	Reports []tracing.ReportSummary `json:"reports"`
	Total   int                     `json:"total"`
	Offset  int                     `json:"offset"`
	Limit   int                     `json:"limit"`
}

type candidatesResponse struct {
	Candidates []apiCandidate `json:"candidates"`
}

type confirmRequest struct {
	Candidate string `json:"candidate"`
	Outcome   string `json:"outcome,omitempty"`
}

type rejectRequest struct {
	Candidate string `json:"candidate"`
}

type withdrawRequest struct {
	Reason string `json:"reason"`
}

type duplicatesResponse struct {
	Duplicates []apiDuplicate `json:"duplicates"`
}

type distinctRequest struct {
	A string `json:"a"`
	B string `json:"b"`
}

type distinctResponse struct {
	A        string `json:"a"`
	B        string `json:"b"`
	Distinct bool   `json:"distinct"`
}

type mergeRequest struct {
	Duplicate string `json:"duplicate"`
}

type mergeResponse struct {
	Keep      string `json:"keep"`
	Duplicate string `json:"duplicate"`
}

// apiReportCreate records a report and answers with its candidates, ranked
// (none for a role that only takes reports down).
func (s *Server) apiReportCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceReport); err != nil {
		return err
	}
	var in tracing.ReportInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.spendReporterCode(c, in.ReporterCode); err != nil {
		return err
	}
	rep, cands, err := s.n.Tracing.Report(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/reports/"+rep.ID)
	writeJSON(w, http.StatusCreated, reportCreated{Report: rep, Candidates: apiCandidates(cands)})
	return nil
}

// apiReports lists reports by ?status=open|closed|all (default all), newest
// first, with ?offset=&limit=.
func (s *Server) apiReports(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceRead); err != nil {
		return err
	}
	offset, limit, err := paging(r)
	if err != nil {
		return err
	}
	list, total, err := s.n.Tracing.List(r.Context(), c.p, r.URL.Query().Get("status"), offset, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reportsPage{Reports: nonNil(list), Total: total, Offset: offset, Limit: limit})
	return nil
}

func (s *Server) apiReportGet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	rep, err := s.n.Tracing.Get(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// queryProb reads a probability query parameter in [0, 1].
func queryProb(r *http.Request, name string, def float64) (float64, *registry.FieldError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, &registry.FieldError{Field: name, Code: "invalid", Message: "must be a probability from 0 to 1"}
	}
	return f, nil
}

// queryInt reads a whole-number query parameter in [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int) (int, *registry.FieldError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &registry.FieldError{Field: name, Code: "invalid", Message: "must be a whole number from " +
			strconv.Itoa(lo) + " to " + strconv.Itoa(hi)}
	}
	return n, nil
}

// apiReportMatches ranks a report's candidates: ?top= (1-50, default 10),
// ?min= (default 0.05).
func (s *Server) apiReportMatches(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceRead); err != nil {
		return err
	}
	var fes []registry.FieldError
	top, fe := queryInt(r, "top", 10, 1, 50)
	if fe != nil {
		fes = append(fes, *fe)
	}
	minP, fe := queryProb(r, "min", tracing.DefaultMin)
	if fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return invalid(fes...)
	}
	cands, err := s.n.Tracing.Matches(r.Context(), c.p, r.PathValue("id"), top, minP)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, candidatesResponse{Candidates: apiCandidates(cands)})
	return nil
}

func (s *Server) apiReportConfirm(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceDecide); err != nil {
		return err
	}
	var req confirmRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rep, err := s.n.Tracing.Confirm(r.Context(), c.p, r.PathValue("id"), req.Candidate, req.Outcome)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) apiReportReject(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceDecide); err != nil {
		return err
	}
	var req rejectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rep, err := s.n.Tracing.Reject(r.Context(), c.p, r.PathValue("id"), req.Candidate)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) apiReportWithdraw(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.TraceDecide); err != nil {
		return err
	}
	var req withdrawRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rep, err := s.n.Tracing.Withdraw(r.Context(), c.p, r.PathValue("id"), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// apiDuplicates lists likely duplicate registrations: ?min= (default 0.5),
// ?limit= (1-500, default 50).
func (s *Server) apiDuplicates(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.DuplicatesRead); err != nil {
		return err
	}
	var fes []registry.FieldError
	minP, fe := queryProb(r, "min", dupMin)
	if fe != nil {
		fes = append(fes, *fe)
	}
	limit, fe := queryInt(r, "limit", 50, 1, 500)
	if fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return invalid(fes...)
	}
	dups, err := s.n.Tracing.Duplicates(r.Context(), c.p, minP, limit)
	if err != nil {
		return err
	}
	out := make([]apiDuplicate, len(dups))
	for i, d := range dups {
		out[i] = apiDuplicate{A: d.A, B: d.B, Probability: round3(d.Probability), Weight: round3(d.Weight),
			Fields: apiAgreements(d.Fields)}
	}
	writeJSON(w, http.StatusOK, duplicatesResponse{Duplicates: out})
	return nil
}

func (s *Server) apiDuplicatesDistinct(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.DuplicatesRead); err != nil {
		return err
	}
	var req distinctRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var fes []registry.FieldError
	for _, f := range []struct{ name, v string }{{"a", req.A}, {"b", req.B}} {
		if f.v == "" {
			fes = append(fes, registry.FieldError{Field: f.name, Code: "required", Message: "name a person by id"})
		}
	}
	if len(fes) > 0 {
		return invalid(fes...)
	}
	if err := s.n.Tracing.Distinct(r.Context(), c.p, req.A, req.B); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, distinctResponse{A: req.A, B: req.B, Distinct: true})
	return nil
}

// apiPersonMerge merges the duplicate registration in the body into the
// person in the path; both histories stay.
func (s *Server) apiPersonMerge(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.PersonMerge); err != nil {
		return err
	}
	var req mergeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Duplicate == "" {
		return invalid(registry.FieldError{Field: "duplicate", Code: "required", Message: "name the duplicate registration by id"})
	}
	keep := r.PathValue("id")
	if err := s.n.Tracing.Merge(r.Context(), c.p, keep, req.Duplicate); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mergeResponse{Keep: keep, Duplicate: req.Duplicate})
	return nil
}
