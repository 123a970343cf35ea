package demo

import (
	"context"
	"fmt"
	"strings"
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
	drafts := make([]ledger.Draft, 0, len(c.People)+len(c.Households))
	ids := make([]string, len(c.People))
	known := map[string]bool{}
	for i, p := range c.People {
		in := registry.PersonInput{
			GivenNames: p.GivenNames, Surname1: p.Surname1, Surname2: p.Surname2, Sex: p.Sex,
			BirthDate: p.BirthDate.Format(time.DateOnly), Nationality: p.Nationality, OriginTown: p.OriginTown,
			Phone: p.Phone, Flags: p.Flags,
			// Consent varies the way it does at a real desk: everyone agreed
			// to be registered, nearly everyone to tracing, fewer to sharing.
			Consent: registry.Consent{Registration: true, Tracing: i%23 != 0, Sharing: i%3 == 0},
		}
		r, err := reg.PrepareRegister(by, in)
		if err != nil {
			return Loaded{}, fmt.Errorf("demo person %d: %w", i, err)
		}
		ids[i] = r.ID
		known[r.ID] = true
		drafts = append(drafts, r.Draft)
	}
	isKnown := func(id string) bool { return known[id] }
	for i, h := range c.Households {
		in := registry.HouseholdInput{Kind: h.Kind, Label: label(c, h)}
		for _, m := range h.Members {
			in.Members = append(in.Members, registry.Member{Person: ids[m.Person], Role: m.Role})
		}
		_, d, err := reg.PrepareHousehold(ctx, by, in, isKnown)
		if err != nil {
			return Loaded{}, fmt.Errorf("demo household %d: %w", i, err)
		}
		drafts = append(drafts, d)
	}
	evs, err := led.Append(ctx, by.Actor(), drafts)
	if err != nil {
		return Loaded{}, fmt.Errorf("load demo caravan: %w", err)
	}
	return Loaded{People: len(c.People), Households: len(c.Households), Events: len(evs), IDs: ids}, nil
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
