package web

import (
	"net/http"
	"slices"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

// The journey's JSON API: route, map, headcounts, check-ins, the missing
// list, incidents and hazards. The service checks every role again; the
// handlers check first so a role that may not act learns nothing from
// validation errors. Card codes travel in bodies, never in URLs (S4).

type routeRequest struct {
	Stages []journey.Stage `json:"stages"`
}

func (s *Server) apiRoute(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	rt, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rt)
	return nil
}

// apiRouteSet replaces the route; every problem comes back at once as a
// field error naming the stage and field, and nothing changes.
func (s *Server) apiRouteSet(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.RouteWrite); err != nil {
		return err
	}
	var req routeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	rt, err := s.n.Journey.SetRoute(r.Context(), c.p, req.Stages)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rt)
	return nil
}

func (s *Server) apiMap(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := s.n.Journey.MapData(r.Context(), c.p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiHeadcounts(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	q := journey.HeadcountQuery{Stage: r.URL.Query().Get("stage")}
	var fes []registry.FieldError
	var fe *registry.FieldError
	if q.From, fe = queryTime(r, "from"); fe != nil {
		fes = append(fes, *fe)
	}
	if q.To, fe = queryTime(r, "to"); fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return invalid(fes...)
	}
	hc, err := s.n.Journey.Headcounts(r.Context(), c.p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hc)
	return nil
}

func (s *Server) apiProgress(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, err := s.n.Journey.Progress(r.Context(), c.p, r.URL.Query().Get("stage"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

type checkinsRequest struct {
	Stage    string                 `json:"stage"`
	Checkins []journey.CheckinInput `json:"checkins"`
}

type checkinsResponse struct {
	Stage   string                  `json:"stage"`
	Results []journey.CheckinResult `json:"results"`
	// Recorded counts the new check-ins; Repeats those already recorded
	// (sending a batch again changes nothing); Errors the inputs not
	// recorded (a code nobody here holds).
	Recorded int `json:"recorded"`
	Repeats  int `json:"repeats"`
	Errors   int `json:"errors"`
}

// wellFormed reports whether the service would get past its checks of the
// batch's shape without a look-up: only such a batch spends the budget.
func wellFormed(ins []journey.CheckinInput) bool {
	if len(ins) == 0 || len(ins) > journey.MaxBatch {
		return false
	}
	for _, in := range ins {
		if (in.Code == "") == (in.Person == "") {
			return false
		}
		if in.Code != "" {
			if _, err := cardcode.Parse(in.Code); err != nil {
				return false
			}
		}
	}
	return true
}

// apiCheckins records a batch of check-ins at one stage (up to 500), in
// one durable commit. It is idempotent: a person already checked in at the
// stage comes back as a repeat and nothing is written. A code with a wrong
// check character refuses the whole batch before any look-up.
func (s *Server) apiCheckins(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.CheckinRecord); err != nil {
		return err
	}
	var req checkinsRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if wellFormed(req.Checkins) {
		if err := s.spendCheckins(c, len(req.Checkins)); err != nil {
			return err
		}
	}
	res, err := s.n.Journey.CheckInBatch(r.Context(), c.p, req.Stage, req.Checkins)
	if err != nil {
		return err
	}
	out := checkinsResponse{Stage: req.Stage, Results: res}
	for _, x := range res {
		switch {
		case x.Error != nil:
			out.Errors++
		case x.Repeat:
			out.Repeats++
		default:
			out.Recorded++
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiMissing is the missing list at ?stage= (default: the latest
// checkpoint). Names and codes come only with ?names=true, each audited.
func (s *Server) apiMissing(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.MissingRead); err != nil {
		return err
	}
	q := r.URL.Query()
	mq := journey.MissingQuery{Stage: q.Get("stage")}
	switch q.Get("names") {
	case "", "0", "false":
	case "1", "true":
		mq.Names = true
	default:
		return invalid(registry.FieldError{Field: "names", Code: "invalid", Message: "must be true or false"})
	}
	l, err := s.n.Journey.Missing(r.Context(), c.p, mq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

type foundRequest struct {
	journey.PersonRef
	Stage string `json:"stage,omitempty"`
}

type leftRequest struct {
	journey.PersonRef
	Reason string    `json:"reason"`
	Stage  string    `json:"stage,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

type rejoinRequest struct {
	journey.PersonRef
}

// markStart checks the role, reads the body and, for a reference by card
// code, spends the check-in budget (a code look-up).
func (s *Server) markStart(r *http.Request, c *reqCtx, v any, ref *journey.PersonRef) error {
	if err := auth.Check(c.p, auth.MissingMark); err != nil {
		return err
	}
	if err := decodeJSON(r, v); err != nil {
		return err
	}
	if ref.Code != "" {
		return s.spendCheckins(c, 1)
	}
	return nil
}

func (s *Server) apiMissingFound(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var req foundRequest
	if err := s.markStart(r, c, &req, &req.PersonRef); err != nil {
		return err
	}
	ck, err := s.n.Journey.MarkFound(r.Context(), c.p, req.PersonRef, req.Stage)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ck)
	return nil
}

func (s *Server) apiMissingLeft(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var req leftRequest
	if err := s.markStart(r, c, &req, &req.PersonRef); err != nil {
		return err
	}
	st, err := s.n.Journey.MarkLeft(r.Context(), c.p, req.PersonRef, req.Reason, req.Stage, req.At)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) apiMissingRejoined(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var req rejoinRequest
	if err := s.markStart(r, c, &req, &req.PersonRef); err != nil {
		return err
	}
	st, err := s.n.Journey.MarkRejoined(r.Context(), c.p, req.PersonRef)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// incidentFilter reads ?kind=&since=&until= (RFC 3339).
func incidentFilter(r *http.Request) (journey.IncidentFilter, error) {
	f := journey.IncidentFilter{Kind: r.URL.Query().Get("kind")}
	var fes []registry.FieldError
	if f.Kind != "" && !slices.Contains(journey.IncidentKinds, f.Kind) && !slices.Contains(journey.HazardKinds, f.Kind) {
		fes = append(fes, registry.FieldError{Field: "kind", Code: "invalid", Message: "is not an incident or hazard kind"})
	}
	var fe *registry.FieldError
	if f.Since, fe = queryTime(r, "since"); fe != nil {
		fes = append(fes, *fe)
	}
	if f.Until, fe = queryTime(r, "until"); fe != nil {
		fes = append(fes, *fe)
	}
	if len(fes) > 0 {
		return f, invalid(fes...)
	}
	return f, nil
}

type incidentsResponse struct {
	Incidents []journey.Incident `json:"incidents"`
}

func (s *Server) apiIncidents(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	f, err := incidentFilter(r)
	if err != nil {
		return err
	}
	incs, err := s.n.Journey.Incidents(r.Context(), c.p, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, incidentsResponse{Incidents: nonNil(incs)})
	return nil
}

func (s *Server) apiIncidentCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	var in journey.IncidentInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if len(in.People) > 0 {
		if err := s.spendCheckins(c, len(in.People)); err != nil {
			return err
		}
	}
	inc, err := s.n.Journey.RecordIncident(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, inc)
	return nil
}

type hazardsResponse struct {
	Hazards []journey.Hazard `json:"hazards"`
}

func (s *Server) apiHazards(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var live bool
	switch r.URL.Query().Get("live") {
	case "", "0", "false":
	case "1", "true":
		live = true
	default:
		return invalid(registry.FieldError{Field: "live", Code: "invalid", Message: "must be true or false"})
	}
	hs, err := s.n.Journey.Hazards(r.Context(), c.p, live)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, hazardsResponse{Hazards: nonNil(hs)})
	return nil
}

func (s *Server) apiHazardCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	var in journey.HazardInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	h, err := s.n.Journey.RecordHazard(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

func (s *Server) apiHazardClear(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	h, err := s.n.Journey.ClearHazard(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

type timelineResponse struct {
	Entries []journey.TimelineEntry `json:"entries"`
}

func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	f, err := incidentFilter(r)
	if err != nil {
		return err
	}
	es, err := s.n.Journey.Timeline(r.Context(), c.p, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, timelineResponse{Entries: nonNil(es)})
	return nil
}
