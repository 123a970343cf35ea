package demo

import (
	"context"
	"fmt"
	"sort"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/supply"
)

// Supplied says what Supplies recorded.
type Supplied struct {
	Items         int `json:"items"`
	Receipts      int `json:"receipts"`
	Distributions int `json:"distributions"`
}

// demoReceipts are donations at the first stages: water and food from
// parishes and neighbours, kits, tents and blankets from agencies.
var demoReceipts = []supply.ReceiptInput{
	{Item: "water", Qty: 40_000, Stage: "san-pedro-sula", Donor: "Parroquia San Pedro"},
	{Item: "food-ration", Qty: 8_000, Stage: "san-pedro-sula", Donor: "Vecinos"},
	{Item: "water", Qty: 120_000, Stage: "tecun-uman", Donor: "Casa del Migrante"},
	{Item: "food-ration", Qty: 8_000, Stage: "tecun-uman", Donor: "Casa del Migrante"},
	{Item: "hygiene-kit", Qty: 3_500, Stage: "tecun-uman", Donor: "Cruz Roja"},
	{Item: "family-tent", Qty: 400, Stage: "tecun-uman", Donor: "ACNUR"},
	{Item: "blanket", Qty: 3_000, Stage: "ciudad-hidalgo", Donor: "Vecinos de Ciudad Hidalgo"},
}

// How many households the demo serves at Tecún Umán, and gives a tent.
const (
	demoServed = 300
	demoTents  = 150
)

// Supplies loads the default catalogue and some donations, and gives, at
// Tecún Umán, a hygiene kit and the day's water and food to the first
// households of the caravan and a tent to some of them, as one append. It follows Load of
// the same caravan (ids are Load's, in the caravan's order).
func Supplies(ctx context.Context, s *supply.Service, reg *registry.Service, led *ledger.Ledger, by auth.Principal, ids []string, at time.Time) (Supplied, error) {
	var out Supplied
	items, err := s.DefineDefaults(ctx, by)
	if err != nil {
		return out, fmt.Errorf("demo supplies: %w", err)
	}
	out.Items = len(items)
	for _, in := range demoReceipts {
		if _, err := s.Receive(ctx, by, in); err != nil {
			return out, fmt.Errorf("demo supplies: receive %s: %w", in.Item, err)
		}
		out.Receipts++
	}
	// The first households in the caravan's order are served (a table's
	// first afternoon): enough to show, little to write.
	of, err := reg.HouseholdsOf(ctx, by, ids[:min(len(ids), demoServed*3)])
	if err != nil {
		return out, fmt.Errorf("demo supplies: %w", err)
	}
	// Each household once, collected by its first member in caravan order.
	first := map[string]int{}
	size := map[string]int{}
	var hids []string
	for i, id := range ids {
		hs := of[id]
		if len(hs) == 0 {
			continue
		}
		hid := hs[0]
		if _, ok := first[hid]; !ok {
			first[hid] = i
			hids = append(hids, hid)
		}
		size[hid]++
	}
	sort.Slice(hids, func(i, j int) bool { return first[hids[i]] < first[hids[j]] })
	hids = hids[:min(len(hids), demoServed)]
	rs := make([]supply.Recipient, len(hids))
	for i, hid := range hids {
		rs[i] = supply.Recipient{Household: hid, Person: ids[first[hid]], Size: size[hid]}
	}
	if at.IsZero() {
		at = time.Now()
	}
	var drafts []ledger.Draft
	for _, give := range []struct {
		item string
		to   []supply.Recipient
	}{{"hygiene-kit", rs}, {"water", rs}, {"food-ration", rs}, {"family-tent", rs[:min(demoTents, len(rs))]}} {
		ds, err := s.PrepareDistributions(ctx, by, give.item, "tecun-uman", at, give.to)
		if err != nil {
			return out, fmt.Errorf("demo supplies: %s: %w", give.item, err)
		}
		drafts = append(drafts, ds...)
	}
	if len(drafts) > 0 {
		if _, err := led.Append(ctx, by.Actor(), drafts); err != nil {
			return out, fmt.Errorf("demo supplies: %w", err)
		}
	}
	out.Distributions = len(drafts)
	return out, nil
}
