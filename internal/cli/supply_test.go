package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"caravana/internal/supply"
)

func TestSupplyCommands(t *testing.T) {
	e := newCLIEnv(t)
	if code, out, errs := e.run(t, "supply", "items"); code != 0 || !strings.Contains(out, "no items yet") {
		t.Fatalf("items on a new node: %d %s %s", code, out, errs)
	}
	if code, _, errs := e.run(t, "supply", "item", "defaults"); code != 0 {
		t.Fatalf("defaults: %s", errs)
	}
	code, out, errs := e.run(t, "supply", "items", "--json")
	var items []supply.Item
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) != len(supply.DefaultCatalogue()) {
		t.Fatalf("items --json: %d %s %s", code, out, errs)
	}
	if code, out, errs := e.run(t, "supply", "item", "add", "diapers", "--name-es", "Pañales", "--unit", "pack",
		"--per", "household", "--qty", "2", "--period", "per_stage"); code != 0 || !strings.Contains(out, "2 pack per household per stage") {
		t.Fatalf("item add: %d %s %s", code, out, errs)
	}

	for _, tc := range []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"bad quantity", []string{"supply", "receive", "--item", "water", "--qty", "1.5", "--stage", "tapachula"}, 2, "--qty"},
		{"unknown item", []string{"supply", "receive", "--item", "piano", "--qty", "3", "--stage", "tapachula"}, 1, "item: is not an item"},
		{"unknown stage", []string{"supply", "receive", "--item", "water", "--qty", "3", "--stage", "paris"}, 1, "stage: is not a stage"},
		{"typo in a code", []string{"supply", "give", "--item", "family-tent", "--stage", "tapachula", e.ana.Code, typoCode(e.luis.Code)}, 1, "check character"},
		{"bad item rule", []string{"supply", "item", "add", "x", "--name-es", "X", "--unit", "u", "--per", "family", "--qty", "1", "--period", "once"}, 1, "per: must be household or person"},
		{"outcome missing", []string{"conflicts", "review", "distribution/h+family-tent+once"}, 2, "--outcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.events(t)
			code, _, errs := e.run(t, tc.args...)
			if code != tc.exit || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.exit, errs)
			}
			if got := e.events(t); got != before {
				t.Fatalf("a refused command wrote %d events", got-before)
			}
		})
	}

	if code, out, errs := e.run(t, "supply", "receive", "--item", "water", "--qty", "1,000", "--stage", "tapachula", "--donor", "Cruz Roja"); code != 0 || !strings.Contains(out, "stock there now 1000") {
		t.Fatalf("receive: %d %s %s", code, out, errs)
	}
	// Water for the Canario family (2 people): 30 L, collected by Luisito.
	code, out, errs = e.run(t, "supply", "give", "--item", "water", "--stage", "tapachula", e.luis.Code)
	if code != 0 || !strings.Contains(out, "30 water to household") || !strings.Contains(out, "Luisito") || !strings.Contains(out, "now 970") {
		t.Fatalf("give: %d\n%s\n%s", code, out, errs)
	}
	// The same household again today: refused, naming the code, nothing written.
	before := e.events(t)
	code, _, errs = e.run(t, "supply", "give", "--item", "water", "--stage", "tapachula", e.ana.Code)
	if code != 1 || !strings.Contains(errs, "people[0] ("+e.ana.Code+"): the household already received water today") {
		t.Fatalf("second water: %d\n%s", code, errs)
	}
	if e.events(t) != before {
		t.Fatal("a refused distribution wrote events")
	}
	code, out, _ = e.run(t, "supply", "stock", "--json")
	var rows []supply.StockRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Balance != 970 || rows[0].Distributed != 30 {
		t.Fatalf("stock --json: %d %s", code, out)
	}
	if code, out, _ := e.run(t, "supply", "stock", "--stage", "tapachula"); code != 0 || !strings.Contains(out, "970") {
		t.Fatalf("stock: %d %s", code, out)
	}
	code, out, _ = e.run(t, "supply", "give", "--item", "family-tent", "--stage", "tapachula", "--json", e.ana.Code)
	var res []supply.GiveResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 || res[0].Household == "" {
		t.Fatalf("give --json: %d %s", code, out)
	}
	code, out, _ = e.run(t, "supply", "history", "--household", res[0].Household, "--json")
	var hist []supply.Distribution
	if code != 0 || json.Unmarshal([]byte(out), &hist) != nil || len(hist) != 2 {
		t.Fatalf("history: %d %s", code, out)
	}
	if strings.Contains(out, "Anacleta") || strings.Contains(out, "Canario") {
		t.Fatalf("history names people: %s", out)
	}
	// An override (the operator is a coordinator) makes a conflict the
	// conflicts command lists and closes.
	if code, _, errs := e.run(t, "supply", "give", "--item", "family-tent", "--stage", "tapachula", "--override", e.luis.Code); code != 0 {
		t.Fatalf("override: %s", errs)
	}
	code, out, _ = e.run(t, "conflicts")
	key := res[0].Household + "+family-tent+once"
	if code != 0 || !strings.Contains(out, "distribution") || !strings.Contains(out, "distribution/"+key) {
		t.Fatalf("conflicts: %d\n%s", code, out)
	}
	if code, _, errs := e.run(t, "conflicts", "review", "distribution/"+key, "--outcome", "kept", "--note", "x"); code != 1 || !strings.Contains(errs, "outcome") {
		t.Fatalf("bad outcome: %d %s", code, errs)
	}
	if code, out, errs := e.run(t, "conflicts", "review", "distribution/"+key, "--outcome", "accepted", "--note", "la carpa se mojó"); code != 0 || !strings.Contains(out, "reviewed") {
		t.Fatalf("review: %d %s %s", code, out, errs)
	}
	if code, out, _ := e.run(t, "conflicts"); code != 0 || strings.Contains(out, "distribution") {
		t.Fatalf("still listed after review: %s", out)
	}
}
