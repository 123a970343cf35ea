package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/store"
)

// Count is one labelled number.
type Count struct {
	Key   string `json:"key"`
	Value int    `json:"value"`
}

// Stats are the registry's aggregate figures: no one person in them.
type Stats struct {
	People         int     `json:"people"`
	Households     int     `json:"households"`
	Children       int     `json:"children"` // under 18
	AgeBands       []Count `json:"age_bands"`
	Sex            []Count `json:"sex"`
	Nationality    []Count `json:"nationality"`
	Flags          []Count `json:"flags"`
	HouseholdSizes []Count `json:"household_sizes"`
}

// AgeBands are the dashboard's age groups, by lower bound.
var AgeBands = []struct {
	Key string
	Min int
}{{"0-4", 0}, {"5-11", 5}, {"12-17", 12}, {"18-59", 18}, {"60+", 60}}

// AgeBand names the band an age falls in ("unknown" for no age).
func AgeBand(age int, known bool) string {
	if !known {
		return "unknown"
	}
	band := AgeBands[0].Key
	for _, b := range AgeBands {
		if age >= b.Min {
			band = b.Key
		}
	}
	return band
}

// statsCache keeps the last figures per role, valid while the event log's
// version vector is unchanged (it changes with every event, from any
// process writing to the node).
type statsCache struct {
	mu     sync.Mutex
	vector string
	day    string
	byRole map[auth.Role]Stats
}

func vectorKey(v map[string]uint64) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d;", k, v[k])
	}
	return b.String()
}

// Stats computes the figures. It opens sealed fields in memory and keeps
// only counts; flags the role may not see are left out.
func (s *Service) Stats(ctx context.Context, p auth.Principal) (Stats, error) {
	if err := auth.Check(p, auth.StatsRead); err != nil {
		return Stats{}, err
	}
	var vec map[string]uint64
	if err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		vec, err = tx.Vector(ctx)
		return err
	}); err != nil {
		return Stats{}, err
	}
	key, day := vectorKey(vec), s.now().Format(time.DateOnly) // ages change with the date too
	s.stats.mu.Lock()
	cached, ok := s.stats.byRole[p.Role]
	if ok && s.stats.vector == key && s.stats.day == day {
		s.stats.mu.Unlock()
		return cached, s.led.Audit(ctx, store.AuditEntry{Actor: p.Actor(), Action: "stats.read", Record: "registry", Detail: "aggregate counts"})
	}
	s.stats.mu.Unlock()
	st, err := s.computeStats(ctx, p)
	if err != nil {
		return Stats{}, err
	}
	s.stats.mu.Lock()
	if s.stats.vector != key || s.stats.day != day {
		s.stats.vector, s.stats.day, s.stats.byRole = key, day, map[auth.Role]Stats{}
	}
	s.stats.byRole[p.Role] = st
	s.stats.mu.Unlock()
	return st, nil
}

func (s *Service) computeStats(ctx context.Context, p auth.Principal) (Stats, error) {
	now := s.now()
	bands := map[string]int{}
	sexes := map[string]int{}
	nats := map[string]int{}
	flags := map[string]int{}
	sizes := map[string]int{}
	var st Stats
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		err := tx.Scan(ctx, docPerson, func(id string, data []byte) error {
			// Decode only the four sealed values the figures need: the
			// rest of the document is most of the cost at 100,000 people.
			var d struct {
				Fields struct {
					BirthDate   struct{ V string } `json:"birth_date"`
					Sex         struct{ V string } `json:"sex"`
					Nationality struct{ V string } `json:"nationality"`
					Flags       struct{ V string } `json:"flags"`
				} `json:"fields"`
				Merged *struct{} `json:"merged"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			if d.Merged != nil {
				return nil // a duplicate registration counts once, as the survivor
			}
			sealed := map[string]string{auth.FieldBirthDate: d.Fields.BirthDate.V, auth.FieldSex: d.Fields.Sex.V,
				auth.FieldNationality: d.Fields.Nationality.V, auth.FieldFlags: d.Fields.Flags.V}
			st.People++
			open := func(f string) string {
				v, err := s.seal.OpenField(entity(id), f, sealed[f])
				if err != nil {
					return ""
				}
				return v
			}
			bd, err := time.Parse("2006-01-02", open(auth.FieldBirthDate))
			age := AgeOn(bd, now)
			band := AgeBand(age, err == nil)
			bands[band]++
			if err == nil && age < 18 {
				st.Children++
			}
			sexes[or(open(auth.FieldSex), "unknown")]++
			nats[or(open(auth.FieldNationality), "unknown")]++
			for _, f := range strings.Split(open(auth.FieldFlags), ",") {
				if f != "" && auth.CanSeeFlag(p.Role, f) {
					flags[f]++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Scan(ctx, docHousehold, func(id string, data []byte) error {
			var d struct {
				Members []Member `json:"members"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			if len(d.Members) == 0 {
				return nil
			}
			st.Households++
			switch n := len(d.Members); {
			case n >= 6:
				sizes["6+"]++
			default:
				sizes[string(rune('0'+n))]++
			}
			return nil
		})
	})
	if err != nil {
		return Stats{}, err
	}
	for _, b := range AgeBands {
		st.AgeBands = append(st.AgeBands, Count{b.Key, bands[b.Key]})
	}
	if bands["unknown"] > 0 {
		st.AgeBands = append(st.AgeBands, Count{"unknown", bands["unknown"]})
	}
	st.Sex = sorted(sexes)
	st.Nationality = sorted(nats)
	for _, f := range auth.Flags {
		if auth.CanSeeFlag(p.Role, f) {
			st.Flags = append(st.Flags, Count{f, flags[f]})
		}
	}
	for _, k := range []string{"1", "2", "3", "4", "5", "6+"} {
		st.HouseholdSizes = append(st.HouseholdSizes, Count{k, sizes[k]})
	}
	if err := s.led.Audit(ctx, store.AuditEntry{Actor: p.Actor(), Action: "stats.read", Record: "registry", Detail: "aggregate counts"}); err != nil {
		return Stats{}, err
	}
	return st, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sorted orders counts largest first, then by key.
func sorted(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Key < out[j].Key
	})
	return out
}
