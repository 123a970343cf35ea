package supply

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"caravana/internal/registry"
)

// Entitlement units: what the quantity of an item is counted per.
const (
	PerHousehold = "household"
	PerPerson    = "person"
)

// Periods: how often a unit may receive an item.
const (
	Once     = "once"      // one per household ever (a family tent)
	PerStage = "per_stage" // once per route stage
	PerDay   = "per_day"   // once per day
)

// Review outcomes of a double distribution.
const (
	// Accepted: the family keeps both (a tent lost in a flood, say).
	Accepted = "accepted"
	// Recovered: one was given back.
	Recovered = "recovered"
)

var (
	// Pers lists the entitlement units.
	Pers = []string{PerHousehold, PerPerson}
	// Periods lists the periods.
	Periods = []string{Once, PerStage, PerDay}
	// Outcomes lists the review outcomes.
	Outcomes = []string{Accepted, Recovered}
)

// Item is a kind of supply and the rule for sharing it: Qty of it per
// household or per person, once, once per stage or once per day.
type Item struct {
	ID     string `json:"id"`
	NameES string `json:"name_es"`
	NameEN string `json:"name_en"`
	Unit   string `json:"unit"` // what Qty counts: "L", "kit", "tent"
	Per    string `json:"per"`
	Qty    int    `json:"qty"`
	Period string `json:"period"`
	// DefinedBy and DefinedAt say who set the current definition.
	DefinedBy string    `json:"defined_by,omitempty"`
	DefinedAt time.Time `json:"defined_at,omitzero"`
}

// Name is the item's name in lang ("es" or "en"), the Spanish one when
// there is no English name.
func (it Item) Name(lang string) string {
	if lang == "en" && it.NameEN != "" {
		return it.NameEN
	}
	return it.NameES
}

// Rule describes the entitlement in English, for the CLI.
func (it Item) Rule() string {
	per := map[string]string{PerHousehold: "household", PerPerson: "person"}[it.Per]
	when := map[string]string{Once: "once", PerStage: "per stage", PerDay: "per day"}[it.Period]
	return fmt.Sprintf("%d %s per %s %s", it.Qty, it.Unit, per, when)
}

// DefaultCatalogue is a starting catalogue after the Sphere minimum
// standards: 15 litres of water per person per day, a hygiene kit and a
// family tent per household once, a food ration per person per day, a
// blanket per person once.
func DefaultCatalogue() []Item {
	return []Item{
		{ID: "water", NameES: "Agua", NameEN: "Water", Unit: "L", Per: PerPerson, Qty: 15, Period: PerDay},
		{ID: "food-ration", NameES: "Ración de comida", NameEN: "Food ration", Unit: "ration", Per: PerPerson, Qty: 1, Period: PerDay},
		{ID: "hygiene-kit", NameES: "Kit de higiene", NameEN: "Hygiene kit", Unit: "kit", Per: PerHousehold, Qty: 1, Period: Once},
		{ID: "family-tent", NameES: "Carpa familiar", NameEN: "Family tent", Unit: "tent", Per: PerHousehold, Qty: 1, Period: Once},
		{ID: "blanket", NameES: "Cobija", NameEN: "Blanket", Unit: "blanket", Per: PerPerson, Qty: 1, Period: Once},
	}
}

var idRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// validID accepts the ids of items and stages: lower-case slugs.
func validID(s string) bool { return len(s) <= maxIDLen && idRE.MatchString(s) }

var dayRE = regexp.MustCompile(`^day:\d{4}-\d{2}-\d{2}$`)

// validPeriod accepts a period key: once, stage:<id> or day:<date>.
func validPeriod(s string) bool {
	switch {
	case s == Once:
		return true
	case strings.HasPrefix(s, "stage:"):
		return validID(strings.TrimPrefix(s, "stage:"))
	case dayRE.MatchString(s):
		_, err := time.Parse(time.DateOnly, strings.TrimPrefix(s, "day:"))
		return err == nil
	}
	return false
}

// checkItem validates a definition; nil if it is good.
func checkItem(b itemBody) *registry.FieldError {
	var v registry.ValidationError
	checkItemInto(&v, b)
	if len(v) > 0 {
		return &v[0]
	}
	return nil
}

func checkItemInto(v *registry.ValidationError, b itemBody) {
	if !validID(b.ID) {
		v.Add("id", "invalid", "must be lower-case letters, digits and dashes, e.g. family-tent")
	}
	registry.CheckText(v, "name_es", b.NameES, true, maxNameLen)
	registry.CheckText(v, "name_en", b.NameEN, false, maxNameLen)
	registry.CheckText(v, "unit", b.Unit, true, 20)
	if !slices.Contains(Pers, b.Per) {
		v.Add("per", "invalid", "must be household or person")
	}
	if b.Qty <= 0 || b.Qty > MaxQty {
		v.Add("qty", "invalid", "must be a whole number from 1 to %d", MaxQty)
	}
	if !slices.Contains(Periods, b.Period) {
		v.Add("period", "invalid", "must be once, per_stage or per_day")
	}
}

// ParseQty reads a quantity typed by a user: a whole number from 1 to
// MaxQty, with optional thousands separators (space, "_", "," or ".")
// between groups of three digits ("1,000", "1 000"); "1.5" is refused,
// not read as 15.
func ParseQty(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("a quantity is required")
	}
	if len(s) > 16 || !qtyRE.MatchString(s) {
		return 0, fmt.Errorf("must be a whole number from 1 to %d", MaxQty)
	}
	clean := strings.Map(func(r rune) rune {
		if r < '0' || r > '9' {
			return -1
		}
		return r
	}, s)
	n, err := strconv.Atoi(clean)
	if err != nil || n < 1 || n > MaxQty {
		return 0, fmt.Errorf("must be a whole number from 1 to %d", MaxQty)
	}
	return n, nil
}

var qtyRE = regexp.MustCompile(`^(\d+|\d{1,3}([ _,.\x{00a0}]\d{3})+)$`)

// dayZone is the caravan's clock for per-day entitlements: UTC-6 (Honduras,
// Guatemala, El Salvador and most of Mexico), fixed, so every node cuts
// the day at the same instant whatever its own time zone.
var dayZone = time.FixedZone("UTC-6", -6*3600)

// periodKey is the period a distribution at t, at stage, falls in.
func periodKey(period, stage string, t time.Time) string {
	switch period {
	case PerStage:
		return "stage:" + stage
	case PerDay:
		return "day:" + t.In(dayZone).Format(time.DateOnly)
	}
	return Once
}
