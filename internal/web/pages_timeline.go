package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

const timelinePerPage = 50

// incidentForm and hazardForm hold what was typed, to show it back with
// the errors.
type incidentForm struct {
	Kind, Severity, At, Stage, Lat, Lon, People, Count string
}

type hazardForm struct {
	Kind, Stage, Lat, Lon, From, Until string
}

type timelineRow struct {
	ID, When, Type, Kind, Severity, Place string
	Count, People                         int
	Until, Cleared                        string
	Live                                  bool
}

type timelineView struct {
	Rows                       []timelineRow
	Stages                     []journey.Stage
	Kinds, Severities, Hazards []string
	Kind                       string
	Inc                        incidentForm
	Haz                        hazardForm
	OpenIncident, OpenHazard   bool
	Page, Pages                int
	Prev, Next                 string
	LiveHazards                int
}

func placeLabel(route journey.Route, pl journey.Place) string {
	if pl.Stage != "" {
		if st, ok := route.Stage(pl.Stage); ok {
			return st.Name
		}
		return pl.Stage
	}
	if pl.Lat != nil && pl.Lon != nil {
		return fmt.Sprintf("%.4f, %.4f", *pl.Lat, *pl.Lon)
	}
	return ""
}

// timelinePage offers blank forms placed where the column is now, the
// likeliest place of what a volunteer reports.
func (s *Server) timelinePage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	v := timelineView{Haz: hazardForm{Until: inputTime(time.Now().Add(24 * time.Hour).Truncate(time.Hour))}}
	if auth.Can(c.p.Role, auth.IncidentWrite) {
		col, err := s.n.Journey.ColumnPosition(r.Context(), c.p)
		if err != nil {
			return err
		}
		if col.Stage != nil {
			v.Inc.Stage, v.Haz.Stage = col.Stage.ID, col.Stage.ID
		}
	}
	return s.renderTimeline(w, r, c, v, http.StatusOK, nil)
}

// renderTimeline lists incidents and hazards together, newest first, and
// offers the forms to record them to the roles that may (every staff role:
// a medic reports a medical emergency, a lawyer a detention).
func (s *Server) renderTimeline(w http.ResponseWriter, r *http.Request, c *reqCtx, v timelineView, status int, fes registry.ValidationError) error {
	if err := auth.Check(c.p, auth.JourneyRead); err != nil {
		return err
	}
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return err
	}
	v.Stages, v.Kinds, v.Severities, v.Hazards = route.Stages, journey.IncidentKinds, journey.Severities, journey.HazardKinds
	if k := r.URL.Query().Get("kind"); slices.Contains(journey.IncidentKinds, k) || slices.Contains(journey.HazardKinds, k) {
		v.Kind = k
	}
	entries, err := s.n.Journey.Timeline(r.Context(), c.p, journey.IncidentFilter{Kind: v.Kind})
	if err != nil {
		return err
	}
	v.Pages = max(1, (len(entries)+timelinePerPage-1)/timelinePerPage)
	v.Page = min(pageNum(r), v.Pages)
	if v.Page > 1 {
		v.Prev = kindPageURL("/timeline", v.Kind, v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = kindPageURL("/timeline", v.Kind, v.Page+1)
	}
	for _, e := range entries {
		if e.Hazard != nil && e.Hazard.Live {
			v.LiveHazards++
		}
	}
	from := (v.Page - 1) * timelinePerPage
	for _, e := range entries[min(from, len(entries)):min(from+timelinePerPage, len(entries))] {
		row := timelineRow{When: fmtTime(e.At)}
		switch {
		case e.Incident != nil:
			in := e.Incident
			row.ID, row.Type, row.Kind, row.Severity = in.ID, "incident", kindLabel(c, in.Kind), in.Severity
			row.Place, row.Count, row.People = placeLabel(route, in.Place), in.Count, len(in.People)
		case e.Hazard != nil:
			h := e.Hazard
			row.ID, row.Type, row.Kind, row.Live = h.ID, "hazard", kindLabel(c, h.Kind), h.Live
			row.Place, row.Until, row.Cleared = placeLabel(route, h.Place), fmtTime(h.Until), fmtTime(h.Cleared)
		}
		v.Rows = append(v.Rows, row)
	}
	view := s.newView(r, c, "timeline.title", "timeline", v)
	if len(fes) > 0 {
		// Each form's errors under its own prefix ("inc.lat", "haz.lat"):
		// the two forms have fields of the same names.
		prefix := "haz."
		if v.OpenIncident {
			prefix = "inc."
		}
		errs := fieldErrors(c, fes)
		mergeIndexed(errs, "people", c)
		view.Errors = map[string]string{}
		for k, msg := range errs {
			view.Errors[prefix+k] = msg
		}
	}
	return s.render(w, r, status, "journey_timeline", view)
}

// mergeIndexed folds errors of list items ("people[2].code") into the
// list's own field, numbered from 1, for a form with one box for the list.
func mergeIndexed(errs map[string]string, list string, c *reqCtx) {
	var msgs []string
	for k, msg := range errs {
		if !strings.HasPrefix(k, list+"[") {
			continue
		}
		rest := strings.TrimPrefix(k, list+"[")
		n, _ := strconv.Atoi(rest[:max(strings.IndexByte(rest, ']'), 0)])
		msgs = append(msgs, c.T("timeline.nth", n+1)+": "+msg)
		delete(errs, k)
	}
	if len(msgs) == 0 {
		return
	}
	slices.Sort(msgs)
	if prev := errs[list]; prev != "" {
		msgs = append([]string{prev}, msgs...)
	}
	errs[list] = strings.Join(msgs, "; ")
}

// formPlace reads the stage or coordinates of a form.
func formPlace(stage, lat, lon string, fes *registry.ValidationError) journey.Place {
	pl := journey.Place{Stage: strings.TrimSpace(stage)}
	num := func(field, v string) *float64 {
		v = strings.TrimSpace(strings.ReplaceAll(v, ",", "."))
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			*fes = append(*fes, registry.FieldError{Field: field, Code: "invalid", Message: "must be a number such as 14.9039"})
			return nil
		}
		return &f
	}
	pl.Lat, pl.Lon = num("lat", lat), num("lon", lon)
	return pl
}

func (s *Server) incidentCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	pf := r.PostForm
	f := incidentForm{Kind: pf.Get("kind"), Severity: pf.Get("severity"), At: pf.Get("at"), Stage: pf.Get("stage"),
		Lat: pf.Get("lat"), Lon: pf.Get("lon"), People: pf.Get("people"), Count: pf.Get("count")}
	var fes registry.ValidationError
	in := journey.IncidentInput{Kind: f.Kind, Severity: f.Severity, Place: formPlace(f.Stage, f.Lat, f.Lon, &fes)}
	var fe *registry.FieldError
	if in.At, fe = formTime("at", f.At); fe != nil {
		fes = append(fes, *fe)
	}
	if strings.TrimSpace(f.Count) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(f.Count))
		if err != nil {
			fes = append(fes, registry.FieldError{Field: "count", Code: "invalid", Message: "must be a whole number"})
		}
		in.Count = n
	}
	for _, line := range strings.FieldsFunc(f.People, func(r rune) bool { return r == '\n' || r == ',' || r == ';' }) {
		if code := strings.TrimSpace(line); code != "" {
			in.People = append(in.People, journey.PersonRef{Code: code})
		}
	}
	if len(fes) == 0 && len(in.People) > 0 {
		if err := s.spendCheckins(c, len(in.People)); err != nil {
			return err
		}
	}
	// Every problem is reported at once: a value the form could not read
	// is replaced by one the service surely refuses (see unreadable), so
	// the service still checks every other field and writes nothing.
	unread := fieldSet(fes)
	if unread["lat"] {
		in.Lat = &unreadable
	}
	if unread["lon"] {
		in.Lon = &unreadable
	}
	if unread["at"] {
		in.At = time.Unix(0, 0) // far more than 90 days ago
	}
	if unread["count"] {
		in.Count = -1
	}
	_, err := s.n.Journey.RecordIncident(r.Context(), c.p, in)
	var refused registry.ValidationError
	switch {
	case err == nil && len(fes) == 0:
		return redirect(w, r, "/timeline")
	case err == nil:
		// Cannot happen: a replaced value is always refused.
		return fmt.Errorf("incident recorded from a form with errors %v", fes)
	case !errors.As(err, &refused):
		return err
	}
	fes = mergeRefusals(fes, refused)
	v := timelineView{Inc: f, OpenIncident: true, Haz: hazardForm{Until: inputTime(time.Now().Add(24 * time.Hour).Truncate(time.Hour))}}
	return s.renderTimeline(w, r, c, v, http.StatusBadRequest, fes)
}

// unreadable stands for a latitude or longitude the form could not read:
// not a number, so the service refuses the place whatever else is given.
var unreadable = math.NaN()

func fieldSet(fes registry.ValidationError) map[string]bool {
	out := map[string]bool{}
	for _, fe := range fes {
		out[fe.Field] = true
	}
	return out
}

// mergeRefusals adds the service's refusals to the form's own, leaving out
// those about a field the form already flagged (the service judged the
// stand-in, not what was typed).
func mergeRefusals(form, service registry.ValidationError) registry.ValidationError {
	flagged := fieldSet(form)
	for _, fe := range service {
		if !flagged[fe.Field] {
			form = append(form, fe)
		}
	}
	return form
}

func (s *Server) hazardCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	pf := r.PostForm
	f := hazardForm{Kind: pf.Get("kind"), Stage: pf.Get("stage"), Lat: pf.Get("lat"), Lon: pf.Get("lon"),
		From: pf.Get("from"), Until: pf.Get("until")}
	var fes registry.ValidationError
	in := journey.HazardInput{Kind: f.Kind, Place: formPlace(f.Stage, f.Lat, f.Lon, &fes)}
	var fe *registry.FieldError
	if in.From, fe = formTime("from", f.From); fe != nil {
		fes = append(fes, *fe)
	}
	if in.Until, fe = formTime("until", f.Until); fe != nil {
		fes = append(fes, *fe)
	}
	// As for incidents: stand-ins the service refuses, so every field is
	// checked at once and nothing is written.
	unread := fieldSet(fes)
	if unread["lat"] {
		in.Lat = &unreadable
	}
	if unread["lon"] {
		in.Lon = &unreadable
	}
	if unread["from"] {
		// Far more than 90 days ago; "until" cannot be judged against it.
		in.From = time.Unix(0, 0)
	}
	if unread["until"] {
		in.Until = time.Time{} // required
	}
	_, err := s.n.Journey.RecordHazard(r.Context(), c.p, in)
	var refused registry.ValidationError
	switch {
	case err == nil && len(fes) == 0:
		return redirect(w, r, "/timeline")
	case err == nil:
		return fmt.Errorf("hazard recorded from a form with errors %v", fes)
	case !errors.As(err, &refused):
		return err
	}
	if unread["from"] && !unread["until"] {
		refused = slices.DeleteFunc(refused, func(fe registry.FieldError) bool { return fe.Field == "until" && fe.Code == "invalid" })
	}
	fes = mergeRefusals(fes, refused)
	return s.renderTimeline(w, r, c, timelineView{Haz: f, OpenHazard: true}, http.StatusBadRequest, fes)
}

func (s *Server) hazardClear(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.IncidentWrite); err != nil {
		return err
	}
	if _, err := s.n.Journey.ClearHazard(r.Context(), c.p, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/timeline")
}
