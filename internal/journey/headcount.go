package journey

import (
	"context"
	"fmt"
	"time"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// HeadcountQuery narrows a headcount.
type HeadcountQuery struct {
	// Stage limits the rows to one stage; "" gives every stage.
	Stage string `json:"stage,omitempty"`
	// From and To (either may be zero) count only check-ins in [From, To).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// StageHeadcount is what was counted at one stage.
type StageHeadcount struct {
	Stage Stage `json:"stage"`
	// Seen counts distinct people checked in (or found) here, in the window.
	Seen     int              `json:"seen"`
	Found    int              `json:"found"` // of Seen, marked found rather than scanned
	Children int              `json:"children"`
	AgeBands []registry.Count `json:"age_bands"`
	// Flags counts the vulnerability flags the role may see.
	Flags []registry.Count `json:"flags"`
	// NotSeenSince counts people whose last sighting on the route is this
	// stage and who have not left the caravan (whatever the window).
	NotSeenSince int `json:"not_seen_since"`
}

// Headcount is the counting across the route.
type Headcount struct {
	Registered int `json:"registered"`
	// SeenAnywhere counts registered people seen at least once.
	SeenAnywhere int `json:"seen_anywhere"`
	// NeverSeen counts registered people never checked in, not left.
	NeverSeen int              `json:"never_seen"`
	Left      int              `json:"left"`
	LeftBy    []registry.Count `json:"left_by"`
	From      time.Time        `json:"from,omitzero"`
	To        time.Time        `json:"to,omitzero"`
	Stages    []StageHeadcount `json:"stages"`
}

// Headcounts counts people seen per stage by age band and vulnerability,
// optionally in a time window, and how many have not been seen since each
// stage. It opens ages and flags in memory (audited as one aggregate read)
// and names nobody.
func (s *Service) Headcounts(ctx context.Context, p auth.Principal, q HeadcountQuery) (Headcount, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return Headcount{}, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return Headcount{}, invalid("to", "invalid", "must be after from")
	}
	var hc Headcount
	hc.From, hc.To = q.From, q.To
	type stageSeen struct {
		st  Stage
		ids set
		at  map[string]int64
		via map[string]bool // found
	}
	var rows []stageSeen
	var last map[string]int
	var left map[string]statusDoc
	var route Route
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		route = r
		if q.Stage != "" && r.Index(q.Stage) < 0 {
			return invalid("stage", "unknown_stage", "is not a stage of the route")
		}
		seen, err := seenStages(ctx, tx)
		if err != nil {
			return err
		}
		if last, err = lastSeen(ctx, tx, r, seen); err != nil {
			return err
		}
		if left, err = leftPeople(ctx, tx); err != nil {
			return err
		}
		for _, st := range r.Stages {
			if q.Stage != "" && st.ID != q.Stage {
				continue
			}
			row := stageSeen{st: st, ids: set{}, via: map[string]bool{}}
			if seen[st.ID] > 0 {
				err := tx.Scan(ctx, checkinKind(st.ID), func(id string, data []byte) error {
					d, err := decodeCheckinDoc(data)
					if err != nil {
						return fmt.Errorf("check-in %s at %s: %w", id, st.ID, err)
					}
					at := time.UnixMilli(d.At)
					if (!q.From.IsZero() && at.Before(q.From)) || (!q.To.IsZero() && !at.Before(q.To)) {
						return nil
					}
					row.ids[id] = struct{}{}
					if d.Via == viaFound {
						row.via[id] = true
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		return Headcount{}, err
	}
	facts, err := s.reg.Facts(ctx, p, nil, "headcounts")
	if err != nil {
		return Headcount{}, err
	}
	hc.Registered = len(facts)
	leftBy := map[string]int{}
	for id, d := range left {
		if _, ok := facts[id]; ok {
			hc.Left++
			leftBy[d.Reason]++
		}
	}
	for _, reason := range LeftReasons {
		hc.LeftBy = append(hc.LeftBy, registry.Count{Key: reason, Value: leftBy[reason]})
	}
	notSince := map[int]int{}
	for id := range facts {
		i, ok := last[id]
		if ok {
			hc.SeenAnywhere++
		}
		if _, gone := left[id]; gone {
			continue
		}
		if ok {
			notSince[i]++
		} else {
			hc.NeverSeen++
		}
	}
	visibleFlags := []string{}
	for _, f := range auth.Flags {
		if auth.CanSeeFlag(p.Role, f) {
			visibleFlags = append(visibleFlags, f)
		}
	}
	hc.Stages = make([]StageHeadcount, 0, len(rows))
	for _, row := range rows {
		sh := StageHeadcount{Stage: row.st, Seen: len(row.ids), Found: len(row.via), NotSeenSince: notSince[route.Index(row.st.ID)]}
		bands := map[string]int{}
		flags := map[string]int{}
		for id := range row.ids {
			f, ok := facts[id]
			if !ok {
				bands[registry.AgeBand(0, false)]++
				continue
			}
			bands[f.AgeBand]++
			if f.Child {
				sh.Children++
			}
			for _, fl := range f.Flags {
				flags[fl]++
			}
		}
		sh.AgeBands = bandCounts(bands)
		for _, f := range visibleFlags {
			sh.Flags = append(sh.Flags, registry.Count{Key: f, Value: flags[f]})
		}
		hc.Stages = append(hc.Stages, sh)
	}
	return hc, nil
}

// bandCounts lists the age bands in order, "unknown" last and only if any.
func bandCounts(m map[string]int) []registry.Count {
	out := make([]registry.Count, 0, len(registry.AgeBands)+1)
	for _, b := range registry.AgeBands {
		out = append(out, registry.Count{Key: b.Key, Value: m[b.Key]})
	}
	if n := m[registry.AgeBand(0, false)]; n > 0 {
		out = append(out, registry.Count{Key: registry.AgeBand(0, false), Value: n})
	}
	return out
}

// Column is where the caravan is: the stage most people (not left) were
// last seen at, ties going to the furthest.
type Column struct {
	Stage *Stage `json:"stage,omitempty"` // nil before any check-in
	// People is how many were last seen there.
	People int `json:"people"`
	// CoveredKm and LeftKm split the route at the column.
	CoveredKm float64 `json:"covered_km"`
	LeftKm    float64 `json:"left_km"`
}

func column(r Route, last map[string]int, left map[string]statusDoc) Column {
	counts := make([]int, len(r.Stages))
	for id, i := range last {
		if _, gone := left[id]; !gone {
			counts[i]++
		}
	}
	best := -1
	for i, n := range counts {
		if n > 0 && (best < 0 || n >= counts[best]) {
			best = i
		}
	}
	c := Column{LeftKm: r.Length()}
	if len(r.Stages) > 0 {
		c.LeftKm = r.Length() - r.Stages[0].Km
	}
	if best >= 0 {
		st := r.Stages[best]
		c.Stage, c.People = &st, counts[best]
		c.CoveredKm = st.Km - r.Stages[0].Km
		c.LeftKm = r.Length() - st.Km
	}
	return c
}

// ColumnPosition returns where the column is now.
func (s *Service) ColumnPosition(ctx context.Context, p auth.Principal) (Column, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return Column{}, err
	}
	var c Column
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		c, _, err = s.readColumn(ctx, tx)
		return err
	})
	return c, err
}

func (s *Service) readColumn(ctx context.Context, tx store.ReadTx) (Column, Route, error) {
	r, err := s.readRoute(ctx, tx)
	if err != nil {
		return Column{}, r, err
	}
	seen, err := seenStages(ctx, tx)
	if err != nil {
		return Column{}, r, err
	}
	last, err := lastSeen(ctx, tx, r, seen)
	if err != nil {
		return Column{}, r, err
	}
	left, err := leftPeople(ctx, tx)
	if err != nil {
		return Column{}, r, err
	}
	return column(r, last, left), r, nil
}
