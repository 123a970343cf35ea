package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"caravana/internal/linkage"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// minFitPeople is how many people the registry needs before the model is
// fitted to its own data; below it the engine's prior is used.
const minFitPeople = 200

// matcher keeps two in-memory linkage indexes in step with the log: the
// people who consented to tracing (merged duplicates left out), and the
// open reports. It follows the log by version vector, so events from this
// node, from a sync or from a bundle are all picked up the same way.
type matcher struct {
	svc *Service
	log *slog.Logger

	mu      sync.Mutex // one catch-up at a time
	loaded  bool
	seen    map[string]uint64
	people  *linkage.Index
	reports *linkage.Index
	// fittedAt is the people count when the model was last fitted; a
	// refit starts in the background once the registry grows by a quarter.
	fittedAt int
	fitting  bool
	// firstFit is closed when the first fit ends (or is not needed):
	// until then the prior model would rank differently from the fitted
	// one, so queries wait for it (a short wait, once per process).
	firstFit     chan struct{}
	firstFitOnce sync.Once
}

// maxFitWait bounds how long a query waits for the first fit.
const maxFitWait = 30 * time.Second

// waitFitted waits for the first fit of this process, if one is running.
func (m *matcher) waitFitted(ctx context.Context) {
	t := time.NewTimer(maxFitWait)
	defer t.Stop()
	select {
	case <-m.firstFit:
	case <-ctx.Done():
	case <-t.C:
	}
}

func newMatcher(s *Service, log *slog.Logger) *matcher {
	return &matcher{svc: s, log: log, people: linkage.NewIndex(linkage.PersonFields),
		reports: linkage.NewIndex(linkage.PersonFields), firstFit: make(chan struct{})}
}

// catchUp brings both indexes up to the log's current state.
func (m *matcher) catchUp(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var vec map[string]uint64
	if err := m.svc.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		vec, err = tx.Vector(ctx)
		return err
	}); err != nil {
		return err
	}
	if !m.loaded {
		// Ages given without a birth date are blocked by the birth years
		// they imply on this date.
		now := m.svc.now()
		m.people.SetAsOf(now)
		m.reports.SetAsOf(now)
		// Everything up to vec (and perhaps a little after: putting a
		// record twice is harmless) is loaded from the projections.
		if err := m.svc.reg.EachLinkFacts(ctx, nil, m.putPerson); err != nil {
			return fmt.Errorf("tracing: load people: %w", err)
		}
		if err := m.loadReports(ctx, nil); err != nil {
			return err
		}
		m.seen, m.loaded = vec, true
		m.maybeFit()
		return nil
	}
	people, reports := map[string]bool{}, map[string]bool{}
	for node, hi := range vec {
		after := m.seen[node]
		for after < hi {
			var evs []eventRef
			err := m.svc.st.View(ctx, func(tx store.ReadTx) error {
				es, err := tx.Events(ctx, node, after, 2000)
				for _, e := range es {
					evs = append(evs, eventRef{kind: e.Kind, subject: e.Subject, seq: e.Seq})
				}
				return err
			})
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			for _, e := range evs {
				switch {
				case strings.HasPrefix(e.kind, "person."):
					people[subjectID(e.subject)] = true
				case strings.HasPrefix(e.kind, "trace.") && e.kind != KindDistinct:
					reports[subjectID(e.subject)] = true
				}
				after = e.seq
			}
		}
		m.seen[node] = after
	}
	if len(people) > 0 {
		ids := make([]string, 0, len(people))
		for id := range people {
			ids = append(ids, id)
			m.people.Delete(id) // put back below if still traceable
		}
		if err := m.svc.reg.EachLinkFacts(ctx, ids, m.putPerson); err != nil {
			return fmt.Errorf("tracing: update people: %w", err)
		}
		m.maybeFit()
	}
	if len(reports) > 0 {
		ids := make([]string, 0, len(reports))
		for id := range reports {
			ids = append(ids, id)
			m.reports.Delete(id)
		}
		if err := m.loadReports(ctx, ids); err != nil {
			return err
		}
	}
	return nil
}

type eventRef struct {
	kind, subject string
	seq           uint64
}

func (m *matcher) putPerson(f registry.LinkFacts) error {
	if !f.Tracing || f.Merged {
		m.people.Delete(f.ID)
		return nil
	}
	m.people.Put(personRecord(f, m.svc.now()))
	return nil
}

// loadReports puts the open reports among ids (every report when nil)
// into the report index.
func (m *matcher) loadReports(ctx context.Context, ids []string) error {
	docs, err := m.svc.loadReports(ctx, ids)
	if err != nil {
		return fmt.Errorf("tracing: load reports: %w", err)
	}
	now := m.svc.now()
	for _, d := range docs {
		if d.Reported == 0 || d.status() != StatusOpen {
			m.reports.Delete(d.ID)
			continue
		}
		r, err := m.svc.open(&d)
		if err != nil {
			return err
		}
		m.reports.Put(reportRecord(r, now))
	}
	return nil
}

// maybeFit refits the model in the background when the registry has grown
// enough since the last fit. The caller holds m.mu.
func (m *matcher) maybeFit() {
	n := m.people.Len()
	if n < minFitPeople && !m.fitting {
		m.firstFitOnce.Do(func() { close(m.firstFit) }) // too few to fit: the prior it is
	}
	if m.fitting || n < minFitPeople || (m.fittedAt > 0 && n*4 < m.fittedAt*5) {
		return
	}
	m.fitting = true
	go func() {
		model, err := m.people.Fit()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.fitting = false
		m.firstFitOnce.Do(func() { close(m.firstFit) })
		if err != nil {
			m.log.Warn("tracing: fitting the match model failed; the previous model stays", "err", err)
			return
		}
		m.fittedAt = n
		m.reports.SetModel(model)
	}()
}

// personRecord is what the engine compares of a registered person.
func personRecord(f registry.LinkFacts, now time.Time) linkage.Record {
	age := ""
	if d, err := time.Parse(time.DateOnly, f.BirthDate); err == nil {
		age = strconv.Itoa(registry.AgeOn(d, now))
	}
	return linkage.Record{ID: f.ID, Values: []string{
		f.GivenNames, strings.TrimSpace(f.Surname1 + " " + f.Surname2), f.BirthDate, age, f.Sex, f.OriginTown, f.Nationality,
	}}
}

// reportRecord is what the engine compares of a report: the age given is
// moved on by the time since the report.
func reportRecord(r Report, now time.Time) linkage.Record {
	age := ""
	if d, err := time.Parse(time.DateOnly, r.BirthDate); err == nil {
		age = strconv.Itoa(registry.AgeOn(d, now))
	} else if r.Age != nil {
		years := 0
		if !r.Reported.IsZero() && now.After(r.Reported) {
			years = int(now.Sub(r.Reported).Hours() / 24 / 365.25)
		}
		age = strconv.Itoa(*r.Age + years)
	}
	return linkage.Record{ID: r.ID, Values: []string{
		r.GivenNames, r.Surnames, r.BirthDate, age, r.Sex, r.OriginTown, r.Nationality,
	}}
}
