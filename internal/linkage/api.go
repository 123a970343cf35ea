package linkage

import (
	"fmt"
	"strings"
	"time"
)

// Kind says how a field's values are compared.
type Kind string

// The kinds of field the engine knows how to compare.
const (
	KindName     Kind = "name"     // person names (given names or surnames): tokens, particles, nicknames, phonetic, Jaro-Winkler
	KindDate     Kind = "date"     // dates: 2006-01-02, 20060102, 02/01/2006 (day first), 2006; graded: exact, day/month swapped, within days, same year+month, year off by one
	KindAge      Kind = "age"      // approximate age in whole years: exact, within 2, within 5
	KindNumber   Kind = "number"   // numbers such as house numbers: exact, one edit
	KindCode     Kind = "code"     // identifiers, postcodes, phones: exact, one edit/transposition
	KindPlace    Kind = "place"    // towns, suburbs, states: exact, phonetic, Jaro-Winkler
	KindText     Kind = "text"     // free text (address lines): token overlap + Jaro-Winkler
	KindCategory Kind = "category" // small closed sets (sex, nationality): exact or not
)

// kinds lists every Kind, in the order error messages name them.
var kinds = []Kind{KindName, KindDate, KindAge, KindNumber, KindCode, KindPlace, KindText, KindCategory}

// ParseKind accepts the name of a Kind, in any case.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range kinds {
		if k == known {
			return k, nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown field kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// Field names a column and says how it is compared.
type Field struct {
	Name string
	Kind Kind
}

// PersonFields is the schema tracing uses for people and missing-person reports. surnames holds
// both surnames joined with a space, in any order; birth_date is YYYY-MM-DD; age is whole years
// as a decimal string (fill it whenever it is known, also next to a birth date: it is only
// compared when a side lacks the date); sex is F or M.
var PersonFields = []Field{
	{"given_names", KindName},
	{"surnames", KindName},
	{"birth_date", KindDate},
	{"age", KindAge},
	{"sex", KindCategory},
	{"origin_town", KindPlace},
	{"nationality", KindCategory},
}

// Record is one row: Values[i] is the raw value of fields[i]; "" means unknown.
type Record struct {
	ID     string
	Values []string
}

// Options tunes Link and Dedup.
type Options struct {
	Threshold float64               // pairs at or above are returned; 0 means 0.5
	Progress  func(done, total int) // optional, may be nil; called with monotonically rising done

	// AsOf is the date ages are counted at, used to compare an age on one side with a birth
	// date on the other and to block on birth year; zero means today.
	AsOf time.Time
}

// Pair is a candidate pair: indexes into the input slices (for Dedup, Left < Right).
type Pair struct {
	Left, Right int
	Probability float64 // posterior match probability in [0,1]
	Weight      float64 // total match weight, log2 Bayes factor
}

// Result is the outcome of Link or Dedup.
type Result struct {
	Pairs      []Pair // at or above the threshold, best first (ties: by Left, then Right)
	Candidates int    // pairs compared after blocking
	Model      *Model // the fitted model (m/u per field and level, lambda)
}

// Agreement explains one field of a compared pair.
type Agreement struct {
	Field  string  `json:"field"`  // the field name
	Level  string  `json:"level"`  // "exact", "nickname", "phonetic", "similar", "partial", "swapped", "close", "disagree", "missing"
	Weight float64 `json:"weight"` // this field's contribution (log2); 0 when missing
}

// Match is a record found by Index.Query.
type Match struct {
	ID          string
	Probability float64
	Weight      float64
	Fields      []Agreement
}

// DupPair is a likely duplicate found by Index.Duplicates.
type DupPair struct {
	A, B        string // IDs, A < B
	Probability float64
	Weight      float64
	Fields      []Agreement
}
