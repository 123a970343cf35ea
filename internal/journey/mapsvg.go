package journey

import (
	"context"
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"caravana/internal/auth"
	"caravana/internal/store"
)

// MapData is everything the route map shows.
type MapData struct {
	Route  Route  `json:"route"`
	Column Column `json:"column"`
	// Seen counts the people checked in at each stage that has check-ins.
	Seen      map[string]int `json:"seen"`
	Incidents []Incident     `json:"incidents"`
	Hazards   []Hazard       `json:"hazards"` // live ones only
}

// maxMapIncidents keeps the picture small on 2G: the most recent only.
const maxMapIncidents = 100

// MapData gathers the route, the column's position, the incidents and the
// live hazards.
func (s *Service) MapData(ctx context.Context, p auth.Principal) (MapData, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return MapData{}, err
	}
	var d MapData
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if d.Column, d.Route, err = s.readColumn(ctx, tx); err != nil {
			return err
		}
		d.Seen, err = seenStages(ctx, tx)
		return err
	})
	if err != nil {
		return MapData{}, err
	}
	if d.Incidents, err = s.Incidents(ctx, p, IncidentFilter{}); err != nil {
		return MapData{}, err
	}
	if len(d.Incidents) > maxMapIncidents {
		d.Incidents = d.Incidents[:maxMapIncidents]
	}
	if d.Hazards, err = s.hazards(ctx, true); err != nil {
		return MapData{}, err
	}
	return d, nil
}

// Map draws the route map for a page (see MapSVG).
func (s *Service) Map(ctx context.Context, p auth.Principal, text MapText) (template.HTML, error) {
	d, err := s.MapData(ctx, p)
	if err != nil {
		return "", err
	}
	return MapSVG(d, text), nil
}

// MapText holds the words on the map, so pages can translate them.
type MapText struct {
	Title   string // e.g. "Route map"
	Column  string // e.g. "Column"
	Covered string // e.g. "km covered"
	ToGo    string // e.g. "km to go"
	// Kind translates an incident or hazard kind; nil shows the key.
	Kind func(string) string
	// Km formats a distance in whole km as the page around the map does
	// ("2 391"); nil writes "2,391".
	Km func(float64) string
}

// km formats a distance with text.Km, else with a thousands comma.
func (text MapText) km(v float64) string {
	if text.Km != nil {
		return text.Km(v)
	}
	return fmtThousands(v)
}

// EnglishMap is the map's English wording.
var EnglishMap = MapText{Title: "Route map", Column: "Column", Covered: "km covered", ToGo: "km to go"}

// Map geometry, in viewBox units.
const (
	mapMaxW    = 400.0
	mapMaxH    = 400.0
	mapPad     = 14.0
	mapFooter  = 30.0
	mapBottom  = 30.0 // room under the southernmost stages for their names
	mapFont    = 9.0
	charWidth  = 0.56 // of the font size, for a sans-serif average
	stageR     = 2.6
	columnR    = 6.0
	markerSize = 5.0

	colRoute     = "#9aa5b1"
	colCovered   = "#2f5f98"
	colGrid      = "#e3e7eb"
	colColumn    = "#c0392b"
	colIncident  = "#7b1f1f"
	colHazard    = "#d9822b"
	colText      = "#222"
	colGridLabel = "#8a949e"
)

// projection is an equirectangular projection scaled by the cosine of the
// mean latitude: true to shape at the scale of a region, with no tiles,
// no network and no library.
type projection struct {
	minX, maxY, k, cos float64
}

func (pr projection) xy(lat, lon float64) (float64, float64) {
	return mapPad + (lon*pr.cos-pr.minX)*pr.k, mapPad + (pr.maxY-lat)*pr.k
}

type box struct{ x0, y0, x1, y1 float64 }

func (a box) overlaps(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// MapSVG draws the route's stages where they are on Earth, the route line
// (solid where the column has passed), the column's position, the distance
// covered and to go, incidents (dark triangles) and live hazards (orange
// diamonds). The SVG follows package report's conventions: a viewBox with
// width 100%, role="img" with a <title>, a <desc> with the facts as text,
// no style attributes, no ids, every text escaped.
func MapSVG(d MapData, text MapText) template.HTML {
	if text.Kind == nil {
		text.Kind = func(k string) string { return strings.ReplaceAll(k, "_", " ") }
	}
	r := d.Route
	placeOf := func(pl Place) (float64, float64, bool) {
		if pl.Stage != "" {
			st, ok := r.Stage(pl.Stage)
			return st.Lat, st.Lon, ok
		}
		if pl.Lat != nil && pl.Lon != nil {
			return *pl.Lat, *pl.Lon, true
		}
		return 0, 0, false
	}
	// The extent covers the stages and every marker.
	var lats, lons []float64
	for _, st := range r.Stages {
		lats, lons = append(lats, st.Lat), append(lons, st.Lon)
	}
	for _, in := range d.Incidents {
		if la, lo, ok := placeOf(in.Place); ok {
			lats, lons = append(lats, la), append(lons, lo)
		}
	}
	for _, h := range d.Hazards {
		if la, lo, ok := placeOf(h.Place); ok {
			lats, lons = append(lats, la), append(lons, lo)
		}
	}
	if len(lats) == 0 {
		lats, lons = []float64{0}, []float64{0}
	}
	minLat, maxLat := minMax(lats)
	minLon, maxLon := minMax(lons)
	cos := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	spanX := math.Max((maxLon-minLon)*cos, 0.01)
	spanY := math.Max(maxLat-minLat, 0.01)
	k := math.Min((mapMaxW-2*mapPad)/spanX, (mapMaxH-mapPad-mapBottom)/spanY)
	pr := projection{minX: minLon * cos, maxY: maxLat, k: k, cos: cos}
	w := spanX*k + 2*mapPad
	h := spanY*k + mapPad + mapBottom
	// Room for labels that stick out and for the footer line.
	w = math.Max(w, 240)
	height := h + mapFooter

	var b strings.Builder
	b.Grow(8000)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="100%%" role="img" aria-label="`, num(w), num(height))
	esc(&b, text.Title)
	fmt.Fprintf(&b, `" font-family="sans-serif" font-size="%s"><title>`, num(mapFont))
	esc(&b, text.Title)
	b.WriteString(`</title><desc>`)
	esc(&b, mapDesc(d, text))
	b.WriteString(`</desc>`)

	// Graticule every 5 degrees, for a sense of place without a basemap.
	for lat := math.Ceil(minLat/5) * 5; lat <= maxLat; lat += 5 {
		_, y := pr.xy(lat, minLon)
		fmt.Fprintf(&b, `<path d="M0 %sH%s" stroke="%s" fill="none"/><text x="2" y="%s" fill="%s" font-size="7">%s</text>`,
			num(y), num(w), colGrid, num(y-2), colGridLabel, degrees(lat, "N", "S"))
	}
	for lon := math.Ceil(minLon/5) * 5; lon <= maxLon; lon += 5 {
		x, _ := pr.xy(maxLat, lon)
		fmt.Fprintf(&b, `<path d="M%s 0V%s" stroke="%s" fill="none"/><text x="%s" y="%s" fill="%s" font-size="7">%s</text>`,
			num(x), num(h), colGrid, num(x+2), num(h-2), colGridLabel, degrees(lon, "E", "W"))
	}

	// The route: grey ahead of the column, blue behind it.
	pts := make([][2]float64, len(r.Stages))
	for i, st := range r.Stages {
		x, y := pr.xy(st.Lat, st.Lon)
		pts[i] = [2]float64{x, y}
	}
	col := -1
	if d.Column.Stage != nil {
		col = r.Index(d.Column.Stage.ID)
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`, points(pts), colRoute)
	}
	if col > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="3" stroke-linejoin="round"/>`, points(pts[:col+1]), colCovered)
	}

	// Stages, each with its name and km as a tooltip.
	for i, st := range r.Stages {
		fill := "#fff"
		if d.Seen[st.ID] > 0 {
			fill = colCovered
		}
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="%s"><title>`, num(pts[i][0]), num(pts[i][1]), num(stageR), fill, colCovered)
		esc(&b, fmt.Sprintf("%s — km %s", st.Name, fmtKm(st.Km)))
		if n := d.Seen[st.ID]; n > 0 {
			esc(&b, fmt.Sprintf(" — %d", n))
		}
		b.WriteString(`</title></circle>`)
	}

	// Markers: incidents as triangles, live hazards as diamonds.
	var markers [][2]float64
	for _, in := range d.Incidents {
		la, lo, ok := placeOf(in.Place)
		if !ok {
			continue
		}
		x, y := pr.xy(la, lo)
		markers = append(markers, [2]float64{x, y})
		fmt.Fprintf(&b, `<path d="M%s %sl%s %sh-%sz" fill="%s" stroke="#fff" stroke-width="0.5"><title>`,
			num(x), num(y-markerSize), num(markerSize), num(markerSize*1.7), num(markerSize*2), colIncident)
		esc(&b, fmt.Sprintf("%s (%s) %s", text.Kind(in.Kind), text.Kind(in.Severity), in.At.UTC().Format("2006-01-02 15:04")))
		b.WriteString(`</title></path>`)
	}
	for _, hz := range d.Hazards {
		la, lo, ok := placeOf(hz.Place)
		if !ok {
			continue
		}
		x, y := pr.xy(la, lo)
		markers = append(markers, [2]float64{x, y})
		fmt.Fprintf(&b, `<path d="M%s %sl%s %sl-%s %sl-%s -%sz" fill="%s" stroke="#fff" stroke-width="0.5"><title>`,
			num(x), num(y-markerSize), num(markerSize), num(markerSize), num(markerSize), num(markerSize),
			num(markerSize), num(markerSize), colHazard)
		esc(&b, fmt.Sprintf("%s — %s", text.Kind(hz.Kind), hz.Until.UTC().Format("2006-01-02 15:04")))
		b.WriteString(`</title></path>`)
	}

	// The column.
	if col >= 0 {
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="%s" fill="none" stroke="%s" stroke-width="2.5"/>`,
			num(pts[col][0]), num(pts[col][1]), num(columnR), colColumn)
	}

	// Labels, most important first, each placed where it overlaps nothing
	// already drawn in text; the rest stay as tooltips and in <desc>.
	order := make([]int, 0, len(r.Stages))
	seenIdx := map[int]bool{}
	push := func(i int) {
		if i >= 0 && i < len(r.Stages) && !seenIdx[i] {
			seenIdx[i] = true
			order = append(order, i)
		}
	}
	push(col)
	if col >= 0 {
		push(col + 1) // where the column goes next
	}
	push(0)
	push(len(r.Stages) - 1)
	for i, st := range r.Stages {
		if d.Seen[st.ID] > 0 {
			push(i)
		}
	}
	for i := range r.Stages {
		push(i)
	}
	// Labels keep off every dot and marker as well as each other.
	var placed []box
	around := func(x, y, r float64) box { return box{x - r, y - r, x + r, y + r} }
	for _, pt := range pts {
		placed = append(placed, around(pt[0], pt[1], stageR))
	}
	for _, m := range markers {
		placed = append(placed, around(m[0], m[1], markerSize))
	}
	if col >= 0 {
		placed = append(placed, around(pts[col][0], pts[col][1], columnR+1))
	}
	for _, i := range order {
		label := r.Stages[i].Name
		if i == col && text.Column != "" {
			label = text.Column + ": " + label
		}
		tw := float64(utf8.RuneCountInString(label)) * mapFont * charWidth
		x, y := pts[i][0], pts[i][1]
		gap := stageR + 2
		if i == col {
			gap = columnR + 2
		}
		type cand struct {
			bx     box
			tx, ty float64
			anchor string
		}
		cands := []cand{
			{box{x + gap, y - mapFont/2 - 1, x + gap + tw, y + mapFont/2}, x + gap, y + mapFont/3, "start"},
			{box{x - gap - tw, y - mapFont/2 - 1, x - gap, y + mapFont/2}, x - gap, y + mapFont/3, "end"},
			{box{x - tw/2, y - gap - mapFont - 1, x + tw/2, y - gap}, x, y - gap - 1, "middle"},
			{box{x - tw/2, y + gap, x + tw/2, y + gap + mapFont + 1}, x, y + gap + mapFont, "middle"},
		}
		for _, c := range cands {
			if c.bx.x0 < 0 || c.bx.x1 > w || c.bx.y0 < 0 || c.bx.y1 > h {
				continue
			}
			clash := false
			for _, p := range placed {
				if c.bx.overlaps(p) {
					clash = true
					break
				}
			}
			if clash {
				continue
			}
			placed = append(placed, c.bx)
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s"`, num(c.tx), num(c.ty), colText)
			if c.anchor != "start" {
				fmt.Fprintf(&b, ` text-anchor="%s"`, c.anchor)
			}
			if i == col {
				b.WriteString(` font-weight="bold"`)
			}
			b.WriteString(`>`)
			esc(&b, label)
			b.WriteString(`</text>`)
			break
		}
	}

	// Footer: distance covered and to go.
	fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s" font-size="11">`, num(mapPad), num(h+mapFooter/2+4), colText)
	esc(&b, fmt.Sprintf("%s %s · %s %s", text.km(d.Column.CoveredKm), text.Covered, text.km(d.Column.LeftKm), text.ToGo))
	b.WriteString(`</text></svg>`)
	return template.HTML(b.String())
}

// mapDesc repeats the map's facts as text for screen readers.
func mapDesc(d MapData, text MapText) string {
	var parts []string
	if d.Column.Stage != nil {
		parts = append(parts, fmt.Sprintf("%s: %s", text.Column, d.Column.Stage.Name))
	}
	parts = append(parts, fmt.Sprintf("%s %s, %s %s", text.km(d.Column.CoveredKm), text.Covered, text.km(d.Column.LeftKm), text.ToGo))
	names := make([]string, len(d.Route.Stages))
	for i, st := range d.Route.Stages {
		names[i] = st.Name
	}
	parts = append(parts, strings.Join(names, " – "))
	for _, in := range d.Incidents {
		parts = append(parts, fmt.Sprintf("%s %s", text.Kind(in.Kind), in.At.UTC().Format("2006-01-02")))
	}
	for _, hz := range d.Hazards {
		parts = append(parts, fmt.Sprintf("%s → %s", text.Kind(hz.Kind), hz.Until.UTC().Format(time.DateTime)))
	}
	return strings.Join(parts, "; ")
}

func minMax(v []float64) (float64, float64) {
	lo, hi := v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func points(pts [][2]float64) string {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(num(p[0]))
		b.WriteByte(',')
		b.WriteString(num(p[1]))
	}
	return b.String()
}

func degrees(v float64, pos, neg string) string {
	if v < 0 {
		return strconv.Itoa(int(-v)) + "°" + neg
	}
	return strconv.Itoa(int(v)) + "°" + pos
}

// num formats a coordinate with at most one decimal, as package report does.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func esc(b *strings.Builder, s string) { _ = xml.EscapeText(b, []byte(s)) }

// fmtThousands renders whole km with thousands separators: "2,398".
func fmtThousands(km float64) string {
	n := int64(math.Round(km))
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
