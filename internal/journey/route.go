package journey

import (
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"caravana/internal/names"
)

// Stage is one place on the route: a town, a border crossing, a bridge.
type Stage struct {
	// ID is a stable slug ("tecun-uman"): check-ins, incidents and hazards
	// name stages by it, so it survives a renamed or re-imported route.
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Country string  `json:"country"` // ISO 3166 alpha-2
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	// Km is the road distance from the start of the route.
	Km float64 `json:"km"`
}

// Route is the ordered list of stages the caravan follows.
type Route struct {
	Stages []Stage `json:"stages"`
	// Default is true when no route was ever set and the shipped one applies.
	Default bool      `json:"default"`
	SetBy   string    `json:"set_by,omitempty"`
	SetAt   time.Time `json:"set_at,omitzero"`
}

// Index returns the position of stage id in the route, or -1.
func (r Route) Index(id string) int {
	for i, s := range r.Stages {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// Stage returns the stage with id.
func (r Route) Stage(id string) (Stage, bool) {
	if i := r.Index(id); i >= 0 {
		return r.Stages[i], true
	}
	return Stage{}, false
}

// Length is the route's length in km.
func (r Route) Length() float64 {
	if len(r.Stages) == 0 {
		return 0
	}
	return r.Stages[len(r.Stages)-1].Km
}

//go:embed routes/default.json
var defaultRouteJSON []byte

var defaultRoute = func() Route {
	r, err := ParseRoute("routes/default.json", defaultRouteJSON)
	if err != nil {
		panic("journey: the shipped default route is invalid: " + err.Error())
	}
	r.Default = true
	return r
}()

// DefaultRoute is the route shipped with the program: the 2018 caravan's,
// San Pedro Sula to the Brownsville port of entry by way of Mexico City.
func DefaultRoute() Route {
	r := defaultRoute
	r.Stages = append([]Stage(nil), defaultRoute.Stages...)
	return r
}

// Limits on a route file: generous for any real route, small enough that a
// hostile file cannot exhaust memory.
const (
	MaxRouteBytes  = 1 << 20
	MaxStages      = 500
	maxStageIDLen  = 48
	maxStageName   = 100
	maxRouteLength = 40_000 // km: once round the Earth
)

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Slug makes a stable stage id from a name: "Tecún Umán" -> "tecun-uman".
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range names.Fold(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxStageIDLen {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// validateStages normalises and checks stages in place; lines[i] is where
// stage i starts in the file (0 if unknown).
func validateStages(stages []Stage, lines []int, re *RouteError) {
	lineOf := func(i int) int {
		if i < len(lines) {
			return lines[i]
		}
		return 0
	}
	if len(stages) < 2 {
		re.add(0, "stages", "a route needs at least two stages, got %d", len(stages))
	}
	if len(stages) > MaxStages {
		re.add(0, "stages", "more than %d stages", MaxStages)
		return
	}
	ids := map[string]int{}
	for i := range stages {
		s := &stages[i]
		l := lineOf(i)
		f := func(k string) string { return fmt.Sprintf("stages[%d].%s", i, k) }
		s.Name = strings.Join(strings.Fields(s.Name), " ")
		switch {
		case s.Name == "":
			re.add(l, f("name"), "is required")
		case utf8.RuneCountInString(s.Name) > maxStageName:
			re.add(l, f("name"), "is longer than %d characters", maxStageName)
		case strings.IndexFunc(s.Name, unicode.IsControl) >= 0:
			re.add(l, f("name"), "contains control characters")
		}
		if s.ID == "" {
			s.ID = Slug(s.Name)
		}
		switch {
		case s.ID == "":
			re.add(l, f("id"), "is required when the name has no letters or digits")
		case len(s.ID) > maxStageIDLen || !slugRE.MatchString(s.ID):
			re.add(l, f("id"), "must be a slug of lower-case letters, digits and single hyphens, at most %d characters (e.g. tecun-uman)", maxStageIDLen)
		case ids[s.ID] > 0:
			re.add(l, f("id"), "%q is also the id of stage %d", s.ID, ids[s.ID]-1)
		default:
			ids[s.ID] = i + 1
		}
		s.Country = strings.ToUpper(strings.TrimSpace(s.Country))
		if len(s.Country) != 2 || s.Country[0] < 'A' || s.Country[0] > 'Z' || s.Country[1] < 'A' || s.Country[1] > 'Z' {
			re.add(l, f("country"), "must be a two-letter country code such as MX")
		}
		if math.IsNaN(s.Lat) || s.Lat < -90 || s.Lat > 90 {
			re.add(l, f("lat"), "must be a latitude between -90 and 90")
		}
		if math.IsNaN(s.Lon) || s.Lon < -180 || s.Lon > 180 {
			re.add(l, f("lon"), "must be a longitude between -180 and 180")
		}
		switch {
		case math.IsNaN(s.Km) || s.Km < 0 || s.Km > maxRouteLength:
			re.add(l, f("km"), "must be a distance between 0 and %d km", maxRouteLength)
		case i > 0 && !(s.Km > stages[i-1].Km):
			re.add(l, f("km"), "must be greater than the previous stage's (%s km): stages are listed in route order", fmtKm(stages[i-1].Km))
		}
	}
}

func fmtKm(km float64) string { return strconv.FormatFloat(km, 'f', -1, 64) }

// ValidateRoute checks a route built in code (e.g. from an API body) the
// way a file is checked, and returns it normalised.
func ValidateRoute(stages []Stage) (Route, error) {
	st := append([]Stage(nil), stages...)
	re := &RouteError{File: "route"}
	validateStages(st, nil, re)
	if err := re.orNil(); err != nil {
		return Route{}, err
	}
	return Route{Stages: st}, nil
}

// WriteJSON writes the route as a file ParseRoute reads back.
func (r Route) WriteJSON(w io.Writer) error {
	stages := r.Stages
	if stages == nil {
		stages = []Stage{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Stages []Stage `json:"stages"`
	}{stages})
}

// WriteCSV writes the route as a CSV file ParseRoute reads back.
func (r Route) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(stageFields); err != nil {
		return err
	}
	for _, s := range r.Stages {
		rec := []string{s.ID, s.Name, s.Country, strconv.FormatFloat(s.Lat, 'f', -1, 64),
			strconv.FormatFloat(s.Lon, 'f', -1, 64), fmtKm(s.Km)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
