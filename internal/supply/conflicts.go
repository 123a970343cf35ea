package supply

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

// Conflict is more than one distribution of an item to one household in
// one period: two nodes that could not see each other each gave it, or a
// coordinator overrode the rule. Every side is kept (and counted in
// stock) until a coordinator reviews it.
type Conflict struct {
	// Key names the conflict: household+item+period ("person:<id>" for
	// someone with no household).
	Key       string         `json:"key"`
	Household string         `json:"household,omitempty"`
	Person    string         `json:"person,omitempty"` // the unit, when it is a person with no household
	Item      string         `json:"item"`
	Period    string         `json:"period"`
	Sides     []Distribution `json:"sides"`
	// Reviews are earlier reviews that did not see every side.
	Reviews []Review `json:"reviews,omitempty"`
}

// Review is a coordinator's review of a conflict.
type Review struct {
	Outcome string    `json:"outcome"`
	Note    string    `json:"note,omitempty"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Node    string    `json:"node"`
}

func (d entDoc) conflict(key string) Conflict {
	c := Conflict{Key: key, Item: d.Item, Period: d.Period}
	if p, ok := strings.CutPrefix(d.Unit, personUnit); ok {
		c.Person = p
	} else {
		c.Household = d.Unit
	}
	for _, sd := range d.Sides {
		c.Sides = append(c.Sides, sd.distribution(d.Unit, d.Item, d.Period))
	}
	for _, r := range d.Reviews {
		c.Reviews = append(c.Reviews, Review{Outcome: r.Outcome, Note: r.Note, By: r.By, At: r.T.Time(), Node: r.N})
	}
	return c
}

// noteEntity is what a review note is sealed to: the conflict it settles.
func noteEntity(key string) string { return "distribution/" + key }

// Conflicts lists the open distribution conflicts, by key.
func (s *Service) Conflicts(ctx context.Context, p auth.Principal) ([]Conflict, error) {
	if err := auth.Check(p, auth.ConflictsRead); err != nil {
		return nil, err
	}
	var out []Conflict
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return store.EachIndexedJSON(ctx, tx, idxOpen, openKey, docEnt, func(k string, d *entDoc) error {
			if d.Open {
				out = append(out, d.conflict(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Review notes are sealed (they may name someone): opened here, and
	// each one shown is an audited read.
	var audit []store.AuditEntry
	for i := range out {
		for j := range out[i].Reviews {
			r := &out[i].Reviews[j]
			if r.Note == "" {
				continue
			}
			if r.Note, err = s.reg.OpenNote(noteEntity(out[i].Key), r.Note); err != nil {
				return nil, err
			}
			audit = append(audit, store.AuditEntry{Actor: p.Actor(), Action: "supply.note.read", Record: noteEntity(out[i].Key), Detail: "conflicts"})
		}
	}
	if len(audit) > 0 {
		if err := s.led.Audit(ctx, audit...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Review closes a distribution conflict: outcome is Accepted (the family
// keeps both) or Recovered (one was given back), with a note saying what
// was done (sealed: it may name someone). The review settles the sides
// this node knows; a distribution it did not know of opens the conflict
// again on every node once it arrives.
func (s *Service) Review(ctx context.Context, p auth.Principal, key, outcome, note string) error {
	if err := auth.Check(p, auth.ConflictResolve); err != nil {
		return err
	}
	key, outcome, note = strings.TrimSpace(key), strings.TrimSpace(outcome), strings.TrimSpace(note)
	var v registry.ValidationError
	if _, _, _, ok := splitKey(key); !ok {
		v.Add("distribution", "invalid", "is not a distribution conflict key (household+item+period, see 'caravana conflicts')")
	}
	if !slices.Contains(Outcomes, outcome) {
		v.Add("outcome", "invalid", "must be accepted (the family keeps both) or recovered (one was given back)")
	}
	registry.CheckText(&v, "note", note, false, maxNoteLen)
	if len(v) > 0 {
		return v
	}
	var d entDoc
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		found, err := store.GetJSON(ctx, tx, docEnt, key, &d)
		if err == nil && (!found || !d.Open) {
			err = fmt.Errorf("open distribution conflict %s: %w", key, ErrNotFound)
		}
		return err
	})
	if err != nil {
		return err
	}
	seen := make([]string, len(d.Sides))
	for i, sd := range d.Sides {
		seen[i] = sd.Event
	}
	body := reviewedBody{Key: key, Outcome: outcome, Note: s.reg.SealNote(noteEntity(key), note), Seen: seen}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindReviewed, Subject: "supply-ent/" + key, Body: body}}); err != nil {
		return fmt.Errorf("review: %w", err)
	}
	return nil
}
