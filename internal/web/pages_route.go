package web

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
	"caravana/internal/report"
)

// stageRow is one line of the route table.
type stageRow struct {
	N                  int
	ID, Name, Country  string
	Km                 string
	Seen               int
	Column, Checkpoint bool
}

type routeView struct {
	Map      template.HTML
	Stages   []stageRow
	Column   journey.Column
	Covered  string
	ToGo     string
	Default  bool
	SetAt    string
	Problems []routeProblem
	NoFile   bool
}

// journeyMap reads what the map shows and draws it in the page's language.
func (s *Server) journeyMap(r *http.Request, c *reqCtx) (journey.MapData, template.HTML, error) {
	d, err := s.n.Journey.MapData(r.Context(), c.p)
	if err != nil {
		return d, "", err
	}
	return d, journey.MapSVG(d, mapText(c)), nil
}

func (s *Server) routeView(r *http.Request, c *reqCtx) (routeView, error) {
	d, svg, err := s.journeyMap(r, c)
	if err != nil {
		return routeView{}, err
	}
	v := routeView{Map: svg, Column: d.Column, Covered: km(d.Column.CoveredKm), ToGo: km(d.Column.LeftKm),
		Default: d.Route.Default, SetAt: fmtTime(d.Route.SetAt)}
	for i, st := range d.Route.Stages {
		v.Stages = append(v.Stages, stageRow{N: i + 1, ID: st.ID, Name: st.Name, Country: label(c, "country.", st.Country),
			Km: km(st.Km), Seen: d.Seen[st.ID], Column: d.Column.Stage != nil && d.Column.Stage.ID == st.ID,
			Checkpoint: d.Seen[st.ID] > 0})
	}
	return v, nil
}

// routePage shows the stages and the map; coordinators get the import form.
func (s *Server) routePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	v, err := s.routeView(r, c)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "journey_route", s.newView(r, c, "route.title", "route", v))
}

// routeImport replaces the route with an uploaded CSV or JSON file. A bad
// file is shown back problem by problem (line and field) and changes
// nothing. The upload's own name is never used or shown: only its
// extension says how to read it.
func (s *Server) routeImport(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.RouteWrite); err != nil {
		return err
	}
	bad := func(re *journey.RouteError, noFile bool) error {
		v, err := s.routeView(r, c)
		if err != nil {
			return err
		}
		if re != nil {
			v.Problems = routeProblems(re)
		}
		v.NoFile = noFile
		view := s.newView(r, c, "route.title", "route", v)
		view.Flash = c.T("route.invalid")
		return s.render(w, r, http.StatusBadRequest, "journey_route", view)
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return bad(nil, true)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, journey.MaxRouteBytes+1))
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return bad(nil, true)
	}
	ext := strings.ToLower(filepath.Ext(hdr.Filename))
	if ext != ".csv" && ext != ".json" {
		ext = ""
	}
	_, err = s.n.Journey.ImportRoute(r.Context(), c.p, "upload"+ext, data)
	var re *journey.RouteError
	if errors.As(err, &re) {
		return bad(re, false)
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/route")
}

// hcRow is one stage of the headcount page.
type hcRow struct {
	Stage                  journey.Stage
	Seen, Found, Children  int
	NotSeenSince           int
	Bands, Flags           template.HTML
	Km                     string
	HasBreakdown, IsChosen bool
}

type headcountView struct {
	HC       journey.Headcount
	Route    []journey.Stage
	Stage    string
	From, To string
	Rows     []hcRow
	Quiet    []string // stages with nothing to count
	LeftBy   []registry.Count
	Filtered bool
}

// headcountsPage counts people per stage by age band and vulnerability,
// optionally in a time window (UTC), and how many were last seen at each
// stage. The filter is in the URL: stage ids and times, no names.
func (s *Server) headcountsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v := headcountView{Route: route.Stages, Stage: stageParam(route, q.Get("stage")), From: q.Get("from"), To: q.Get("to")}
	var fes registry.ValidationError
	hq := journey.HeadcountQuery{Stage: v.Stage}
	var fe *registry.FieldError
	if hq.From, fe = queryTime(r, "from"); fe != nil {
		fes = append(fes, *fe)
	}
	if hq.To, fe = queryTime(r, "to"); fe != nil {
		fes = append(fes, *fe)
	}
	if q.Get("stage") != "" && v.Stage == "" {
		fes = append(fes, registry.FieldError{Field: "stage", Code: "unknown_stage", Message: "is not a stage of the route"})
	}
	v.Filtered = v.Stage != "" || !hq.From.IsZero() || !hq.To.IsZero()
	if len(fes) == 0 {
		v.HC, err = s.n.Journey.Headcounts(r.Context(), c.p, hq)
		if errors.As(err, &fes) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	if len(fes) > 0 {
		view := s.newView(r, c, "headcounts.title", "route", v)
		view.Errors = fieldErrors(c, fes)
		return s.render(w, r, http.StatusBadRequest, "journey_headcounts", view)
	}
	for _, l := range v.HC.LeftBy {
		if l.Value > 0 {
			v.LeftBy = append(v.LeftBy, l)
		}
	}
	for _, st := range v.HC.Stages {
		row := hcRow{Stage: st.Stage, Seen: st.Seen, Found: st.Found, Children: st.Children,
			NotSeenSince: st.NotSeenSince, Km: km(st.Stage.Km), IsChosen: st.Stage.ID == v.Stage}
		if row.Seen == 0 && row.NotSeenSince == 0 && !row.IsChosen {
			v.Quiet = append(v.Quiet, st.Stage.Name)
			continue
		}
		if row.Seen > 0 {
			row.HasBreakdown = true
			row.Bands = report.BarChart(c.T("headcounts.by_age"), bars(c, "age.", st.AgeBands))
			if len(st.Flags) > 0 {
				row.Flags = report.BarChart(c.T("dash.by_flag"), bars(c, "flag.", st.Flags))
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return s.render(w, r, http.StatusOK, "journey_headcounts", s.newView(r, c, "headcounts.title", "route", v))
}
