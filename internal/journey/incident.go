package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// Incident kinds.
var IncidentKinds = []string{"accident", "violence", "detention", "deportation", "medical", "death", "tear_gas", "other"}

// Severities, least to most severe.
var Severities = []string{"low", "moderate", "severe", "critical"}

// Hazard kinds. A trap is e.g. unofficial trucks offering a ride "to a shelter".
var HazardKinds = []string{"police_line", "dangerous_road", "flooding", "trap", "other"}

// maxHazardLife bounds an expiry: a hazard is re-recorded if it lasts.
const maxHazardLife = 30 * 24 * time.Hour

// Place is where something happened: a stage of the route, or coordinates
// (between stages, off the route). Exactly one is given.
type Place struct {
	Stage string   `json:"stage,omitempty"`
	Lat   *float64 `json:"lat,omitempty"`
	Lon   *float64 `json:"lon,omitempty"`
}

func (pl Place) check(r Route, v *registry.ValidationError) {
	add := func(field, code, msg string) {
		*v = append(*v, registry.FieldError{Field: field, Code: code, Message: msg})
	}
	coords := pl.Lat != nil || pl.Lon != nil
	switch {
	case pl.Stage != "" && coords:
		add("place", "invalid", "give a stage or coordinates, not both")
	case pl.Stage != "":
		if r.Index(pl.Stage) < 0 {
			add("stage", "unknown_stage", "is not a stage of the route")
		}
	case pl.Lat == nil || pl.Lon == nil:
		add("place", "required", "a stage, or a latitude and a longitude, is required")
	default:
		if math.IsNaN(*pl.Lat) || *pl.Lat < -90 || *pl.Lat > 90 {
			add("lat", "invalid", "must be a latitude between -90 and 90")
		}
		if math.IsNaN(*pl.Lon) || *pl.Lon < -180 || *pl.Lon > 180 {
			add("lon", "invalid", "must be a longitude between -180 and 180")
		}
	}
}

// IncidentInput records an incident.
type IncidentInput struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// At is when it happened; zero means now.
	At time.Time `json:"at,omitzero"`
	Place
	// People are those involved who are registered, by card code or id.
	People []PersonRef `json:"people,omitempty"`
	// Count is how many people were affected in all, registered or not
	// (at least len(People)).
	Count int `json:"count,omitempty"`
}

// Incident is a recorded incident. It holds ids, never names.
type Incident struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	At       time.Time `json:"at"`
	Place
	People   []string  `json:"people"`
	Count    int       `json:"count"`
	By       string    `json:"by"`
	Recorded time.Time `json:"recorded"`
}

// RecordIncident validates and records an incident. Every problem (and
// every bad code, caught by its check character before any look-up) is
// reported at once, and nothing is written.
func (s *Service) RecordIncident(ctx context.Context, p auth.Principal, in IncidentInput) (Incident, error) {
	if err := auth.Check(p, auth.IncidentWrite); err != nil {
		return Incident{}, err
	}
	r, err := s.route(ctx)
	if err != nil {
		return Incident{}, err
	}
	var v registry.ValidationError
	if !slices.Contains(IncidentKinds, in.Kind) {
		v = append(v, registry.FieldError{Field: "kind", Code: "invalid", Message: "must be one of " + strings.Join(IncidentKinds, ", ")})
	}
	if !slices.Contains(Severities, in.Severity) {
		v = append(v, registry.FieldError{Field: "severity", Code: "invalid", Message: "must be one of " + strings.Join(Severities, ", ")})
	}
	if fe := s.checkTime("at", in.At); fe != nil {
		v = append(v, *fe)
	}
	in.Place.check(r, &v)
	if len(in.People) > maxPeoplePerIncident {
		v = append(v, registry.FieldError{Field: "people", Code: "too_many", Message: fmt.Sprintf("at most %d people", maxPeoplePerIncident)})
		in.People = nil
	}
	refs := make([]PersonRef, len(in.People))
	for i, ref := range in.People {
		var fe *registry.FieldError
		if refs[i], fe = registry.ParseRef(fmt.Sprintf("people[%d]", i), ref); fe != nil {
			v = append(v, *fe)
		}
	}
	if in.Count < 0 || in.Count > 100_000 {
		v = append(v, registry.FieldError{Field: "count", Code: "invalid", Message: "must be between 0 and 100000"})
	}
	if len(v) > 0 {
		return Incident{}, v
	}
	var ids []string
	for i, ref := range refs {
		id, err := s.resolve(ctx, p, ref)
		if err != nil {
			if isNotFound(err) {
				v = append(v, registry.FieldError{Field: fmt.Sprintf("people[%d]", i), Code: "not_found", Message: "no person registered on this node has this code or id"})
				continue
			}
			return Incident{}, err
		}
		ids = append(ids, id)
	}
	if len(v) > 0 {
		return Incident{}, v
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	at := in.At
	if at.IsZero() {
		at = s.now()
	}
	body := incidentBody{Kind: in.Kind, Severity: in.Severity, At: at.UnixMilli(), Stage: in.Stage, Lat: in.Lat, Lon: in.Lon,
		People: ids, Count: max(in.Count, len(ids))}
	id := s.newID()
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindIncident, Subject: "incident/" + id, Body: body}}); err != nil {
		return Incident{}, fmt.Errorf("record incident: %w", err)
	}
	var out Incident
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		var d incidentDoc
		found, err := store.GetJSON(ctx, tx, docIncident, id, &d)
		if err == nil && !found {
			err = fmt.Errorf("incident %s: %w", id, ErrNotFound)
		}
		out = incidentOf(id, d)
		return err
	})
	return out, err
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func incidentOf(id string, d incidentDoc) Incident {
	people := d.People
	if people == nil {
		people = []string{}
	}
	return Incident{ID: id, Kind: d.Kind, Severity: d.Severity, At: time.UnixMilli(d.At).UTC(),
		Place: Place{Stage: d.Stage, Lat: d.Lat, Lon: d.Lon}, People: people, Count: d.Count, By: d.By, Recorded: d.T.Time()}
}

// IncidentFilter narrows a listing; zero values mean any.
type IncidentFilter struct {
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	Kind  string    `json:"kind,omitempty"`
}

func (f IncidentFilter) match(kind string, at time.Time) bool {
	return (f.Kind == "" || f.Kind == kind) && (f.Since.IsZero() || !at.Before(f.Since)) && (f.Until.IsZero() || at.Before(f.Until))
}

// Incidents lists incidents, newest first.
func (s *Service) Incidents(ctx context.Context, p auth.Principal, f IncidentFilter) ([]Incident, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return nil, err
	}
	out := []Incident{}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, docIncident, func(id string, data []byte) error {
			var d incidentDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			inc := incidentOf(id, d)
			if f.match(inc.Kind, inc.At) {
				out = append(out, inc)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// HazardInput records a hazard on the route.
type HazardInput struct {
	Kind string `json:"kind"`
	Place
	// From is when it starts (zero: now); Until when it expires (required).
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until"`
}

// Hazard is a recorded hazard.
type Hazard struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Place
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	By    string    `json:"by"`
	// Cleared is set when someone cleared it before it expired.
	Cleared time.Time `json:"cleared,omitzero"`
	// Live means in force now: started, not expired, not cleared.
	Live bool `json:"live"`
}

// RecordHazard validates and records a hazard with an expiry.
func (s *Service) RecordHazard(ctx context.Context, p auth.Principal, in HazardInput) (Hazard, error) {
	if err := auth.Check(p, auth.IncidentWrite); err != nil {
		return Hazard{}, err
	}
	r, err := s.route(ctx)
	if err != nil {
		return Hazard{}, err
	}
	now := s.now()
	var v registry.ValidationError
	if !slices.Contains(HazardKinds, in.Kind) {
		v = append(v, registry.FieldError{Field: "kind", Code: "invalid", Message: "must be one of " + strings.Join(HazardKinds, ", ")})
	}
	in.Place.check(r, &v)
	from := in.From
	if from.IsZero() {
		from = now
	} else if fe := s.checkTime("from", from); fe != nil && fe.Code != "future" {
		v = append(v, *fe) // a hazard announced ahead of time may start later
	}
	switch {
	case in.Until.IsZero():
		v = append(v, registry.FieldError{Field: "until", Code: "required", Message: "a hazard needs an expiry"})
	case !in.Until.After(from) || !in.Until.After(now):
		v = append(v, registry.FieldError{Field: "until", Code: "invalid", Message: "must be in the future and after the start"})
	case in.Until.Sub(from) > maxHazardLife:
		v = append(v, registry.FieldError{Field: "until", Code: "invalid", Message: "must be within 30 days of the start; record it again if it lasts"})
	}
	if len(v) > 0 {
		return Hazard{}, v
	}
	body := hazardBody{Kind: in.Kind, Stage: in.Stage, Lat: in.Lat, Lon: in.Lon, From: from.UnixMilli(), Until: in.Until.UnixMilli()}
	id := s.newID()
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindHazard, Subject: "hazard/" + id, Body: body}}); err != nil {
		return Hazard{}, fmt.Errorf("record hazard: %w", err)
	}
	return s.hazard(ctx, id)
}

// ClearHazard ends a hazard before its expiry.
func (s *Service) ClearHazard(ctx context.Context, p auth.Principal, id string) (Hazard, error) {
	if err := auth.Check(p, auth.IncidentWrite); err != nil {
		return Hazard{}, err
	}
	h, err := s.hazard(ctx, id)
	if err != nil {
		return Hazard{}, err
	}
	if !h.Cleared.IsZero() {
		return h, nil
	}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindHazardCleared, Subject: "hazard/" + id, Body: struct{}{}}}); err != nil {
		return Hazard{}, fmt.Errorf("clear hazard: %w", err)
	}
	return s.hazard(ctx, id)
}

func (s *Service) hazard(ctx context.Context, id string) (Hazard, error) {
	var d hazardDoc
	var found bool
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		found, err = store.GetJSON(ctx, tx, docHazard, id, &d)
		return err
	})
	if err != nil {
		return Hazard{}, err
	}
	if !found || d.Recorded.Zero() {
		return Hazard{}, fmt.Errorf("hazard %s: %w", id, ErrNotFound)
	}
	return hazardOf(id, d, s.now()), nil
}

func hazardOf(id string, d hazardDoc, now time.Time) Hazard {
	h := Hazard{ID: id, Kind: d.Kind, Place: Place{Stage: d.Stage, Lat: d.Lat, Lon: d.Lon},
		From: time.UnixMilli(d.From).UTC(), Until: time.UnixMilli(d.Until).UTC(), By: d.By}
	if !d.Cleared.Zero() {
		h.Cleared = d.Cleared.T.Time()
	}
	h.Live = h.Cleared.IsZero() && !now.Before(h.From) && now.Before(h.Until)
	return h
}

// Hazards lists hazards, live ones first, then newest first; liveOnly
// leaves out expired and cleared ones.
func (s *Service) Hazards(ctx context.Context, p auth.Principal, liveOnly bool) ([]Hazard, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return nil, err
	}
	return s.hazards(ctx, liveOnly)
}

func (s *Service) hazards(ctx context.Context, liveOnly bool) ([]Hazard, error) {
	now := s.now()
	out := []Hazard{}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, docHazard, func(id string, data []byte) error {
			var d hazardDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			if d.Recorded.Zero() {
				return nil // cleared before its record arrived
			}
			h := hazardOf(id, d, now)
			if !liveOnly || h.Live {
				out = append(out, h)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Live != out[j].Live {
			return out[i].Live
		}
		if !out[i].From.Equal(out[j].From) {
			return out[i].From.After(out[j].From)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// TimelineEntry is one line of the timeline: an incident or a hazard.
type TimelineEntry struct {
	At       time.Time `json:"at"`
	Incident *Incident `json:"incident,omitempty"`
	Hazard   *Hazard   `json:"hazard,omitempty"`
}

// Timeline lists incidents and hazards together, newest first (a hazard
// by its start).
func (s *Service) Timeline(ctx context.Context, p auth.Principal, f IncidentFilter) ([]TimelineEntry, error) {
	incs, err := s.Incidents(ctx, p, f)
	if err != nil {
		return nil, err
	}
	hs, err := s.hazards(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]TimelineEntry, 0, len(incs)+len(hs))
	for i := range incs {
		out = append(out, TimelineEntry{At: incs[i].At, Incident: &incs[i]})
	}
	for i := range hs {
		if f.match(hs[i].Kind, hs[i].From) {
			out = append(out, TimelineEntry{At: hs[i].From, Hazard: &hs[i]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}
