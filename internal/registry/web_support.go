package registry

import (
	"context"
	"fmt"

	"caravana/internal/auth"
	"caravana/internal/store"
)

// HouseholdLabels returns the summaries (label, kind, size) of the
// households with the given ids, in the same order, skipping ids that do not
// exist. A person page uses it to name the households a person is in without
// revealing every member of each. The labels are PII: each household shown
// is audited (household.read, with why) before its label is opened.
func (s *Service) HouseholdLabels(ctx context.Context, p auth.Principal, ids []string, why string) ([]HouseholdSummary, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return nil, err
	}
	docs := make([]householdDoc, 0, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, id := range ids {
			var d householdDoc
			found, err := store.GetJSON(ctx, tx, docHousehold, id, &d)
			if err != nil {
				return err
			}
			if found {
				docs = append(docs, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	shown := make([]string, len(docs))
	for i, d := range docs {
		shown[i] = d.ID
	}
	if len(shown) > 0 {
		if err := s.led.Audit(ctx, householdReads(p, why, shown)...); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	out := make([]HouseholdSummary, 0, len(docs))
	for _, d := range docs {
		label, err := s.seal.OpenField(householdEntity(d.ID), "label", d.Label.V)
		if err != nil {
			return nil, fmt.Errorf("household %s: %w", d.ID, err)
		}
		out = append(out, HouseholdSummary{ID: d.ID, Label: label, Kind: d.Kind.V, Members: len(d.Members)})
	}
	return out, nil
}
