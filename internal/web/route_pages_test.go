package web

import (
	"regexp"
	"strings"
	"testing"

	"caravana/internal/auth"
)

// TestRouteMapNumbers: the route map and the page around it write the km
// covered and to go alike ("2 391", not "2,391" in the map), on the route
// page and on the dashboard.
func TestRouteMapNumbers(t *testing.T) {
	e := newEnv(t)
	travelDemo(t, e, 60)
	c := e.login(auth.Volunteer)
	r := c.page("/route")
	value := func(label string) string {
		m := regexp.MustCompile(`<dt>` + label + `</dt><dd>([^<]+)</dd>`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("the route page shows no %q:\n%.3000s", label, r.body)
		}
		return m[1]
	}
	covered, toGo := value("km recorridos"), value("km por recorrer")
	if !strings.Contains(toGo, "\u202f") {
		t.Fatalf("km to go %q has no thousands space: the route is over 1,000 km", toGo)
	}
	for _, path := range []string{"/route", "/"} {
		body := c.page(path).body
		for _, w := range []string{covered + " km recorridos", toGo + " km por recorrer"} {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the map lacks %q", path, w)
			}
		}
		if regexp.MustCompile(`\d,\d{3} km`).MatchString(body) {
			t.Errorf("%s: the map writes km with a comma", path)
		}
	}
}
