package demo

import (
	"context"
	"errors"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/supply"
)

// Services are the parts of a node a demo caravan is written to.
type Services struct {
	Registry *registry.Service
	Journey  *journey.Service
	Supply   *supply.Service
	Ledger   *ledger.Ledger
}

// Filled says what Fill wrote.
type Filled struct {
	Loaded
	Travelled Travelled
	Supplied  Supplied
	// Registered is how long registering the caravan took (Load).
	Registered time.Duration
}

// Fill registers a generated caravan, makes it walk its first week up to
// now (Travel) and, meanwhile, gives out the first supplies at Tecún Umán
// after its count there (Supplies). It registers the caravan in several
// appends (preparing each batch while the one before is written), not in
// Load's one: a failure can leave part of the caravan in the node.
//
// Everything is dated from now (zero: time.Now()), so the same caravan,
// seed and now give the same node content, but for fresh ids and card
// codes and the times the events were written (and so of the people
// marked found).
func Fill(ctx context.Context, s Services, by auth.Principal, c Caravan, seed int64, now time.Time) (Filled, error) {
	var out Filled
	if len(c.People) == 0 {
		return out, nil
	}
	start := time.Now()
	if now.IsZero() {
		now = start
	}
	loaded, err := loadStreamed(ctx, s.Registry, s.Ledger, by, c)
	if err != nil {
		return out, err
	}
	out.Loaded = loaded
	out.Registered = time.Since(start)
	// The supplies need only the households: they are given while the
	// caravan walks, and their reads and small appends fill the gaps
	// between the journey's.
	var supplied Supplied
	var supplyErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		at := journeyStart(now).Add(5*24*time.Hour + 7*time.Hour) // day 5, after the count at Tecún Umán
		supplied, supplyErr = Supplies(ctx, s.Supply, s.Registry, s.Ledger, by, loaded.IDs, at)
	})
	out.Travelled, err = Travel(ctx, s.Journey, s.Registry, s.Ledger, by, c, TravelOptions{Seed: seed, Now: now, IDs: loaded.IDs})
	wg.Wait()
	out.Supplied = supplied
	return out, errors.Join(err, supplyErr)
}
