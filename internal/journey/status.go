package journey

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// Reasons someone leaves the caravan.
const (
	LeftDeported     = "deported"
	LeftDetained     = "detained"
	LeftStayed       = "stayed"
	LeftAsylumMexico = "asylum_mexico"
	LeftHospital     = "hospital"
	LeftDied         = "died"
)

// LeftReasons lists the reasons in display order.
var LeftReasons = []string{LeftDeported, LeftDetained, LeftStayed, LeftAsylumMexico, LeftHospital, LeftDied}

// Status is whether a person has left the caravan, and why.
type Status struct {
	Person string    `json:"person"`
	Left   bool      `json:"left"`
	Reason string    `json:"reason,omitempty"`
	Stage  string    `json:"stage,omitempty"`
	At     time.Time `json:"at,omitzero"`
	By     string    `json:"by,omitempty"`
	// Unchanged means the person already had this status: nothing was written.
	Unchanged bool `json:"unchanged,omitempty"`
}

func statusOf(id string, d statusDoc, found bool) Status {
	if !found {
		return Status{Person: id}
	}
	return Status{Person: id, Left: d.Left, Reason: d.Reason, Stage: d.Stage, At: time.UnixMilli(d.At).UTC(), By: d.By}
}

func (s *Service) refToID(ctx context.Context, p auth.Principal, ref PersonRef) (string, error) {
	ref, fe := registry.ParseRef("person", ref)
	if fe != nil {
		return "", registry.ValidationError{*fe}
	}
	return s.resolve(ctx, p, ref)
}

// MarkFound records that a person missing at a stage was found there (by
// a volunteer, at a clinic, with another group): they count as seen at the
// stage and leave its missing list. stage "" means the latest checkpoint.
// Someone already seen at the stage is left as they are (Repeat).
func (s *Service) MarkFound(ctx context.Context, p auth.Principal, ref PersonRef, stage string) (Checkin, error) {
	if err := auth.Check(p, auth.MissingMark); err != nil {
		return Checkin{}, err
	}
	id, err := s.refToID(ctx, p, ref)
	if err != nil {
		return Checkin{}, err
	}
	var st Stage
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		i, err := s.stageOrLatest(ctx, tx, r, "stage", stage)
		if err == nil {
			st = r.Stages[i]
		}
		return err
	})
	if err != nil {
		return Checkin{}, err
	}
	// Locked before looking, as check-ins are: a scan and a mark racing
	// each other write one event.
	unlock := s.lockPairs([]string{id + "@" + st.ID})
	defer unlock()
	var cur checkinDoc
	var seen bool
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		cur, seen, err = getCheckin(ctx, tx, st.ID, id)
		return err
	})
	if err != nil {
		return Checkin{}, err
	}
	if seen {
		return Checkin{Person: id, Stage: st.ID, At: time.UnixMilli(cur.At).UTC(), Via: cur.Via, By: cur.By, Repeat: true}, nil
	}
	drafts := []ledger.Draft{{Kind: KindFound, Subject: "person/" + id, Body: checkinBody{Person: id, Stage: st.ID}}}
	c := Checkin{Person: id, Stage: st.ID, Via: viaFound, By: p.Actor()}
	status, err := s.status(ctx, id)
	if err != nil {
		return Checkin{}, err
	}
	if status.Left {
		// Found means with the caravan again: whoever marked them as gone
		// was wrong or out of date.
		drafts = append(drafts, ledger.Draft{Kind: KindRejoined, Subject: "person/" + id, Body: statusBody{Person: id, Stage: st.ID}})
		c.Rejoined = true
	}
	evs, err := s.led.Append(ctx, p.Actor(), drafts)
	if err != nil {
		return Checkin{}, fmt.Errorf("mark found: %w", err)
	}
	s.appended.record([]string{id + "@" + st.ID}, time.Now())
	c.At = evs[0].HLC.Time()
	return c, nil
}

func (s *Service) status(ctx context.Context, id string) (Status, error) {
	var d statusDoc
	var found bool
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		found, err = store.GetJSON(ctx, tx, docStatus, id, &d)
		return err
	})
	return statusOf(id, d, found), err
}

// MarkLeft records that a person left the caravan (deported, detained,
// stayed, asylum in Mexico, in hospital, died): they leave every missing
// list from then on. stage, if given, is where; at, if not zero, when.
func (s *Service) MarkLeft(ctx context.Context, p auth.Principal, ref PersonRef, reason, stage string, at time.Time) (Status, error) {
	if err := auth.Check(p, auth.MissingMark); err != nil {
		return Status{}, err
	}
	var v registry.ValidationError
	if !slices.Contains(LeftReasons, reason) {
		v = append(v, registry.FieldError{Field: "reason", Code: "invalid", Message: "must be one of " + strings.Join(LeftReasons, ", ")})
	}
	if fe := s.checkTime("at", at); fe != nil {
		v = append(v, *fe)
	}
	if stage != "" {
		r, err := s.route(ctx)
		if err != nil {
			return Status{}, err
		}
		if r.Index(stage) < 0 {
			v = append(v, registry.FieldError{Field: "stage", Code: "unknown_stage", Message: "is not a stage of the route"})
		}
	}
	if _, fe := registry.ParseRef("person", ref); fe != nil {
		v = append(v, *fe)
	}
	if len(v) > 0 {
		return Status{}, v
	}
	id, err := s.refToID(ctx, p, ref)
	if err != nil {
		return Status{}, err
	}
	cur, err := s.status(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if cur.Left && cur.Reason == reason && (stage == "" || cur.Stage == stage) {
		cur.Unchanged = true
		return cur, nil
	}
	body := statusBody{Person: id, Reason: reason, Stage: stage}
	if !at.IsZero() {
		body.At = at.UnixMilli()
	}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindLeft, Subject: "person/" + id, Body: body}}); err != nil {
		return Status{}, fmt.Errorf("mark left: %w", err)
	}
	return s.status(ctx, id)
}

// MarkRejoined records that a person marked as having left is with the
// caravan again (a deported man catching up, a wrong report).
func (s *Service) MarkRejoined(ctx context.Context, p auth.Principal, ref PersonRef) (Status, error) {
	if err := auth.Check(p, auth.MissingMark); err != nil {
		return Status{}, err
	}
	id, err := s.refToID(ctx, p, ref)
	if err != nil {
		return Status{}, err
	}
	cur, err := s.status(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if !cur.Left {
		cur.Unchanged = true
		return cur, nil
	}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindRejoined, Subject: "person/" + id, Body: statusBody{Person: id}}}); err != nil {
		return Status{}, fmt.Errorf("mark rejoined: %w", err)
	}
	return s.status(ctx, id)
}

// Sighting is one stage a person was seen at.
type Sighting struct {
	Stage string    `json:"stage"`
	Name  string    `json:"name"`
	Km    float64   `json:"km"`
	At    time.Time `json:"at"`
	Via   string    `json:"via"`
}

// Trail is a person's journey so far: where they were seen, and whether
// they left the caravan. No names: a person page adds those.
type Trail struct {
	Person string     `json:"person"`
	Seen   []Sighting `json:"seen"`
	Status Status     `json:"status"`
}

// Trail returns where a person was seen, in route order.
func (s *Service) Trail(ctx context.Context, p auth.Principal, id string) (Trail, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return Trail{}, err
	}
	t := Trail{Person: id, Seen: []Sighting{}}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		for _, st := range r.Stages {
			d, found, err := getCheckin(ctx, tx, st.ID, id)
			if err != nil {
				return err
			}
			if found {
				t.Seen = append(t.Seen, Sighting{Stage: st.ID, Name: st.Name, Km: st.Km, At: time.UnixMilli(d.At).UTC(), Via: d.Via})
			}
		}
		var sd statusDoc
		found, err := store.GetJSON(ctx, tx, docStatus, id, &sd)
		t.Status = statusOf(id, sd, found)
		return err
	})
	return t, err
}
