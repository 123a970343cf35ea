package journey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// PersonRef names a person by card code (as typed or scanned) or by id.
type PersonRef = registry.PersonRef

// CheckinInput is one scan or search result at a checkpoint.
type CheckinInput struct {
	PersonRef
	// At is when the person was seen; zero means now. A page that queued
	// scans while offline sends each scan's own time.
	At time.Time `json:"at,omitzero"`
}

// Checkin is a person seen at a stage.
type Checkin struct {
	Person string    `json:"person"`
	Stage  string    `json:"stage"`
	At     time.Time `json:"at"`
	Via    string    `json:"via"` // "checkin" or "found"
	By     string    `json:"by"`
	// Repeat means the person was already checked in at this stage: no new
	// event was written and At is the first check-in's.
	Repeat bool `json:"repeat"`
	// Rejoined means the person had been marked as having left the
	// caravan; this check-in marks them back.
	Rejoined bool `json:"rejoined,omitempty"`
}

// CheckinResult is the answer to one input of a batch.
type CheckinResult struct {
	Checkin
	// Glance shows the person and their household so the volunteer can
	// recognise them and ask after the others.
	Glance *registry.Glance `json:"glance,omitempty"`
	// SeenHere lists the glance's household members (the person included)
	// already checked in at this stage.
	SeenHere []string `json:"seen_here,omitempty"`
	// Error says why this input was not recorded (e.g. a valid code that
	// nobody holds on this node); the other inputs were.
	Error *registry.FieldError `json:"error,omitempty"`
}

// MaxBatch is the most check-ins one call takes.
const MaxBatch = 500

// maxPast is how far back a check-in time may be: a phone offline for a
// month is plausible, a year is a wrong clock.
const maxPast = 90 * 24 * time.Hour

// checkTime validates a client-supplied time.
func (s *Service) checkTime(field string, at time.Time) *registry.FieldError {
	if at.IsZero() {
		return nil
	}
	now := s.now()
	switch {
	case at.After(now.Add(event.MaxDrift)):
		return &registry.FieldError{Field: field, Code: "future", Message: "is in the future"}
	case at.Before(now.Add(-maxPast)):
		return &registry.FieldError{Field: field, Code: "too_old", Message: "is more than 90 days ago"}
	}
	return nil
}

// resolve turns a parsed reference into a person id.
func (s *Service) resolve(ctx context.Context, p auth.Principal, ref PersonRef) (string, error) {
	if ref.Code != "" {
		return s.reg.ResolveCode(ctx, p, ref.Code)
	}
	ok, err := s.reg.Exists(ctx, p, []string{ref.Person})
	if err != nil {
		return "", err
	}
	if !ok[ref.Person] {
		return "", fmt.Errorf("person: %w", ErrNotFound)
	}
	return ref.Person, nil
}

// CheckIn records one person as seen at stage (see CheckInBatch). A code
// nobody holds returns an error wrapping ErrNotFound.
func (s *Service) CheckIn(ctx context.Context, p auth.Principal, stage string, in CheckinInput) (CheckinResult, error) {
	res, err := s.CheckInBatch(ctx, p, stage, []CheckinInput{in})
	if err != nil {
		return CheckinResult{}, err
	}
	if res[0].Error != nil {
		return res[0], fmt.Errorf("%s: %s: %w", res[0].Error.Field, res[0].Error.Message, ErrNotFound)
	}
	return res[0], nil
}

// CheckInBatch records people as seen at stage, in one durable commit
// together with the audit of every name it shows. Bad input anywhere (an
// unknown stage, a code whose check character is wrong, a time in the
// future) rejects the whole batch with a registry.ValidationError before
// any look-up, and changes nothing. A well-formed code that nobody holds
// here is reported in its result and the others are recorded. A person
// already checked in at the stage is not recorded again (Repeat).
func (s *Service) CheckInBatch(ctx context.Context, p auth.Principal, stage string, ins []CheckinInput) ([]CheckinResult, error) {
	if err := auth.Check(p, auth.CheckinRecord); err != nil {
		return nil, err
	}
	var v registry.ValidationError
	switch {
	case len(ins) == 0:
		return nil, invalid("checkins", "required", "at least one card code or person is required")
	case len(ins) > MaxBatch:
		return nil, invalid("checkins", "too_many", fmt.Sprintf("at most %d check-ins at once", MaxBatch))
	}
	refs := make([]PersonRef, len(ins))
	for i, in := range ins {
		field := fmt.Sprintf("checkins[%d]", i)
		ref, fe := registry.ParseRef(field, in.PersonRef)
		if fe != nil {
			v = append(v, *fe)
		}
		if fe := s.checkTime(field+".at", in.At); fe != nil {
			v = append(v, *fe)
		}
		refs[i] = ref
	}

	// One snapshot for everything: the route, who the references name,
	// their earlier check-ins here and statuses, their glances, and who of
	// each glance's households is already checked in here. Nothing is
	// looked up unless the whole batch is well formed.
	results := make([]CheckinResult, len(ins))
	ids := make([]string, len(ins))
	existing := map[string]checkinDoc{}
	left := map[string]bool{}
	here := map[string]bool{} // people of the glances checked in at stage
	var keys []string
	var audit []store.AuditEntry
	gen, snapStart := s.appended.generation(), time.Now()
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRouteShared(ctx, tx)
		if err != nil {
			return err
		}
		if stage == "" {
			v = append(registry.ValidationError{{Field: "stage", Code: "required", Message: "is required"}}, v...)
		} else if r.Index(stage) < 0 {
			v = append(registry.ValidationError{{Field: "stage", Code: "unknown_stage", Message: "is not a stage of the route"}}, v...)
		}
		if len(v) > 0 {
			return v
		}
		reg := s.reg.Reader(tx, p)
		for i, ref := range refs {
			id, err := reg.Resolve(ctx, ref)
			switch {
			case errors.Is(err, ErrNotFound):
				field := fmt.Sprintf("checkins[%d]", i)
				results[i].Error = &registry.FieldError{Field: field, Code: "not_found", Message: "no person registered on this node holds this card code"}
				if ref.Code == "" {
					results[i].Error.Message = "no person with this id"
				}
				continue
			case err != nil:
				return err
			}
			ids[i] = id
			keys = append(keys, id+"@"+stage)
			if _, read := existing[id]; !read && (here[id] || !isKnown(here, id)) {
				// Not read yet, or seen checked in only as another glance's
				// member (existence, not the document).
				found, err := s.readCheckin(ctx, tx, stage, id, existing)
				if err != nil {
					return err
				}
				here[id] = found
			}
			var sd statusDoc
			if found, err := store.GetJSON(ctx, tx, docStatus, id, &sd); err != nil {
				return err
			} else if found && sd.Left {
				left[id] = true
			}
			g, entries, err := reg.PrepareGlance(ctx, id, "checkin "+stage)
			if err != nil {
				return err
			}
			results[i].Glance = &g
			audit = append(audit, entries...)
			for _, h := range g.Households {
				for _, m := range h.Members {
					if _, ok := here[m.Person.ID]; ok {
						continue
					}
					_, err := tx.Get(ctx, checkinKind(stage), m.Person.ID)
					switch err {
					case nil:
						here[m.Person.ID] = true
					case store.ErrNotFound:
						here[m.Person.ID] = false
					default:
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The person ids are known only now: lock their pairs, then make sure
	// no scan of the same pairs was appended since the snapshot (see
	// appendLog); those few are looked at again.
	unlock := s.lockPairs(keys)
	defer unlock()
	again := s.appended.since(keys, gen)
	if time.Since(snapStart) > appendWindow/2 {
		again = keys // the log may have forgotten: look at every pair again
	}
	if len(again) > 0 {
		err := s.st.View(ctx, func(tx store.ReadTx) error {
			for _, id := range ids {
				if id == "" || !slices.Contains(again, id+"@"+stage) {
					continue
				}
				found, err := s.readCheckin(ctx, tx, stage, id, existing)
				if err != nil {
					return err
				}
				here[id] = found
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	var drafts []ledger.Draft
	now := s.now()
	batchSeen := map[string]int{} // person -> first result index in this batch
	stampAt := map[int]int{}      // draft index -> result index
	for i, id := range ids {
		if id == "" {
			continue
		}
		c := Checkin{Person: id, Stage: stage, Via: viaCheckin, By: p.Actor()}
		if d, ok := existing[id]; ok {
			c.Repeat, c.At, c.Via, c.By = true, time.UnixMilli(d.At).UTC(), d.Via, d.By
		} else if j, ok := batchSeen[id]; ok {
			c = results[j].Checkin
			c.Repeat, c.Rejoined = true, false
		} else {
			batchSeen[id] = i
			at := ins[i].At
			body := checkinBody{Person: id, Stage: stage}
			if !at.IsZero() {
				body.At = at.UnixMilli()
			} else {
				at = now
			}
			c.At = at.UTC().Truncate(time.Millisecond)
			if body.At == 0 {
				stampAt[len(drafts)] = i // At is the event's own time, known once written
			}
			drafts = append(drafts, ledger.Draft{Kind: KindCheckin, Subject: "person/" + id, Body: body})
			if left[id] {
				c.Rejoined = true
				drafts = append(drafts, ledger.Draft{Kind: KindRejoined, Subject: "person/" + id,
					Body: statusBody{Person: id, Stage: stage, At: body.At}})
			}
		}
		results[i].Checkin = c
	}
	if len(drafts) > 0 || len(audit) > 0 {
		// The check-ins and the audit of every name shown: one commit.
		evs, err := s.led.Append(ctx, p.Actor(), drafts, audit...)
		if err != nil {
			return nil, fmt.Errorf("check in: %w", err)
		}
		recorded := make([]string, 0, len(batchSeen))
		for id := range batchSeen {
			recorded = append(recorded, id+"@"+stage)
		}
		s.appended.record(recorded, time.Now())
		for d, i := range stampAt {
			results[i].At = evs[d].HLC.Time()
		}
		for i := range results {
			if j, ok := batchSeen[results[i].Person]; ok && j != i && results[i].Repeat {
				results[i].At = results[j].At
			}
		}
	}
	// Everyone in this batch is now checked in here: no need to read again.
	for _, id := range ids {
		if id != "" {
			here[id] = true
		}
	}
	fillSeenHere(results, here)
	return results, nil
}

// isKnown reports whether m has an entry for id.
func isKnown(m map[string]bool, id string) bool { _, ok := m[id]; return ok }

// readCheckin reads whether id was checked in at stage, filing the
// check-in in existing if so.
func (s *Service) readCheckin(ctx context.Context, tx store.ReadTx, stage, id string, existing map[string]checkinDoc) (bool, error) {
	d, found, err := getCheckin(ctx, tx, stage, id)
	if err != nil {
		return false, err
	}
	if found {
		existing[id] = d
	} else {
		delete(existing, id)
	}
	return found, nil
}

// fillSeenHere lists, in each glance, the household members (the person
// included) checked in at the stage, as here says.
func fillSeenHere(results []CheckinResult, here map[string]bool) {
	for i := range results {
		g := results[i].Glance
		if g == nil {
			continue
		}
		seen := map[string]bool{}
		for _, h := range g.Households {
			for _, m := range h.Members {
				if id := m.Person.ID; here[id] && !seen[id] {
					seen[id] = true
					results[i].SeenHere = append(results[i].SeenHere, id)
				}
			}
		}
		if len(g.Households) == 0 && results[i].Person != "" {
			results[i].SeenHere = []string{results[i].Person}
		}
	}
}

// Seen is one person seen at a time, for bulk loads.
type Seen struct {
	Person string
	At     time.Time // zero: the event's own time
}

// PrepareCheckins builds check-in events for many people at one stage
// without writing them, for bulk loads (the demo) that append many in one
// commit. It reads no names and checks no duplicates (the projection keeps
// one check-in per person and stage whatever it is given).
func (s *Service) PrepareCheckins(ctx context.Context, p auth.Principal, stage string, seen []Seen) ([]ledger.Draft, error) {
	if err := auth.Check(p, auth.CheckinRecord); err != nil {
		return nil, err
	}
	r, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if r.Index(stage) < 0 {
		return nil, invalid("stage", "unknown_stage", "is not a stage of the route")
	}
	out := make([]ledger.Draft, len(seen))
	for i, x := range seen {
		var ms int64
		if !x.At.IsZero() {
			ms = x.At.UnixMilli()
		}
		out[i] = ledger.Draft{Kind: KindCheckin, Subject: "person/" + x.Person, Body: checkinBody{Person: x.Person, Stage: stage, At: ms}}
	}
	return out, nil
}

// StageProgress is how far the count at a stage has got: how many were
// seen here, and how many of those seen at the previous checkpoint.
type StageProgress struct {
	Stage          Stage  `json:"stage"`
	Seen           int    `json:"seen"`
	Previous       *Stage `json:"previous,omitempty"`
	SeenAtPrevious int    `json:"seen_at_previous"`
}

// Progress returns the running count at a stage for a checkpoint page.
func (s *Service) Progress(ctx context.Context, p auth.Principal, stage string) (StageProgress, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return StageProgress{}, err
	}
	var out StageProgress
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		seen, err := seenStages(ctx, tx)
		if err != nil {
			return err
		}
		i, err := s.stageOrLatest(ctx, tx, r, "stage", stage)
		if err != nil {
			return err
		}
		out.Stage, out.Seen = r.Stages[i], seen[r.Stages[i].ID]
		for j := i - 1; j >= 0; j-- {
			if n := seen[r.Stages[j].ID]; n > 0 {
				prev := r.Stages[j]
				out.Previous, out.SeenAtPrevious = &prev, n
				break
			}
		}
		return nil
	})
	return out, err
}
