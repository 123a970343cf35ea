package tracing

import (
	"context"
	"fmt"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/linkage"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// Duplicate is a pair of registrations that may be the same person.
type Duplicate struct {
	A           registry.Person     `json:"a"`
	B           registry.Person     `json:"b"`
	Probability float64             `json:"probability"`
	Weight      float64             `json:"weight"`
	Fields      []linkage.Agreement `json:"fields"`
}

// Duplicates lists likely duplicate registrations among the people who
// consented to tracing, best first, at most limit, at or above min
// probability, leaving out pairs marked as different people. Showing the
// pairs is a read of both people, audited.
func (s *Service) Duplicates(ctx context.Context, p auth.Principal, min float64, limit int) ([]Duplicate, error) {
	if err := auth.Check(p, auth.DuplicatesRead); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	if err := s.m.catchUp(ctx); err != nil {
		return nil, err
	}
	s.m.waitFitted(ctx)
	var distinct map[string]bool
	if err := s.st.View(ctx, func(tx store.ReadTx) error {
		distinct = map[string]bool{}
		return tx.Scan(ctx, docDistinct, func(id string, _ []byte) error {
			distinct[id] = true
			return nil
		})
	}); err != nil {
		return nil, err
	}
	var pairs []linkage.DupPair
	for _, d := range s.m.people.Duplicates(min, limit+len(distinct)) {
		if !distinct[distinctKey(d.A, d.B)] {
			pairs = append(pairs, d)
		}
		if len(pairs) == limit {
			break
		}
	}
	ids := make([]string, 0, 2*len(pairs))
	for _, d := range pairs {
		ids = append(ids, d.A, d.B)
	}
	people, err := s.reg.GetMany(ctx, p, ids, "duplicates")
	if err != nil {
		return nil, err
	}
	byID := map[string]registry.Person{}
	for _, x := range people {
		byID[x.ID] = x
	}
	out := make([]Duplicate, 0, len(pairs))
	for _, d := range pairs {
		a, okA := byID[d.A]
		b, okB := byID[d.B]
		if okA && okB {
			out = append(out, Duplicate{A: a, B: b, Probability: d.Probability, Weight: d.Weight, Fields: explainFor(p, d.Fields)})
		}
	}
	return out, nil
}

// Distinct records that two registrations are different people, so the
// pair is not offered as a duplicate again.
func (s *Service) Distinct(ctx context.Context, p auth.Principal, a, b string) error {
	if err := auth.Check(p, auth.DuplicatesRead); err != nil {
		return err
	}
	if a == b {
		return invalid("people", "same", "name two different people")
	}
	found, err := s.reg.Exists(ctx, p, []string{a, b})
	if err != nil {
		return err
	}
	if !found[a] || !found[b] {
		return fmt.Errorf("person: %w", ErrNotFound)
	}
	if b < a {
		a, b = b, a
	}
	_, err = s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindDistinct, Subject: "person/" + a,
		Body: distinctBody{People: []string{a, b}}}})
	return err
}

// Merge merges the duplicate registration dup into keep (registry.Merge):
// both histories stay; dup leaves the lists, the figures and tracing.
func (s *Service) Merge(ctx context.Context, p auth.Principal, keep, dup string) error {
	return s.reg.Merge(ctx, p, keep, dup)
}

// Decision is one node's closing decision on a report.
type Decision struct {
	Outcome string    `json:"outcome"` // reunited, located, withdrawn
	Match   string    `json:"match,omitempty"`
	Node    string    `json:"node"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// ReportConflict is a report two nodes closed differently.
type ReportConflict struct {
	ID        string     `json:"id"`
	Decisions []Decision `json:"decisions"` // earliest (the one that stands) first
}

// Conflicts lists reports closed differently on two nodes that no
// coordinator has reviewed since.
func (s *Service) Conflicts(ctx context.Context, p auth.Principal) ([]ReportConflict, error) {
	if err := auth.Check(p, auth.ConflictsRead); err != nil {
		return nil, err
	}
	docs, err := s.loadReports(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []ReportConflict
	for _, d := range docs {
		if !d.conflicted() {
			continue
		}
		rc := ReportConflict{ID: d.ID}
		for _, c := range d.Closures {
			dec := Decision{Outcome: c.Outcome, Match: subjectID(c.Candidate), Node: c.N, By: c.By, At: c.T.Time()}
			if c.Kind == KindWithdrawn {
				dec.Outcome, dec.Match = "withdrawn", ""
			}
			rc.Decisions = append(rc.Decisions, dec)
		}
		out = append(out, rc)
	}
	return out, nil
}

// Review records that a coordinator has looked at a report closed
// differently on two nodes: the earliest decision stands, and the report
// leaves the conflicts list until another decision arrives.
func (s *Service) Review(ctx context.Context, p auth.Principal, id string) error {
	if err := auth.Check(p, auth.ConflictResolve); err != nil {
		return err
	}
	docs, err := s.loadReports(ctx, []string{id})
	if err != nil {
		return err
	}
	if len(docs) == 0 || docs[0].Reported == 0 {
		return fmt.Errorf("report %s: %w", id, ErrNotFound)
	}
	var seen []string
	for _, c := range docs[0].Closures {
		seen = append(seen, c.key())
	}
	_, err = s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindReviewed, Subject: reportEntity(id),
		Body: decisionBody{Reviewed: seen}}})
	return err
}
