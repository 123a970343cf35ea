package supply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// PersonRef names who collects: a card code (as typed or scanned) or a
// person id.
type PersonRef = registry.PersonRef

// MaxGive is the most people one distribution call takes.
const MaxGive = 200

// GiveInput is a distribution of one item at one place to the households
// of the people named.
type GiveInput struct {
	Item string `json:"item"`
	// Stage is where it happens; empty means the latest checkpoint.
	Stage  string      `json:"stage,omitempty"`
	People []PersonRef `json:"people"`
	// Override gives even where the household already received the item
	// this period (a coordinator's decision); the distributions are kept
	// and flagged for review like two nodes' would be.
	Override bool `json:"override,omitempty"`
}

// Distribution is an item given to a household (or to a person who has
// none: a household of one).
type Distribution struct {
	ID        string    `json:"id"` // the event id
	Item      string    `json:"item"`
	Household string    `json:"household,omitempty"`
	Person    string    `json:"person"` // who collected
	Qty       int       `json:"qty"`
	Size      int       `json:"size,omitempty"`
	Stage     string    `json:"stage"`
	Period    string    `json:"period"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Node      string    `json:"node"`
	Override  bool      `json:"override,omitempty"`
}

// Entitlement is what a household may receive of an item now, and what it
// already received in the period.
type Entitlement struct {
	Item   Item   `json:"item"`
	Stage  string `json:"stage"`
	Person string `json:"person"`
	// Household is the person's household ("" when they have none: they
	// count as a household of one). Someone in two households (flagged by
	// the registry) is served as a member of the first by id.
	Household string `json:"household,omitempty"`
	Size      int    `json:"size"`
	Period    string `json:"period"`
	// Qty is what the household gets: the item's quantity, times the
	// household's size for per-person items.
	Qty      int  `json:"qty"`
	Entitled bool `json:"entitled"`
	// Previous lists what the household already received of the item in
	// this period, as far as this node knows.
	Previous []Distribution   `json:"previous,omitempty"`
	Glance   *registry.Glance `json:"glance,omitempty"`
}

// GiveResult is one person's distribution.
type GiveResult struct {
	Distribution
	Glance *registry.Glance `json:"glance,omitempty"`
	// Balance is the item's stock at the stage after the whole call.
	Balance int64 `json:"balance"`
}

// stageOrLatest resolves the stage of a distribution: given, it must be on
// the route; empty, it is the latest checkpoint.
func (s *Service) stageOrLatest(ctx context.Context, p auth.Principal, stage string) (string, error) {
	stage = strings.TrimSpace(stage)
	if stage != "" {
		return stage, s.checkStage(ctx, p, "stage", stage)
	}
	prog, err := s.jr.Progress(ctx, p, "")
	if err != nil {
		return "", err
	}
	return prog.Stage.ID, nil
}

func (d distDoc) distribution(id string) Distribution {
	at := d.At
	if at == 0 {
		at = d.T.Millis()
	}
	return Distribution{ID: id, Item: d.Item, Household: d.Household, Person: d.Person, Qty: d.Qty, Size: d.Size,
		Stage: d.Stage, Period: d.Period, At: millisTime(at), By: d.By, Node: d.N, Override: d.Override}
}

func (sd side) distribution(unit, item, period string) Distribution {
	d := Distribution{ID: sd.Event, Item: item, Person: sd.Person, Qty: sd.Qty, Stage: sd.Stage, Period: period,
		At: millisTime(sd.At), By: sd.By, Node: sd.N, Override: sd.Override}
	if !strings.HasPrefix(unit, personUnit) {
		d.Household = unit
	}
	return d
}

// assess works out person id's entitlement to it at stage now, inside
// reg's snapshot, with the audit entries of the glance it opens.
func assess(ctx context.Context, tx store.ReadTx, reg *registry.Reader, it Item, stage string, now time.Time, id string) (Entitlement, []store.AuditEntry, error) {
	g, audit, err := reg.PrepareGlance(ctx, id, "supply "+it.ID)
	if err != nil {
		return Entitlement{}, nil, err
	}
	e := Entitlement{Item: it, Stage: stage, Person: id, Size: 1, Glance: &g}
	if len(g.Households) > 0 {
		h := g.Households[0]
		for _, x := range g.Households[1:] {
			if x.ID < h.ID {
				h = x
			}
		}
		e.Household, e.Size = h.ID, max(1, len(h.Members))
	}
	e.Qty = it.Qty
	if it.Per == PerPerson {
		e.Qty = it.Qty * e.Size
	}
	e.Period = periodKey(it.Period, stage, now)
	b := distributedBody{Household: e.Household, Person: id}
	var d entDoc
	if _, err := store.GetJSON(ctx, tx, docEnt, entKey(b.unit(), it.ID, e.Period), &d); err != nil {
		return Entitlement{}, nil, err
	}
	for _, sd := range d.Sides {
		e.Previous = append(e.Previous, sd.distribution(b.unit(), it.ID, e.Period))
	}
	e.Entitled = len(e.Previous) == 0
	return e, audit, nil
}

// describePeriod says a period in English, for error messages.
func describePeriod(period string) string {
	switch {
	case period == Once:
		return "(one per household, ever)"
	case strings.HasPrefix(period, "stage:"):
		return "at this stage (" + strings.TrimPrefix(period, "stage:") + ")"
	default:
		return "today (" + strings.TrimPrefix(period, "day:") + ")"
	}
}

// Check shows the household of the person named and whether it is
// entitled to item now (at stage, or the latest checkpoint), without
// recording anything but the audit of the glance.
func (s *Service) Check(ctx context.Context, p auth.Principal, item, stage string, ref PersonRef) (Entitlement, error) {
	if err := auth.Check(p, auth.SupplyGive); err != nil {
		return Entitlement{}, err
	}
	ref, fe := registry.ParseRef("person", ref)
	if fe != nil {
		return Entitlement{}, registry.ValidationError{*fe}
	}
	if strings.TrimSpace(item) == "" {
		return Entitlement{}, invalid("item", "required", "is required")
	}
	stage, err := s.stageOrLatest(ctx, p, stage)
	if err != nil {
		return Entitlement{}, err
	}
	var out Entitlement
	var audit []store.AuditEntry
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		it, err := readItem(ctx, tx, "item", strings.TrimSpace(item))
		if err != nil {
			return err
		}
		reg := s.reg.Reader(tx, p)
		id, err := reg.Resolve(ctx, ref)
		if err != nil {
			return err
		}
		out, audit, err = assess(ctx, tx, reg, it, stage, s.now(), id)
		return err
	})
	if err != nil {
		return Entitlement{}, err
	}
	if err := s.led.Audit(ctx, audit...); err != nil {
		return Entitlement{}, fmt.Errorf("audit: %w", err)
	}
	return out, nil
}

// Give records item given, at stage (or the latest checkpoint), to the
// household of each person named. It is all or nothing: bad input, a code
// nobody here holds, or a household that already received the item this
// period (as far as this node knows; also earlier in the same call)
// refuses the whole call with a registry.ValidationError naming each
// person's field, and nothing is written. The distributions and the audit
// of every glance shown are one durable commit.
func (s *Service) Give(ctx context.Context, p auth.Principal, in GiveInput) ([]GiveResult, error) {
	if err := auth.Check(p, auth.SupplyGive); err != nil {
		return nil, err
	}
	if in.Override {
		if err := auth.Check(p, auth.SupplyManage); err != nil {
			return nil, err
		}
	}
	var v registry.ValidationError
	in.Item = strings.TrimSpace(in.Item)
	if in.Item == "" {
		v.Add("item", "required", "is required")
	}
	switch {
	case len(in.People) == 0:
		v.Add("people", "required", "at least one card code or person is required")
	case len(in.People) > MaxGive:
		v.Add("people", "too_many", "at most %d people at once", MaxGive)
	}
	refs := make([]PersonRef, len(in.People))
	for i, ref := range in.People {
		var fe *registry.FieldError
		if refs[i], fe = registry.ParseRef(fmt.Sprintf("people[%d]", i), ref); fe != nil {
			v = append(v, *fe)
		}
	}
	if len(v) > 0 {
		return nil, v
	}
	stage, err := s.stageOrLatest(ctx, p, in.Stage)
	if err != nil {
		return nil, err
	}

	s.give.Lock()
	defer s.give.Unlock()
	now := s.now()
	results := make([]GiveResult, len(refs))
	var drafts []ledger.Draft
	var audit []store.AuditEntry
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		it, err := readItem(ctx, tx, "item", in.Item)
		if err != nil {
			return err
		}
		reg := s.reg.Reader(tx, p)
		given := map[string]int{} // unit -> index of its distribution in this call
		for i, ref := range refs {
			field := fmt.Sprintf("people[%d]", i)
			id, err := reg.Resolve(ctx, ref)
			if errors.Is(err, ErrNotFound) {
				msg := "no person registered on this node holds this card code"
				if ref.Code == "" {
					msg = "no person with this id"
				}
				v.Add(field, "not_found", "%s", msg)
				continue
			} else if err != nil {
				return err
			}
			e, entries, err := assess(ctx, tx, reg, it, stage, now, id)
			if err != nil {
				return err
			}
			b := distributedBody{Item: it.ID, Household: e.Household, Person: id, Qty: e.Qty, Stage: stage,
				Period: e.Period, Size: e.Size, Override: in.Override}
			if j, dup := given[b.unit()]; dup && !in.Override {
				v.Add(field, "already_received", "is of the same household as people[%d]: one %s per household %s",
					j, it.ID, describePeriod(e.Period))
				continue
			}
			if len(e.Previous) > 0 && !in.Override {
				prev := e.Previous[len(e.Previous)-1]
				v.Add(field, "already_received", "the household already received %s %s: at %s on %s (node %s)",
					it.ID, describePeriod(e.Period), prev.Stage, prev.At.Format("2006-01-02 15:04 UTC"), prev.Node)
				continue
			}
			given[b.unit()] = i
			results[i].Glance = e.Glance
			results[i].Distribution = Distribution{Item: it.ID, Household: e.Household, Person: id, Qty: e.Qty, Size: e.Size,
				Stage: stage, Period: e.Period, By: p.Actor(), Override: in.Override}
			drafts = append(drafts, ledger.Draft{Kind: KindDistributed, Subject: "supply-ent/" + entKey(b.unit(), it.ID, e.Period), Body: b})
			audit = append(audit, entries...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(v) > 0 {
		return nil, v
	}
	evs, err := s.led.Append(ctx, p.Actor(), drafts, audit...)
	if err != nil {
		return nil, fmt.Errorf("give: %w", err)
	}
	for i := range results {
		results[i].ID, results[i].At, results[i].Node = evs[i].ID(), evs[i].HLC.Time(), evs[i].Node
	}
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		var d stockDoc
		_, err := store.GetJSON(ctx, tx, docStock, stockID(in.Item, stage), &d)
		for i := range results {
			results[i].Balance = d.Received - d.Distributed
		}
		return err
	})
	return results, err
}

// History lists what a household received, oldest first. household is a
// household id, or "person:<id>" for a person with none.
func (s *Service) History(ctx context.Context, p auth.Principal, household string) ([]Distribution, error) {
	if err := auth.Check(p, auth.SupplyRead); err != nil {
		return nil, err
	}
	household = strings.TrimSpace(household)
	if household == "" || len(household) > maxIDLen+len(personUnit) || strings.ContainsAny(household, "+/ ") {
		return nil, invalid("household", "invalid", "is not a household id")
	}
	out := []Distribution{}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return store.EachIndexedJSON(ctx, tx, idxUnit, household, docDist, func(id string, d *distDoc) error {
			out = append(out, d.distribution(id))
			return nil
		})
	})
	sortDistributions(out)
	return out, err
}

func sortDistributions(ds []Distribution) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].At.Equal(ds[j].At) {
			return ds[i].At.Before(ds[j].At)
		}
		return ds[i].ID < ds[j].ID
	})
}
