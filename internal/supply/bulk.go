package supply

import (
	"context"
	"fmt"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Recipient is a household (or a person with none) for bulk loads.
type Recipient struct {
	Household string // "" for a person with no household
	Person    string // who collects
	Size      int    // household size, at least 1
}

// PrepareDistributions builds distribution events of item at stage, at
// time at, for many households without writing them, for bulk loads (the
// demo) that append many in one commit. It checks the item, the stage and
// the recipients' shape, but not entitlements and reads no names: the
// caller gives each household once.
func (s *Service) PrepareDistributions(ctx context.Context, p auth.Principal, item, stage string, at time.Time, rs []Recipient) ([]ledger.Draft, error) {
	if err := auth.Check(p, auth.SupplyGive); err != nil {
		return nil, err
	}
	if err := s.checkStage(ctx, p, "stage", stage); err != nil {
		return nil, err
	}
	var it Item
	if err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		it, err = readItem(ctx, tx, "item", item)
		return err
	}); err != nil {
		return nil, err
	}
	period := periodKey(it.Period, stage, at)
	out := make([]ledger.Draft, len(rs))
	for i, r := range rs {
		if r.Person == "" || len(r.Person) > maxIDLen || len(r.Household) > maxIDLen {
			return nil, fmt.Errorf("recipient %d: a person id is required", i)
		}
		size := max(1, r.Size)
		qty := it.Qty
		if it.Per == PerPerson {
			qty *= size
		}
		b := distributedBody{Item: it.ID, Household: r.Household, Person: r.Person, Qty: qty, Stage: stage,
			Period: period, Size: size, At: at.UnixMilli()}
		out[i] = ledger.Draft{Kind: KindDistributed, Subject: "supply-ent/" + entKey(b.unit(), it.ID, period), Body: b}
	}
	return out, nil
}
