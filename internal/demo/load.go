package demo

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
)

// Loaded says what Load wrote.
type Loaded struct {
	People     int
	Households int
	Events     int
	// IDs are the people's registry ids, in the caravan's order.
	IDs []string
}

// Load registers a generated caravan in a registry as events, in one atomic
// append: either the whole caravan is there afterwards, or none of it.
// Every person consents to registration; most to tracing, some to sharing.
func Load(ctx context.Context, reg *registry.Service, led *ledger.Ledger, by auth.Principal, c Caravan) (Loaded, error) {
	drafts, ids, err := prepareLoad(ctx, reg, by, c)
	if err != nil {
		return Loaded{}, err
	}
	return appendLoad(ctx, led, by, c, drafts, ids)
}

// prepareLoad builds the registration events of a caravan: its people's,
// then its households'.
func prepareLoad(ctx context.Context, reg *registry.Service, by auth.Principal, c Caravan) ([]ledger.Draft, []string, error) {
	drafts := make([]ledger.Draft, len(c.People), len(c.People)+len(c.Households))
	ids := make([]string, len(c.People))
	// Sealing every field and computing the blind indexes is most of the
	// work before the append: it is spread over the cores, each worker
	// preparing every n-th person.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(c.People)/256))
	errs := make([]error, workers)
	today := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k, i := 0, w; i < len(c.People); k, i = k+1, i+workers {
				if k%128 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				r, err := reg.PrepareRegister(by, personInput(i, c.People[i], today))
				if err != nil {
					errs[w] = fmt.Errorf("demo person %d: %w", i, err)
					return
				}
				ids[i], drafts[i] = r.ID, r.Draft
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	hs, err := prepareHouseholds(ctx, reg, by, c, ids)
	if err != nil {
		return nil, nil, err
	}
	return append(drafts, hs...), ids, nil
}

// prepareHouseholds builds the registration events of a caravan's
// households, whose people have the registry ids ids.
func prepareHouseholds(ctx context.Context, reg *registry.Service, by auth.Principal, c Caravan, ids []string) ([]ledger.Draft, error) {
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
	}
	isKnown := func(id string) bool { return known[id] }
	drafts := make([]ledger.Draft, 0, len(c.Households))
	for i, h := range c.Households {
		in := registry.HouseholdInput{Kind: h.Kind, Label: label(c, h)}
		for _, m := range h.Members {
			in.Members = append(in.Members, registry.Member{Person: ids[m.Person], Role: m.Role})
		}
		_, d, err := reg.PrepareHousehold(ctx, by, in, isKnown)
		if err != nil {
			return nil, fmt.Errorf("demo household %d: %w", i, err)
		}
		drafts = append(drafts, d)
	}
	return drafts, nil
}

// loadStreamed registers a caravan as Load does, but in several appends,
// its people first, then its households: one goroutine prepares each batch
// while the node's writer writes the one before, so the writer starts at
// once instead of waiting for the whole caravan. Unlike Load, a failure
// can leave part of the caravan registered.
func loadStreamed(ctx context.Context, reg *registry.Service, led *ledger.Ledger, by auth.Principal, c Caravan) (Loaded, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the preparing goroutine if an append fails
	ids := make([]string, len(c.People))
	type batch struct {
		drafts []ledger.Draft
		err    error
	}
	batches := make(chan batch, 1)
	send := func(b batch) bool {
		select {
		case batches <- b:
			return b.err == nil
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(batches)
		today := time.Now()
		// The first batch is small, so the writer starts soon; later ones
		// are larger, so there are few commits.
		for lo, size := 0, 256; lo < len(c.People); lo, size = lo+size, min(2*size, 2048) {
			hi := min(lo+size, len(c.People))
			b := batch{drafts: make([]ledger.Draft, 0, hi-lo)}
			for i := lo; i < hi && b.err == nil; i++ {
				r, err := reg.PrepareRegister(by, personInput(i, c.People[i], today))
				if err != nil {
					b.err = fmt.Errorf("demo person %d: %w", i, err)
				}
				ids[i] = r.ID
				b.drafts = append(b.drafts, r.Draft)
			}
			if !send(b) {
				return
			}
		}
		hs, err := prepareHouseholds(ctx, reg, by, c, ids)
		send(batch{drafts: hs, err: err})
	}()
	out := Loaded{People: len(c.People), Households: len(c.Households), IDs: ids}
	for b := range batches {
		if b.err != nil {
			return Loaded{}, b.err
		}
		evs, err := led.Append(ctx, by.Actor(), b.drafts)
		if err != nil {
			return Loaded{}, fmt.Errorf("load demo caravan: %w", err)
		}
		out.Events += len(evs)
	}
	// The batches end early only if ctx ended.
	if err := ctx.Err(); err != nil {
		return Loaded{}, err
	}
	return out, nil
}

// appendLoad writes prepared registrations in one append.
func appendLoad(ctx context.Context, led *ledger.Ledger, by auth.Principal, c Caravan, drafts []ledger.Draft, ids []string) (Loaded, error) {
	evs, err := led.Append(ctx, by.Actor(), drafts)
	if err != nil {
		return Loaded{}, fmt.Errorf("load demo caravan: %w", err)
	}
	return Loaded{People: len(c.People), Households: len(c.Households), Events: len(evs), IDs: ids}, nil
}

// personInput is the registration, on day today, of the caravan's i-th
// person.
func personInput(i int, p Person, today time.Time) registry.PersonInput {
	flags := p.Flags
	if AgeOn(p.BirthDate, today) >= 18 && (slices.Contains(flags, FlagUnaccompaniedChild) || slices.Contains(flags, FlagSeparatedChild)) {
		// A child on the caravan's date (Generate's asOf) who has turned 18
		// since: the registry counts ages today, and refuses child flags
		// on an adult.
		flags = slices.DeleteFunc(slices.Clone(flags), func(f string) bool {
			return f == FlagUnaccompaniedChild || f == FlagSeparatedChild
		})
	}
	return registry.PersonInput{
		GivenNames: p.GivenNames, Surname1: p.Surname1, Surname2: p.Surname2, Sex: p.Sex,
		BirthDate: p.BirthDate.Format(time.DateOnly), Nationality: p.Nationality, OriginTown: p.OriginTown,
		Phone: p.Phone, Flags: flags,
		// Consent varies the way it does at a real desk: everyone agreed
		// to be registered, nearly everyone to tracing, fewer to sharing.
		Consent: registry.Consent{Registration: true, Tracing: i%23 != 0, Sharing: i%3 == 0},
	}
}

// label names a household the way a desk would: by its head's surnames.
func label(c Caravan, h Household) string {
	if len(h.Members) == 0 {
		return ""
	}
	head := c.People[h.Members[0].Person]
	for _, m := range h.Members {
		if m.Role == RoleHead {
			head = c.People[m.Person]
			break
		}
	}
	prefix := map[string]string{KindFamily: "Familia", KindSiblings: "Hermanos", KindUnaccompanied: "Menores",
		KindGroup: "Grupo", KindSingle: ""}[h.Kind]
	return strings.TrimSpace(prefix + " " + strings.TrimSpace(head.Surname1+" "+head.Surname2))
}
