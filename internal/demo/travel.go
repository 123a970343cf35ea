package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/registry"
)

// TravelOptions shape the demo caravan's journey.
type TravelOptions struct {
	// Seed drives every choice: the same seed and caravan give the same journey.
	Seed int64
	// Now is when the journey has got to: the last checkpoint was counted
	// in the hours before it, and live hazards run on after it. Every time
	// in the journey is reckoned from it (to the minute), so the same seed,
	// caravan and Now give the same journey. Zero means time.Now(). The
	// journey starts six days and ten hours before Now, and a node refuses
	// check-ins and marks more than 90 days old: Now must be recent.
	Now time.Time
	// IDs are the caravan's registry ids in the caravan's order, as Load
	// returns them; nil means reading the registration order from the
	// registry (the caravan must then be the last people registered).
	IDs []string
}

// Travelled says what Travel recorded.
type Travelled struct {
	Checkpoints []string `json:"checkpoints"`
	Checkins    int      `json:"checkins"`
	// NotSeenAtLast counts people seen at the one-but-last checkpoint and
	// not at the last, before anyone was marked found or as having left.
	NotSeenAtLast int `json:"not_seen_at_last"`
	Found         int `json:"found"`
	Left          int `json:"left"`
	Incidents     int `json:"incidents"`
	Hazards       int `json:"hazards"`
}

// The demo's checkpoints on the default route, and the day of the journey
// each is counted on (the 2018 caravan took about a week from San Pedro Sula
// to the Suchiate river).
var travelPlan = []struct {
	stage string
	day   int
}{{"san-pedro-sula", 0}, {"agua-caliente", 2}, {"tecun-uman", 5}, {"ciudad-hidalgo", 6}}

// Rates of what happens on the way, per checkpoint after the first.
const (
	pMissedByCounters  = 0.01  // there, but not scanned: seen again later
	pBorderDetainedUAC = 0.33  // unaccompanied groups held at the Honduran border
	pStraggle          = 0.004 // single adults who stay behind, unreported
	pTurnedBack        = 0.025 // households that turn back after the tear gas
	pStayOnBridge      = 0.02  // households that stay on the bridge to ask Mexico for asylum
	pSeparated         = 0.10  // families with someone left on the Guatemalan bank
	pChildOnBank       = 0.15  // unaccompanied children who did not make it across
	pHospital          = 0.03  // of people with a medical flag, taken to hospital after the gas
	pFoundLater        = 0.25  // of the separated, found by volunteers at the far bank
)

// person state during the simulation.
type walker struct {
	gone   bool   // no longer with the column
	reason string // if marked as having left
	stage  string // where they left
	at     time.Time
}

// Travel makes a caravan loaded with Load walk its first stages: check-ins
// at four checkpoints over six days, people lost at each crossing (a few
// hundred at the Suchiate river, families split), some of them marked found
// or as having left, and incidents and hazards along the way. It must
// follow the Load of the same caravan (it finds its people in registration
// order), and needs the default route (or one with the same stage ids).
func Travel(ctx context.Context, j *journey.Service, reg *registry.Service, led *ledger.Ledger, by auth.Principal, c Caravan, opt TravelOptions) (Travelled, error) {
	var out Travelled
	if len(c.People) == 0 {
		return out, nil
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	ids := opt.IDs
	if ids == nil {
		var err error
		if ids, err = reg.RegistrationOrder(ctx, by); err != nil {
			return out, err
		}
		if len(ids) < len(c.People) {
			return out, fmt.Errorf("travel: %d people registered, the caravan has %d: load it first", len(ids), len(c.People))
		}
		ids = ids[len(ids)-len(c.People):]
	} else if len(ids) != len(c.People) {
		return out, fmt.Errorf("travel: %d ids for a caravan of %d", len(ids), len(c.People))
	}
	route, err := j.Route(ctx, by)
	if err != nil {
		return out, err
	}
	for _, cp := range travelPlan {
		if route.Index(cp.stage) < 0 {
			return out, fmt.Errorf("travel: the route has no stage %q (the demo walks the default route)", cp.stage)
		}
	}
	rnd := rand.New(rand.NewPCG(uint64(opt.Seed), 0x74726176656c)) // "travel"
	chance := func(p float64) bool { return rnd.Float64() < p }
	now := opt.Now.UTC().Truncate(time.Minute)
	start := journeyStart(now)
	hasFlag := func(i int, f string) bool { return slices.Contains(c.People[i].Flags, f) }

	w := make([]walker, len(c.People))
	leave := func(i int, reason, stage string, at time.Time) {
		if !w[i].gone {
			w[i] = walker{gone: true, reason: reason, stage: stage, at: at}
		}
	}
	var found []int // people found at the far bank
	var prevSeen map[string]bool
	var incidents []journey.IncidentInput
	var checkins []ledger.Draft
	var detainedUAC, hospital []string

	for k, cp := range travelPlan {
		base := start.Add(time.Duration(cp.day) * 24 * time.Hour)
		at := func() time.Time { return base.Add(time.Duration(rnd.IntN(5*60)) * time.Minute) }
		// What happens before this checkpoint is counted.
		switch cp.stage {
		case "agua-caliente":
			for _, h := range c.Households {
				if h.Kind == KindUnaccompanied && chance(pBorderDetainedUAC) {
					for _, m := range h.Members {
						leave(m.Person, journey.LeftDetained, cp.stage, base)
						detainedUAC = append(detainedUAC, ids[m.Person])
					}
				}
				if h.Kind == KindSingle && chance(pStraggle) {
					leave(h.Members[0].Person, "", "", time.Time{})
				}
			}
		case "tecun-uman":
			for _, h := range c.Households {
				if h.Kind != KindUnaccompanied && chance(pTurnedBack) {
					reason := journey.LeftDeported
					if chance(0.35) {
						reason = "" // nobody told the volunteers
					}
					for _, m := range h.Members {
						leave(m.Person, reason, cp.stage, base)
					}
				}
			}
		case "ciudad-hidalgo":
			for _, h := range c.Households {
				switch {
				case h.Kind == KindUnaccompanied:
					for _, m := range h.Members {
						if chance(pChildOnBank) {
							leave(m.Person, "", "", time.Time{})
						}
					}
				case chance(pStayOnBridge):
					reason := journey.LeftAsylumMexico
					switch {
					case chance(0.3):
						reason = journey.LeftDetained
					case chance(0.45):
						reason = ""
					}
					for _, m := range h.Members {
						leave(m.Person, reason, "tecun-uman", base)
					}
				case len(h.Members) > 1 && chance(pSeparated):
					// One or two members did not get onto a raft.
					n := 1 + rnd.IntN(min(2, len(h.Members)-1))
					for _, x := range rnd.Perm(len(h.Members))[:n] {
						p := h.Members[x].Person
						if !w[p].gone {
							leave(p, "", "", time.Time{})
							if chance(pFoundLater) {
								found = append(found, p)
							}
						}
					}
				}
			}
			for i := range c.People {
				if !w[i].gone && hasFlag(i, FlagMedical) && chance(pHospital) {
					leave(i, journey.LeftHospital, "tecun-uman", base)
					hospital = append(hospital, ids[i])
				}
			}
		}
		var seen []journey.Seen
		for i := range c.People {
			if w[i].gone {
				continue
			}
			if k > 0 && chance(pMissedByCounters) {
				if k == len(travelPlan)-1 && chance(0.3) {
					found = append(found, i)
				}
				continue
			}
			seen = append(seen, journey.Seen{Person: ids[i], At: at()})
		}
		ds, err := j.PrepareCheckins(ctx, by, cp.stage, seen)
		if err != nil {
			return out, err
		}
		checkins = append(checkins, ds...)
		out.Checkpoints = append(out.Checkpoints, cp.stage)
		out.Checkins += len(seen)
		here := make(map[string]bool, len(seen))
		for _, s := range seen {
			here[s.Person] = true
		}
		if k == len(travelPlan)-1 {
			for id := range prevSeen {
				if !here[id] {
					out.NotSeenAtLast++
				}
			}
		}
		prevSeen = here
	}

	// The check-ins at every checkpoint are one commit: the pages they
	// share are written once, not once per checkpoint.
	if _, err := led.Append(ctx, by.Actor(), checkins); err != nil {
		return out, fmt.Errorf("travel: check-ins: %w", err)
	}

	// Volunteers mark what they learn: who was found on the far bank, who left.
	last := travelPlan[len(travelPlan)-1]
	lastAt := start.Add(time.Duration(last.day)*24*time.Hour + 6*time.Hour)
	// The marks are independent of one another: made concurrently, they
	// share the ledger's group commits.
	var marks []func() error
	slices.Sort(found)
	for _, i := range slices.Compact(found) {
		marks = append(marks, func() error {
			_, err := j.MarkFound(ctx, by, journey.PersonRef{Person: ids[i]}, last.stage)
			return err
		})
		out.Found++
	}
	for i := range w {
		if w[i].reason == "" {
			continue
		}
		marks = append(marks, func() error {
			_, err := j.MarkLeft(ctx, by, journey.PersonRef{Person: ids[i]}, w[i].reason, w[i].stage, w[i].at)
			return err
		})
		out.Left++
	}
	if err := runAll(marks, 32); err != nil {
		return out, fmt.Errorf("travel: marks: %w", err)
	}

	day := func(d int, h int) time.Time { return start.Add(time.Duration(d*24+h) * time.Hour) }
	lat, lon := 14.72, -89.95 // on CA-10 between Chiquimula and Guatemala City
	incidents = append(incidents,
		journey.IncidentInput{Kind: "detention", Severity: "severe", At: day(2, 1), Place: journey.Place{Stage: "agua-caliente"},
			People: refs(detainedUAC), Count: len(detainedUAC) + 6},
		journey.IncidentInput{Kind: "accident", Severity: "severe", At: day(3, 4), Place: journey.Place{Lat: &lat, Lon: &lon}, Count: 14},
		journey.IncidentInput{Kind: "tear_gas", Severity: "critical", At: day(5, 2), Place: journey.Place{Stage: "tecun-uman"}, Count: 600},
		journey.IncidentInput{Kind: "medical", Severity: "severe", At: day(5, 3), Place: journey.Place{Stage: "tecun-uman"},
			People: refs(hospital), Count: len(hospital) + 20},
		journey.IncidentInput{Kind: "deportation", Severity: "severe", At: day(5, 8), Place: journey.Place{Stage: "tecun-uman"}, Count: 90},
		journey.IncidentInput{Kind: "medical", Severity: "moderate", At: day(6, 3), Place: journey.Place{Stage: "ciudad-hidalgo"}, Count: 35},
	)
	for _, in := range incidents {
		if _, err := j.RecordIncident(ctx, by, in); err != nil {
			return out, fmt.Errorf("travel: incident %s: %w", in.Kind, err)
		}
		out.Incidents++
	}
	plat, plon := 14.80, -92.21 // the highway from Ciudad Hidalgo to Tapachula
	hazards := []journey.HazardInput{
		{Kind: "police_line", Place: journey.Place{Lat: &plat, Lon: &plon}, From: lastAt, Until: now.Add(36 * time.Hour)},
		{Kind: "trap", Place: journey.Place{Stage: "ciudad-hidalgo"}, From: lastAt, Until: now.Add(24 * time.Hour)},
		{Kind: "flooding", Place: journey.Place{Stage: "huixtla"}, From: now, Until: now.Add(72 * time.Hour)},
		{Kind: "dangerous_road", Place: journey.Place{Stage: "chiquimula"}, From: day(3, 0), Until: now.Add(48 * time.Hour)},
	}
	for i, in := range hazards {
		if !in.Until.After(time.Now()) {
			// A journey that got to Now days ago has hazards that have
			// expired since, and a node refuses an expired hazard.
			continue
		}
		h, err := j.RecordHazard(ctx, by, in)
		if err != nil {
			return out, fmt.Errorf("travel: hazard %s: %w", in.Kind, err)
		}
		out.Hazards++
		if i == len(hazards)-1 { // the road behind the column is no longer its problem
			if _, err := j.ClearHazard(ctx, by, h.ID); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// journeyStart is when a journey that has got to now started: six days
// and ten hours before, in the morning at San Pedro Sula.
func journeyStart(now time.Time) time.Time {
	return now.UTC().Truncate(time.Minute).Add(-6*24*time.Hour - 10*time.Hour)
}

// runAll runs fns with up to n at a time and returns the first error.
func runAll(fns []func() error, n int) error {
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for _, fn := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func refs(ids []string) []journey.PersonRef {
	out := make([]journey.PersonRef, len(ids))
	for i, id := range ids {
		out[i] = journey.PersonRef{Person: id}
	}
	return out
}
