package demo_test

import (
	"context"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/supply"
)

// TestSupplies7200: the demo's supplies give 300 households of the
// caravan their kit, water and food at Tecún Umán, within the stock
// received there, and make no conflict.
func TestSupplies7200(t *testing.T) {
	ctx := context.Background()
	op := auth.Operator("test")
	n := newNode(t)
	c := demo.Generate(1, 7200, time.Now())
	loaded, err := demo.Load(ctx, n.Registry, n.Ledger, op, c)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := demo.Supplies(ctx, n.Supply, n.Registry, n.Ledger, op, loaded.IDs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("supplied %+v in %v", got, time.Since(start))
	if got.Items != 5 || got.Receipts == 0 || got.Distributions != 3*300+150 {
		t.Fatalf("supplied %+v for %d households", got, loaded.Households)
	}
	rows, err := n.Supply.Stock(ctx, op, "tecun-uman")
	if err != nil {
		t.Fatal(err)
	}
	byItem := map[string]supply.StockRow{}
	for _, r := range rows {
		byItem[r.Item] = r
	}
	if w := byItem["water"]; w.Distributed < 15*300 || w.Distributed%15 != 0 || w.Balance < 0 {
		t.Errorf("water at tecun-uman: %+v", w)
	}
	if k := byItem["hygiene-kit"]; k.Distributed != 300 || k.Balance < 0 {
		t.Errorf("kits: %+v", k)
	}
	if cs, err := n.Supply.Conflicts(ctx, op); err != nil || len(cs) != 0 {
		t.Errorf("the demo made %d conflicts (%v)", len(cs), err)
	}
}
