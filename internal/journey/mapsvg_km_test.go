package journey_test

import (
	"strings"
	"testing"

	"caravana/internal/journey"
)

// TestMapKm: the map writes distances the way the page around it does
// when the page says how (MapText.Km), and with a thousands comma when it
// does not; the text for screen readers agrees with the picture.
func TestMapKm(t *testing.T) {
	r := journey.DefaultRoute()
	d := journey.MapData{Route: r, Column: journey.Column{Stage: &r.Stages[8], CoveredKm: 765.4, LeftKm: 2391.2}}
	spaced := func(v float64) string {
		if v > 1000 {
			return "2\u202f391"
		}
		return "765"
	}
	for _, tc := range []struct {
		name  string
		km    func(float64) string
		want  []string
		avoid string
	}{
		{"page's own", spaced, []string{"765 km recorridos · 2\u202f391 km por recorrer", "765 km recorridos, 2\u202f391 km por recorrer"}, "2,391"},
		{"default", nil, []string{"765 km recorridos · 2,391 km por recorrer", "765 km recorridos, 2,391 km por recorrer"}, "2\u202f391"},
	} {
		text := journey.MapText{Title: "Mapa", Column: "Columna", Covered: "km recorridos", ToGo: "km por recorrer", Km: tc.km}
		svg := string(journey.MapSVG(d, text))
		for _, w := range tc.want {
			if !strings.Contains(svg, w) {
				t.Errorf("%s: the map lacks %q", tc.name, w)
			}
		}
		if strings.Contains(svg, tc.avoid) {
			t.Errorf("%s: the map writes %q", tc.name, tc.avoid)
		}
	}
}
