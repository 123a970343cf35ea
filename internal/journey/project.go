// Package journey follows the caravan along its route: the route's stages,
// check-ins at checkpoints, headcounts, who in each household was not seen
// at the last checkpoint, incidents and hazards, and the route map.
//
// Every change is an event (route.set, checkin.recorded, journey.found,
// journey.left, journey.rejoined, incident.recorded, hazard.recorded,
// hazard.cleared) whose projection is deterministic in any arrival order,
// so check-ins made on several nodes converge when they sync. Events carry
// ids only, never names: who a person is stays in the registry.
package journey

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Event kinds.
const (
	KindRouteSet      = "route.set"
	KindCheckin       = "checkin.recorded"
	KindFound         = "journey.found"
	KindLeft          = "journey.left"
	KindRejoined      = "journey.rejoined"
	KindIncident      = "incident.recorded"
	KindHazard        = "hazard.recorded"
	KindHazardCleared = "hazard.cleared"
)

// Projection documents.
const (
	routeSubject     = "route/main"
	docRoute         = "journey.route" // the current route, id docRouteID
	docRouteID       = "current"
	docCheckinPrefix = "journey.checkin:" // + stage id; doc id = person id
	idxStages        = "journey.stages"   // index: every stage id with check-ins
	docStatus        = "journey.status"   // person id -> left / rejoined
	docIncident      = "journey.incident" // incident id
	docHazard        = "journey.hazard"   // hazard id
)

const (
	viaCheckin           = "checkin"
	viaFound             = "found"
	maxPeoplePerIncident = 1000
)

// Register adds the journey's projections to p.
func Register(p *ledger.Projector) {
	for _, prefix := range []string{"route", "checkin", "journey", "incident", "hazard"} {
		p.Handle(prefix, apply)
	}
}

func apply(ctx context.Context, tx store.Tx, e *event.Event) error {
	var err error
	switch e.Kind {
	case KindRouteSet:
		err = applyRoute(ctx, tx, e)
	case KindCheckin, KindFound:
		err = applyCheckin(ctx, tx, e)
	case KindLeft, KindRejoined:
		err = applyStatus(ctx, tx, e)
	case KindIncident:
		err = applyIncident(ctx, tx, e)
	case KindHazard, KindHazardCleared:
		err = applyHazard(ctx, tx, e)
	default:
		return nil // a newer node's kind: kept in the log, ignored here
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	return nil
}

// stamp orders the writes to a document (event.Stamp).
type stamp = event.Stamp

// routeBody is the body of route.set: the whole validated stage list.
type routeBody struct {
	Stages []Stage `json:"stages"`
}

type routeDoc struct {
	Stages []Stage `json:"stages"`
	By     string  `json:"by"`
	stamp
}

// applyRoute keeps the latest route by (HLC, node).
func applyRoute(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b routeBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	var cur routeDoc
	found, err := store.GetJSON(ctx, tx, docRoute, docRouteID, &cur)
	if err != nil {
		return err
	}
	if found && !cur.stamp.Before(event.StampOf(e)) {
		return nil
	}
	return store.PutJSON(ctx, tx, docRoute, docRouteID, routeDoc{Stages: b.Stages, By: e.Actor, stamp: event.StampOf(e)})
}

// checkinBody is the body of checkin.recorded and journey.found: ids only.
type checkinBody struct {
	Person string `json:"person"`
	Stage  string `json:"stage"`
	// At is when the person was seen (unix ms), if not when the event was
	// made: a scan queued on an offline phone keeps its own time.
	At int64 `json:"at,omitempty"`
}

// checkinDoc is one person seen at one stage: the earliest event wins, so
// two scans of one person at one stage are one check-in in any order.
type checkinDoc struct {
	At  int64  `json:"at"`
	Via string `json:"via"`
	By  string `json:"by"`
	stamp
}

func checkinKind(stage string) string { return docCheckinPrefix + stage }

func applyCheckin(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b checkinBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if b.Person == "" || len(b.Stage) > maxStageIDLen || !slugRE.MatchString(b.Stage) {
		return fmt.Errorf("check-in without a person or a valid stage id")
	}
	at := b.At
	if at == 0 {
		at = e.HLC.Millis()
	}
	via := viaCheckin
	if e.Kind == KindFound {
		via = viaFound
	}
	doc := checkinDoc{At: at, Via: via, By: e.Actor, stamp: event.StampOf(e)}
	cur, found, err := getCheckin(ctx, tx, b.Stage, b.Person)
	if err != nil {
		return err
	}
	if found {
		if !doc.stamp.Before(cur.stamp) {
			return nil
		}
		return putCheckin(ctx, tx, b.Stage, b.Person, doc)
	}
	// A new (stage, person) pair. The stage is filed once (an idempotent
	// index entry, no read); how many were seen there is the count of its
	// check-in documents, so nothing here depends on arrival order.
	if err := tx.AddIndex(ctx, idxStages, b.Stage, b.Stage); err != nil {
		return err
	}
	return putCheckin(ctx, tx, b.Stage, b.Person, doc)
}

// statusBody is the body of journey.left and journey.rejoined.
type statusBody struct {
	Person string `json:"person"`
	Reason string `json:"reason,omitempty"`
	Stage  string `json:"stage,omitempty"`
	At     int64  `json:"at,omitempty"`
}

// statusDoc says whether a person has left the caravan: last writer wins
// between journey.left and journey.rejoined.
type statusDoc struct {
	Left   bool   `json:"left"`
	Reason string `json:"reason,omitempty"`
	Stage  string `json:"stage,omitempty"`
	At     int64  `json:"at"`
	By     string `json:"by"`
	stamp
}

func applyStatus(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b statusBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if b.Person == "" {
		return fmt.Errorf("status without a person")
	}
	var cur statusDoc
	found, err := store.GetJSON(ctx, tx, docStatus, b.Person, &cur)
	if err != nil {
		return err
	}
	if found && !cur.stamp.Before(event.StampOf(e)) {
		return nil
	}
	at := b.At
	if at == 0 {
		at = e.HLC.Millis()
	}
	doc := statusDoc{Left: e.Kind == KindLeft, At: at, By: e.Actor, stamp: event.StampOf(e)}
	if doc.Left {
		doc.Reason, doc.Stage = b.Reason, b.Stage
	}
	return store.PutJSON(ctx, tx, docStatus, b.Person, doc)
}

// incidentBody is the body of incident.recorded.
type incidentBody struct {
	Kind     string   `json:"kind"`
	Severity string   `json:"severity"`
	At       int64    `json:"at"`
	Stage    string   `json:"stage,omitempty"`
	Lat      *float64 `json:"lat,omitempty"`
	Lon      *float64 `json:"lon,omitempty"`
	People   []string `json:"people,omitempty"` // person ids
	Count    int      `json:"count,omitempty"`  // people affected, registered or not
}

type incidentDoc struct {
	incidentBody
	By string `json:"by"`
	stamp
}

func subjectID(subject string) string {
	_, id, ok := strings.Cut(subject, "/")
	if !ok {
		return subject
	}
	return id
}

// applyIncident keeps the earliest record of an incident id (a replayed
// or doubly delivered event changes nothing).
func applyIncident(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b incidentBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if len(b.People) > maxPeoplePerIncident {
		return fmt.Errorf("more than %d people", maxPeoplePerIncident)
	}
	id := subjectID(e.Subject)
	var cur incidentDoc
	found, err := store.GetJSON(ctx, tx, docIncident, id, &cur)
	if err != nil {
		return err
	}
	if found && !event.StampOf(e).Before(cur.stamp) {
		return nil
	}
	return store.PutJSON(ctx, tx, docIncident, id, incidentDoc{incidentBody: b, By: e.Actor, stamp: event.StampOf(e)})
}

// hazardBody is the body of hazard.recorded (hazard.cleared has none).
type hazardBody struct {
	Kind  string   `json:"kind"`
	Stage string   `json:"stage,omitempty"`
	Lat   *float64 `json:"lat,omitempty"`
	Lon   *float64 `json:"lon,omitempty"`
	From  int64    `json:"from"`
	Until int64    `json:"until"`
}

// hazardDoc merges a hazard's record and its clearing, each the earliest of
// its kind, so a clearing that arrives before the record still counts.
type hazardDoc struct {
	hazardBody
	Recorded  stamp  `json:"recorded"`
	By        string `json:"by,omitempty"`
	Cleared   stamp  `json:"cleared"`
	ClearedBy string `json:"cleared_by,omitempty"`
}

func applyHazard(ctx context.Context, tx store.Tx, e *event.Event) error {
	id := subjectID(e.Subject)
	var doc hazardDoc
	if _, err := store.GetJSON(ctx, tx, docHazard, id, &doc); err != nil {
		return err
	}
	st := event.StampOf(e)
	switch e.Kind {
	case KindHazard:
		var b hazardBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return err
		}
		if !doc.Recorded.Zero() && !st.Before(doc.Recorded) {
			return nil
		}
		doc.hazardBody, doc.Recorded, doc.By = b, st, e.Actor
	case KindHazardCleared:
		if !doc.Cleared.Zero() && !st.Before(doc.Cleared) {
			return nil
		}
		doc.Cleared, doc.ClearedBy = st, e.Actor
	}
	return store.PutJSON(ctx, tx, docHazard, id, doc)
}
