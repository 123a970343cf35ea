package supply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// ErrNotFound means no such item, person or conflict. It is the registry's
// sentinel, so callers map both the same way (404).
var ErrNotFound = registry.ErrNotFound

// Service is the supply domain API, shared by the CLI, the JSON API and
// the web pages. Every method checks the principal's role.
type Service struct {
	led *ledger.Ledger
	st  store.Store
	reg *registry.Service
	jr  *journey.Service
	now func() time.Time
	// give serialises distributions on this node, so two desks scanning
	// the same family at once cannot both pass the entitlement check.
	// Distributions are a person at a table at a time: one lock is enough.
	give sync.Mutex
}

// NewService builds the supply service over a ledger, the registry (who a
// card belongs to, and their household) and the journey (the route's
// stages are the places stock is kept).
func NewService(led *ledger.Ledger, reg *registry.Service, jr *journey.Service) *Service {
	return &Service{led: led, st: led.Store(), reg: reg, jr: jr, now: time.Now}
}

func invalid(field, code, msg string) registry.ValidationError {
	return registry.ValidationError{{Field: field, Code: code, Message: msg}}
}

func (d itemDoc) item() Item {
	b := d.itemBody
	return Item{ID: b.ID, NameES: b.NameES, NameEN: b.NameEN, Unit: b.Unit, Per: b.Per, Qty: b.Qty, Period: b.Period,
		DefinedBy: d.By, DefinedAt: d.T.Time()}
}

// Items lists the catalogue in id order.
func (s *Service) Items(ctx context.Context, p auth.Principal) ([]Item, error) {
	if err := auth.Check(p, auth.SupplyRead); err != nil {
		return nil, err
	}
	var out []Item
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = readItems(ctx, tx)
		return err
	})
	return out, err
}

func readItems(ctx context.Context, tx store.ReadTx) ([]Item, error) {
	var out []Item
	err := tx.Scan(ctx, docItem, func(id string, data []byte) error {
		var d itemDoc
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("item %s: %w", id, err)
		}
		out = append(out, d.item())
		return nil
	})
	return out, err
}

func readItem(ctx context.Context, tx store.ReadTx, field, id string) (Item, error) {
	var d itemDoc
	found, err := store.GetJSON(ctx, tx, docItem, id, &d)
	if err != nil {
		return Item{}, err
	}
	if !found {
		return Item{}, invalid(field, "unknown_item", "is not an item of the catalogue (see 'caravana supply items')")
	}
	return d.item(), nil
}

// DefineItem adds an item to the catalogue or changes its definition (the
// latest definition wins on every node). Defining it as it already is
// appends nothing.
func (s *Service) DefineItem(ctx context.Context, p auth.Principal, in Item) (Item, error) {
	if err := auth.Check(p, auth.SupplyManage); err != nil {
		return Item{}, err
	}
	out, err := s.defineItems(ctx, p, []Item{in})
	if err != nil {
		return Item{}, err
	}
	return out[0], nil
}

// DefineDefaults adds the default catalogue's items that are not defined
// yet, and returns the catalogue.
func (s *Service) DefineDefaults(ctx context.Context, p auth.Principal) ([]Item, error) {
	if err := auth.Check(p, auth.SupplyManage); err != nil {
		return nil, err
	}
	have, err := s.Items(ctx, p)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, it := range have {
		known[it.ID] = true
	}
	var todo []Item
	for _, it := range DefaultCatalogue() {
		if !known[it.ID] {
			todo = append(todo, it)
		}
	}
	if len(todo) > 0 {
		if _, err := s.defineItems(ctx, p, todo); err != nil {
			return nil, err
		}
	}
	return s.Items(ctx, p)
}

func (s *Service) defineItems(ctx context.Context, p auth.Principal, items []Item) ([]Item, error) {
	var v registry.ValidationError
	bodies := make([]itemBody, len(items))
	for i, in := range items {
		b := itemBody{ID: strings.TrimSpace(in.ID), NameES: strings.TrimSpace(in.NameES), NameEN: strings.TrimSpace(in.NameEN),
			Unit: strings.TrimSpace(in.Unit), Per: in.Per, Qty: in.Qty, Period: in.Period}
		checkItemInto(&v, b)
		bodies[i] = b
	}
	if len(v) > 0 {
		return nil, v
	}
	var drafts []ledger.Draft
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, b := range bodies {
			var cur itemDoc
			found, err := store.GetJSON(ctx, tx, docItem, b.ID, &cur)
			if err != nil {
				return err
			}
			if found && cur.itemBody == b {
				continue
			}
			drafts = append(drafts, ledger.Draft{Kind: KindItemDefined, Subject: "supply-item/" + b.ID, Body: b})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(drafts) > 0 {
		if _, err := s.led.Append(ctx, p.Actor(), drafts); err != nil {
			return nil, fmt.Errorf("define items: %w", err)
		}
	}
	out := make([]Item, len(bodies))
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		for i, b := range bodies {
			var err error
			if out[i], err = readItem(ctx, tx, "id", b.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// checkStage validates a stage id against the route.
func (s *Service) checkStage(ctx context.Context, p auth.Principal, field, stage string) error {
	if stage == "" {
		return invalid(field, "required", "is required")
	}
	r, err := s.jr.Route(ctx, p)
	if err != nil {
		return err
	}
	if r.Index(stage) < 0 {
		return invalid(field, "unknown_stage", "is not a stage of the route (see 'caravana route show')")
	}
	return nil
}

// ReceiptInput is a donation received at a place.
type ReceiptInput struct {
	Item  string `json:"item"`
	Qty   int    `json:"qty"`
	Stage string `json:"stage"`
	// Donor is who gave it: an organisation, a parish, "local people".
	// Never a migrant's name: it is not sealed.
	Donor string `json:"donor,omitempty"`
}

// Receipt is a donation recorded.
type Receipt struct {
	ID    string    `json:"id"` // the event id
	Item  string    `json:"item"`
	Qty   int       `json:"qty"`
	Stage string    `json:"stage"`
	Donor string    `json:"donor,omitempty"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
	// Balance is the item's stock at the stage after it.
	Balance int64 `json:"balance"`
}

// Receive records a donation in. Bad input (an unknown item or stage, a
// quantity out of range) changes nothing.
func (s *Service) Receive(ctx context.Context, p auth.Principal, in ReceiptInput) (Receipt, error) {
	if err := auth.Check(p, auth.SupplyReceive); err != nil {
		return Receipt{}, err
	}
	in.Item, in.Stage, in.Donor = strings.TrimSpace(in.Item), strings.TrimSpace(in.Stage), strings.TrimSpace(in.Donor)
	var v registry.ValidationError
	if in.Item == "" {
		v.Add("item", "required", "is required")
	}
	if in.Qty < 1 || in.Qty > MaxQty {
		v.Add("qty", "invalid", "must be a whole number from 1 to %d", MaxQty)
	}
	registry.CheckText(&v, "donor", in.Donor, false, maxDonorLen)
	if err := s.checkStage(ctx, p, "stage", in.Stage); err != nil {
		var ve registry.ValidationError
		if !errors.As(err, &ve) {
			return Receipt{}, err
		}
		v = append(v, ve...)
	}
	if in.Item != "" {
		err := s.st.View(ctx, func(tx store.ReadTx) error {
			_, err := readItem(ctx, tx, "item", in.Item)
			return err
		})
		var ve registry.ValidationError
		if errors.As(err, &ve) {
			v = append(v, ve...)
		} else if err != nil {
			return Receipt{}, err
		}
	}
	if len(v) > 0 {
		return Receipt{}, v
	}
	body := receivedBody{Item: in.Item, Qty: in.Qty, Stage: in.Stage, Donor: in.Donor}
	evs, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{{Kind: KindReceived, Subject: "supply-stock/" + stockID(in.Item, in.Stage), Body: body}})
	if err != nil {
		return Receipt{}, fmt.Errorf("receive: %w", err)
	}
	out := Receipt{ID: evs[0].ID(), Item: in.Item, Qty: in.Qty, Stage: in.Stage, Donor: in.Donor, At: evs[0].HLC.Time(), By: p.Actor()}
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		var d stockDoc
		_, err := store.GetJSON(ctx, tx, docStock, stockID(in.Item, in.Stage), &d)
		out.Balance = d.Received - d.Distributed
		return err
	})
	return out, err
}

// StockRow is one item's stock at one place.
type StockRow struct {
	Item        string `json:"item"`
	Stage       string `json:"stage"`
	Received    int64  `json:"received"`
	Distributed int64  `json:"distributed"`
	// Balance is received minus distributed; below zero when more was
	// given out than was recorded coming in (an unrecorded donation, or
	// two nodes giving from the same stock before they synced).
	Balance int64 `json:"balance"`
}

// Stock lists stock per item and place, in route order then item id; with
// stage, only that place's.
func (s *Service) Stock(ctx context.Context, p auth.Principal, stage string) ([]StockRow, error) {
	if err := auth.Check(p, auth.SupplyRead); err != nil {
		return nil, err
	}
	stage = strings.TrimSpace(stage)
	if stage != "" {
		if err := s.checkStage(ctx, p, "stage", stage); err != nil {
			return nil, err
		}
	}
	r, err := s.jr.Route(ctx, p)
	if err != nil {
		return nil, err
	}
	out := []StockRow{}
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, docStock, func(id string, data []byte) error {
			var d stockDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return fmt.Errorf("stock %s: %w", id, err)
			}
			if stage != "" && d.Stage != stage {
				return nil
			}
			out = append(out, StockRow{Item: d.Item, Stage: d.Stage, Received: d.Received, Distributed: d.Distributed,
				Balance: d.Received - d.Distributed})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	pos := func(st string) int {
		if i := r.Index(st); i >= 0 {
			return i
		}
		return len(r.Stages) // off the route (an older route's stage): last
	}
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := pos(out[i].Stage), pos(out[j].Stage)
		if pi != pj {
			return pi < pj
		}
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return out[i].Item < out[j].Item
	})
	return out, nil
}

func millisTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
