package demo

import (
	"embed"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The name and town lists live in plain text files so that people who know the region can
// correct them without touching Go code; they are embedded so the binary needs no files at
// run time.
//
//go:embed data/*.txt
var dataFS embed.FS

// table is a frequency-weighted list sampled by binary search over cumulative weights. A
// few hundred entries need about eight comparisons per draw, which is cheap enough for a
// million people and much simpler than an alias table.
type table struct {
	items []string
	cum   []uint64 // cum[i] = sum of weights of items[0..i]
}

func (t *table) add(item string, w uint64) {
	var prev uint64
	if len(t.cum) > 0 {
		prev = t.cum[len(t.cum)-1]
	}
	t.items = append(t.items, item)
	t.cum = append(t.cum, prev+w)
}

func (t *table) pick(r *rand.Rand) string {
	x := r.Uint64N(t.cum[len(t.cum)-1])
	// The first cumulative weight strictly greater than x owns x.
	i := sort.Search(len(t.cum), func(i int) bool { return t.cum[i] > x })
	return t.items[i]
}

// country holds what varies by nationality: where people come from, their surnames, and
// how a mobile number there looks.
type country struct {
	code     string // ISO 3166 alpha-2
	dial     string // "+504 "
	prefixes string // leading digits of mobile numbers, repeated to weight them
	towns    table
	surnames table
}

// lists is the parsed content of data/.
type lists struct {
	female, male table
	countries    []*country // in nationalityWeights order
	natCum       []uint64
}

// nationalityWeights is the caravan's make-up by nationality, in per mille. Reports from
// October 2018 describe it as overwhelmingly Honduran, joined along the way by Guatemalans
// and Salvadorans, with a few Nicaraguans.
var nationalityWeights = []struct {
	code, dial, prefixes string
	perMille             uint64
}{
	// Honduran mobiles start with 3, 8 or 9 (9 most common); Guatemalan with 3, 4 or 5;
	// Salvadoran with 6 or 7; Nicaraguan with 5, 7 or 8. All use 8-digit numbers.
	{"HN", "+504 ", "99999333388", 780},
	{"GT", "+502 ", "5553344", 110},
	{"SV", "+503 ", "777766", 80},
	{"NI", "+505 ", "8885577", 30},
}

// loadLists parses the embedded files once; the data is compiled in, so a parse error is a
// programming error and panics (the tests exercise it).
var loadLists = sync.OnceValue(func() *lists {
	l, err := parseLists()
	if err != nil {
		panic("demo: " + err.Error())
	}
	return l
})

func parseLists() (*lists, error) {
	l := &lists{}
	byCode := map[string]*country{}
	var cum uint64
	for _, nw := range nationalityWeights {
		c := &country{code: nw.code, dial: nw.dial, prefixes: nw.prefixes}
		l.countries = append(l.countries, c)
		byCode[nw.code] = c
		cum += nw.perMille
		l.natCum = append(l.natCum, cum)
	}

	for _, f := range []struct {
		name string
		t    *table
	}{{"data/given_female.txt", &l.female}, {"data/given_male.txt", &l.male}} {
		err := eachRecord(f.name, 2, 2, func(rec []string, w uint64) error {
			f.t.add(rec[0], w)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	// A surname with no country list is common to the whole region.
	err := eachRecord("data/surnames.txt", 2, 3, func(rec []string, w uint64) error {
		if len(rec) == 2 || strings.TrimSpace(rec[2]) == "" {
			for _, c := range l.countries {
				c.surnames.add(rec[0], w)
			}
			return nil
		}
		for _, code := range strings.Fields(rec[2]) {
			c, ok := byCode[code]
			if !ok {
				return fmt.Errorf("surname %q: unknown country %q", rec[0], code)
			}
			c.surnames.add(rec[0], w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	err = eachRecord("data/towns.txt", 3, 3, func(rec []string, _ uint64) error {
		c, ok := byCode[rec[0]]
		if !ok {
			return fmt.Errorf("town %q: unknown country %q", rec[1], rec[0])
		}
		w, err := strconv.ParseUint(rec[2], 10, 32)
		if err != nil || w == 0 {
			return fmt.Errorf("town %q: bad weight %q", rec[1], rec[2])
		}
		c.towns.add(rec[1], w)
		return nil
	})
	if err != nil {
		return nil, err
	}

	for _, t := range []*table{&l.female, &l.male} {
		if len(t.items) == 0 {
			return nil, fmt.Errorf("empty given-name list")
		}
	}
	for _, c := range l.countries {
		if len(c.towns.items) == 0 || len(c.surnames.items) == 0 {
			return nil, fmt.Errorf("country %s has no towns or no surnames", c.code)
		}
	}
	return l, nil
}

// eachRecord calls fn for every non-comment line of an embedded file, split on commas into
// between minF and maxF fields. For name lists (minF == 2) the second field is the weight,
// parsed and checked here; other layouts get w == 0 and parse their own.
func eachRecord(name string, minF, maxF int, fn func(rec []string, w uint64) error) error {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		rec := strings.Split(line, ",")
		if len(rec) < minF || len(rec) > maxF {
			return fmt.Errorf("%s:%d: want %d to %d fields, got %d", name, i+1, minF, maxF, len(rec))
		}
		for j := range rec {
			rec[j] = strings.TrimSpace(rec[j])
		}
		if rec[0] == "" {
			return fmt.Errorf("%s:%d: empty name", name, i+1)
		}
		var w uint64
		if minF == 2 {
			w, err = strconv.ParseUint(rec[1], 10, 32)
			if err != nil || w == 0 {
				return fmt.Errorf("%s:%d: bad weight %q", name, i+1, rec[1])
			}
		}
		if err := fn(rec, w); err != nil {
			return fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
	}
	return nil
}

// phone returns a mobile number of country c in the local "+504 9xxx-xxxx" style. It builds
// the bytes by hand because fmt would dominate the cost of generating a million people.
func phone(r *rand.Rand, c *country) string {
	var b [len("+504 9999-9999")]byte
	n := copy(b[:], c.dial)
	b[n] = c.prefixes[r.IntN(len(c.prefixes))]
	n++
	for i := range 7 {
		if i == 3 {
			b[n] = '-'
			n++
		}
		b[n] = byte('0' + r.IntN(10))
		n++
	}
	return string(b[:n])
}
