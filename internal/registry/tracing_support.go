package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Merge records that dup is a second registration of keep (the same person
// registered twice, at two desks or two nodes). Both records and their
// histories stay in the log: dup is shown as merged into keep, its card
// code finds keep, and lists, figures, tracing and the missing list count
// the person once.
func (s *Service) Merge(ctx context.Context, p auth.Principal, keep, dup string) error {
	if err := auth.Check(p, auth.PersonMerge); err != nil {
		return err
	}
	if keep == dup {
		return ValidationError{{Field: "duplicate", Code: "same", Message: "a person cannot be merged into themselves"}}
	}
	docs, err := s.loadMany(ctx, []string{keep, dup})
	if err != nil {
		return err
	}
	if len(docs) != 2 {
		return fmt.Errorf("merge: person: %w", ErrNotFound)
	}
	for _, d := range docs {
		if d.Merged != nil {
			field := "keep"
			if d.ID == dup {
				field = "duplicate"
			}
			return ValidationError{{Field: field, Code: "merged", Message: "is already merged into another person"}}
		}
	}
	draft := ledger.Draft{Kind: KindPersonMerged, Subject: entity(dup), Body: personBody{MergedInto: keep}}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{draft}); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// survivor follows merges from id to the record that stands for the person.
// Two nodes merging each into the other make a cycle; every node then
// agrees on the smallest id in it.
func survivor(ctx context.Context, tx store.ReadTx, id string) (string, error) {
	var seen []string
	for {
		var d personDoc
		found, err := store.GetJSON(ctx, tx, docPerson, id, &d)
		if err != nil {
			return "", err
		}
		if !found || d.Merged == nil {
			return id, nil
		}
		seen = append(seen, id)
		id = d.Merged.Into
		if slices.Contains(seen, id) {
			return slices.Min(seen), nil
		}
	}
}

// LinkFacts is what record linkage compares of one person. It is opened
// for matching in memory and never shown as it is: what a user sees of a
// match goes through Get, audited.
type LinkFacts struct {
	ID          string
	GivenNames  string
	Surname1    string
	Surname2    string
	Sex         string
	BirthDate   string
	Nationality string
	OriginTown  string
	// Tracing is the person's consent to family tracing.
	Tracing bool
	// Merged says this registration is merged into another.
	Merged bool
}

// EachLinkFacts opens the compared fields of the people with ids, or of
// everyone when ids is nil, and calls fn for each, in id order for
// everyone. Tracing calls it to keep its in-memory index; no principal is
// involved because nothing is shown.
func (s *Service) EachLinkFacts(ctx context.Context, ids []string, fn func(LinkFacts) error) error {
	var docs []personDoc
	if ids == nil {
		err := s.st.View(ctx, func(tx store.ReadTx) error {
			return tx.Scan(ctx, docPerson, func(id string, data []byte) error {
				var d personDoc
				if err := json.Unmarshal(data, &d); err != nil {
					return fmt.Errorf("person %s: %w", id, err)
				}
				docs = append(docs, d)
				return nil
			})
		})
		if err != nil {
			return err
		}
	} else {
		var err error
		if docs, err = s.loadMany(ctx, ids); err != nil {
			return err
		}
	}
	for _, d := range docs {
		if d.Registered == 0 {
			continue // an update that arrived before its registration
		}
		f := LinkFacts{ID: d.ID, Tracing: d.Consent.Tracing, Merged: d.Merged != nil}
		for _, t := range []struct {
			field string
			dst   *string
		}{
			{auth.FieldGivenNames, &f.GivenNames}, {auth.FieldSurname1, &f.Surname1}, {auth.FieldSurname2, &f.Surname2},
			{auth.FieldSex, &f.Sex}, {auth.FieldBirthDate, &f.BirthDate}, {auth.FieldNationality, &f.Nationality},
			{auth.FieldOriginTown, &f.OriginTown},
		} {
			v := d.Fields[t.field].V
			if v == "" {
				continue
			}
			pt, err := s.seal.OpenField(entity(d.ID), t.field, v)
			if err != nil {
				return fmt.Errorf("person %s field %s: %w", d.ID, t.field, err)
			}
			*t.dst = pt
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// GetMany shows the people with ids to p, in the order given, after the
// reads are durably audited with why. Ids that do not exist are left out.
func (s *Service) GetMany(ctx context.Context, p auth.Principal, ids []string, why string) ([]Person, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	docs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.reveal(ctx, p, why, docs)
}

// Add appends one problem to v (for other domains' validation).
func (v *ValidationError) Add(field, code, format string, args ...any) {
	v.add(field, code, format, args...)
}

// CheckText validates a free-text field the way the registry does: valid
// UTF-8, no control characters, at most maxLen characters, and when
// required, present and with letters.
func CheckText(v *ValidationError, field, s string, required bool, maxLen int) {
	checkText(v, field, s, required, maxLen)
}

// OpenReport decrypts the sealed fields of a missing-person report. Reports
// are tracing's records, but every decryption of PII happens in this
// package (SECURITY.md S7); the caller audits the read.
func (s *Service) OpenReport(id string, sealed map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(sealed))
	for f, v := range sealed {
		if v == "" {
			continue
		}
		pt, err := s.seal.OpenField("report/"+id, f, v)
		if err != nil {
			return nil, fmt.Errorf("report %s field %s: %w", id, f, err)
		}
		out[f] = pt
	}
	return out, nil
}
