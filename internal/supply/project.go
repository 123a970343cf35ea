// Package supply shares out what the caravan is given: the item catalogue
// with its entitlement rules, donations received at each place on the
// route, stock (received minus distributed) per item and place, and
// distributions to households, checked against what each household is
// entitled to.
//
// Every change is an event (supply.item.defined, supply.received,
// supply.distributed, supply.reviewed) whose projection is the same for
// any arrival order and any repeated delivery. Events carry ids, never
// names. A node refuses a second distribution of an item to a household in
// the same period; two nodes offline from each other cannot see each
// other's, so when both arrive the projection keeps both (both counted in
// stock) and flags the (household, item, period) for a coordinator's
// review (DESIGN.md section 4: "both kept, flagged for review").
package supply

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Event kinds.
const (
	KindItemDefined = "supply.item.defined"
	KindReceived    = "supply.received"
	KindDistributed = "supply.distributed"
	KindReviewed    = "supply.reviewed"
)

// Projection documents and indexes.
const (
	docItem    = "supply.item"    // item id
	docReceipt = "supply.receipt" // event id: one donation in
	docDist    = "supply.dist"    // event id: one distribution
	docStock   = "supply.stock"   // item@stage: received and distributed sums
	docEnt     = "supply.ent"     // entitlement key: distributions of one period, reviews
	idxUnit    = "supply.unit"    // unit (household or person:<id>) -> distribution event ids
	idxOpen    = "supply.open"    // "open" -> entitlement keys in conflict
	openKey    = "open"
)

// Limits checked at input and again when an event is applied.
const (
	MaxQty      = 1_000_000
	maxIDLen    = 64
	maxNameLen  = 80
	maxDonorLen = 120
	maxNoteLen  = 300
)

// Register adds the supply projections to p.
func Register(p *ledger.Projector) { p.Handle("supply", apply) }

func apply(ctx context.Context, tx store.Tx, e *event.Event) error {
	var err error
	switch e.Kind {
	case KindItemDefined:
		err = applyItem(ctx, tx, e)
	case KindReceived:
		err = applyReceived(ctx, tx, e)
	case KindDistributed:
		err = applyDistributed(ctx, tx, e)
	case KindReviewed:
		err = applyReviewed(ctx, tx, e)
	default:
		return nil // a newer node's kind: kept in the log, ignored here
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	return nil
}

// stamp orders the writes to a document (event.Stamp).
type stamp = event.Stamp

// itemBody is the body of supply.item.defined: the whole definition.
type itemBody struct {
	ID     string `json:"id"`
	NameES string `json:"name_es"`
	NameEN string `json:"name_en"`
	Unit   string `json:"unit"`
	Per    string `json:"per"`
	Qty    int    `json:"qty"`
	Period string `json:"period"`
}

type itemDoc struct {
	itemBody
	By string `json:"by"`
	stamp
}

// applyItem keeps the latest definition of an item by (HLC, node).
func applyItem(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b itemBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if fe := checkItem(b); fe != nil {
		return fmt.Errorf("%s: %s", fe.Field, fe.Message)
	}
	var cur itemDoc
	found, err := store.GetJSON(ctx, tx, docItem, b.ID, &cur)
	if err != nil {
		return err
	}
	if found && !cur.stamp.Before(event.StampOf(e)) {
		return nil
	}
	return store.PutJSON(ctx, tx, docItem, b.ID, itemDoc{itemBody: b, By: e.Actor, stamp: event.StampOf(e)})
}

// receivedBody is the body of supply.received: a donation in.
type receivedBody struct {
	Item  string `json:"item"`
	Qty   int    `json:"qty"`
	Stage string `json:"stage"`
	Donor string `json:"donor,omitempty"` // an organisation or "local people": never a migrant's name
	At    int64  `json:"at,omitempty"`    // unix ms, if not the event's own time
}

type receiptDoc struct {
	receivedBody
	By string `json:"by"`
	stamp
}

// stockDoc sums the receipts and distributions of one item at one place.
// Each event is counted once: its own document says it was (a repeated
// delivery finds it and adds nothing), so the sums are the same for any
// order and any duplication.
type stockDoc struct {
	Item        string `json:"item"`
	Stage       string `json:"stage"`
	Received    int64  `json:"received"`
	Distributed int64  `json:"distributed"`
}

func stockID(item, stage string) string { return item + "@" + stage }

func addStock(ctx context.Context, tx store.Tx, item, stage string, received, distributed int) error {
	id := stockID(item, stage)
	d := stockDoc{Item: item, Stage: stage}
	if _, err := store.GetJSON(ctx, tx, docStock, id, &d); err != nil {
		return err
	}
	d.Received += int64(received)
	d.Distributed += int64(distributed)
	return store.PutJSON(ctx, tx, docStock, id, d)
}

func applyReceived(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b receivedBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if !validID(b.Item) || !validID(b.Stage) || b.Qty <= 0 || b.Qty > MaxQty {
		return fmt.Errorf("receipt without a valid item, stage or quantity")
	}
	if _, err := tx.Get(ctx, docReceipt, e.ID()); err == nil {
		return nil // delivered again: already counted
	} else if err != store.ErrNotFound {
		return err
	}
	if err := store.PutJSON(ctx, tx, docReceipt, e.ID(), receiptDoc{receivedBody: b, By: e.Actor, stamp: event.StampOf(e)}); err != nil {
		return err
	}
	return addStock(ctx, tx, b.Item, b.Stage, b.Qty, 0)
}

// distributedBody is the body of supply.distributed. The entitlement key
// (unit, item, period) is decided by the node that gave, and travels in
// the body, so the projection needs neither the item's definition nor
// the household's membership, which may arrive later or differ.
type distributedBody struct {
	Item      string `json:"item"`
	Household string `json:"household,omitempty"` // empty: the person has no household
	Person    string `json:"person"`              // who collected
	Qty       int    `json:"qty"`
	Stage     string `json:"stage"`
	Period    string `json:"period"` // once, stage:<id> or day:<YYYY-MM-DD>
	Size      int    `json:"size"`   // household size the quantity was worked out for
	Override  bool   `json:"override,omitempty"`
	At        int64  `json:"at,omitempty"`
}

// unit is who an entitlement belongs to: the household, or a person with
// none (a household of one).
func (b distributedBody) unit() string {
	if b.Household != "" {
		return b.Household
	}
	return personUnit + b.Person
}

const personUnit = "person:"

// entKey names one entitlement: unit+item+period (no character a shell
// or a form treats specially, so it can be typed and posted as it is).
func entKey(unit, item, period string) string { return unit + "+" + item + "+" + period }

// splitKey parses an entitlement key.
func splitKey(key string) (unit, item, period string, ok bool) {
	parts := strings.Split(key, "+")
	if len(parts) != 3 || parts[0] == "" || !validID(parts[1]) || !validPeriod(parts[2]) {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

type distDoc struct {
	distributedBody
	By string `json:"by"`
	stamp
}

// side is one distribution of an entitlement.
type side struct {
	Event  string `json:"event"`
	Person string `json:"person"`
	Qty    int    `json:"qty"`
	Stage  string `json:"stage"`
	At     int64  `json:"at"`
	By     string `json:"by"`
	// Override marks a distribution a coordinator made past the rule.
	Override bool `json:"override,omitempty"`
	stamp
}

// review is one coordinator's review of an entitlement's distributions.
type review struct {
	Event   string   `json:"event"`
	Outcome string   `json:"outcome"`
	Note    string   `json:"note,omitempty"`
	Seen    []string `json:"seen"` // the distribution events it settled
	By      string   `json:"by"`
	stamp
}

// entDoc is every distribution of one item to one unit in one period, and
// the reviews of them. More than one distribution is a conflict, open
// until a review has seen every one of them: a distribution the review
// did not know of (made concurrently, or arrived later) opens it again.
type entDoc struct {
	Unit    string   `json:"unit"`
	Item    string   `json:"item"`
	Period  string   `json:"period"`
	Sides   []side   `json:"sides"`
	Reviews []review `json:"reviews,omitempty"`
	Open    bool     `json:"open"`
}

func (d *entDoc) open() bool {
	if len(d.Sides) < 2 {
		return false
	}
	seen := map[string]bool{}
	for _, r := range d.Reviews {
		for _, id := range r.Seen {
			seen[id] = true
		}
	}
	for _, s := range d.Sides {
		if !seen[s.Event] {
			return true
		}
	}
	return false
}

// putEnt stores d with its conflict flag and index entry brought up to
// date.
func putEnt(ctx context.Context, tx store.Tx, key string, d entDoc) error {
	sort.Slice(d.Sides, func(i, j int) bool { return d.Sides[i].stamp.Before(d.Sides[j].stamp) })
	sort.Slice(d.Reviews, func(i, j int) bool { return d.Reviews[i].stamp.Before(d.Reviews[j].stamp) })
	was := d.Open
	d.Open = d.open()
	switch {
	case d.Open && !was:
		if err := tx.AddIndex(ctx, idxOpen, openKey, key); err != nil {
			return err
		}
	case !d.Open && was:
		if err := tx.RemoveIndex(ctx, idxOpen, openKey, key); err != nil {
			return err
		}
	}
	return store.PutJSON(ctx, tx, docEnt, key, d)
}

func applyDistributed(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b distributedBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if !validID(b.Item) || !validID(b.Stage) || b.Person == "" || len(b.Person) > maxIDLen ||
		len(b.Household) > maxIDLen || b.Qty <= 0 || b.Qty > MaxQty || !validPeriod(b.Period) {
		return fmt.Errorf("distribution without a valid item, person, stage, period or quantity")
	}
	// The entitlement lists every distribution of its period: one found
	// there was delivered before and is already counted.
	key := entKey(b.unit(), b.Item, b.Period)
	d := entDoc{Unit: b.unit(), Item: b.Item, Period: b.Period}
	if _, err := store.GetJSON(ctx, tx, docEnt, key, &d); err != nil {
		return err
	}
	for _, sd := range d.Sides {
		if sd.Event == e.ID() {
			return nil
		}
	}
	if err := store.PutJSON(ctx, tx, docDist, e.ID(), distDoc{distributedBody: b, By: e.Actor, stamp: event.StampOf(e)}); err != nil {
		return err
	}
	if err := tx.AddIndex(ctx, idxUnit, b.unit(), e.ID()); err != nil {
		return err
	}
	if err := addStock(ctx, tx, b.Item, b.Stage, 0, b.Qty); err != nil {
		return err
	}
	at := b.At
	if at == 0 {
		at = e.HLC.Millis()
	}
	d.Sides = append(d.Sides, side{Event: e.ID(), Person: b.Person, Qty: b.Qty, Stage: b.Stage, At: at, By: e.Actor, Override: b.Override, stamp: event.StampOf(e)})
	return putEnt(ctx, tx, key, d)
}

// reviewedBody is the body of supply.reviewed.
type reviewedBody struct {
	Key     string   `json:"key"`
	Outcome string   `json:"outcome"`
	Note    string   `json:"note,omitempty"`
	Seen    []string `json:"seen"`
}

func applyReviewed(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b reviewedBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	unit, item, period, ok := splitKey(b.Key)
	if !ok || !slices.Contains(Outcomes, b.Outcome) || len(b.Seen) > 1000 {
		return fmt.Errorf("review without a valid key, outcome or list of distributions")
	}
	d := entDoc{Unit: unit, Item: item, Period: period}
	if _, err := store.GetJSON(ctx, tx, docEnt, b.Key, &d); err != nil {
		return err
	}
	for _, r := range d.Reviews {
		if r.Event == e.ID() {
			return nil // delivered again
		}
	}
	seen := slices.Clone(b.Seen)
	slices.Sort(seen)
	d.Reviews = append(d.Reviews, review{Event: e.ID(), Outcome: b.Outcome, Note: b.Note, Seen: slices.Compact(seen),
		By: e.Actor, stamp: event.StampOf(e)})
	return putEnt(ctx, tx, b.Key, d)
}
