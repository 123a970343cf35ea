package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
)

// formErrors reports, for each field named, whether its label in part (a
// form's HTML) holds an error message.
func formErrors(part string, fields ...string) map[string]bool {
	out := map[string]bool{}
	for _, f := range fields {
		i := strings.Index(part, `name="`+f+`"`)
		if i < 0 {
			continue
		}
		end := strings.Index(part[i:], "</label>")
		out[f] = end >= 0 && strings.Contains(part[i:i+end], `class="err"`)
	}
	return out
}

// TestTimelineFormErrors: the incident and hazard forms have fields of
// the same names; an error in one marks only that form's field, and every
// problem of a form is reported at once (an unreadable number with the
// service's own refusals), with nothing written.
func TestTimelineFormErrors(t *testing.T) {
	e := newEnv(t)
	c := e.login(auth.Volunteer)
	until := time.Now().Add(6 * time.Hour).UTC().Format("2006-01-02T15:04")
	fields := []string{"kind", "severity", "at", "stage", "lat", "lon", "count", "people", "from", "until"}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		incident   []string // fields of the incident form with an error
		hazard     []string
	}{
		{"incident, four problems", "/incidents", url.Values{"kind": {"bogus"}, "severity": {"low"}, "lat": {"999"}, "lon": {"abc"}, "count": {"-1"}},
			[]string{"kind", "lat", "lon", "count"}, nil},
		{"incident, unreadable time and count", "/incidents", url.Values{"kind": {"medical"}, "severity": {"bogus"}, "stage": {"tecun-uman"},
			"at": {"ayer"}, "count": {"cuatro"}}, []string{"severity", "at", "count"}, nil},
		{"incident, unreadable latitude only", "/incidents", url.Values{"kind": {"medical"}, "severity": {"low"}, "lat": {"14,9x"}, "lon": {"-92.2"}},
			[]string{"lat"}, nil},
		{"hazard, four problems", "/hazards", url.Values{"kind": {"bogus"}, "lat": {"abc"}, "lon": {"200"}, "until": {""}},
			nil, []string{"kind", "lat", "lon", "until"}},
		{"hazard, unreadable start", "/hazards", url.Values{"kind": {"trap"}, "stage": {"tapachula"}, "from": {"mañana"}, "until": {until}},
			nil, []string{"from"}},
	} {
		before := e.events()
		r := c.form(tc.path, tc.form)
		if r.status != 400 || e.events() != before {
			t.Fatalf("%s: %d, %d events written", tc.name, r.status, e.events()-before)
		}
		i, h := strings.Index(r.body, `action="/incidents"`), strings.Index(r.body, `action="/hazards"`)
		if i < 0 || h < i {
			t.Fatalf("%s: the forms are not on the page", tc.name)
		}
		for form, part := range map[string]struct {
			html string
			want []string
		}{"incident": {r.body[i:h], tc.incident}, "hazard": {r.body[h:], tc.hazard}} {
			got := formErrors(part.html, fields...)
			for _, f := range fields {
				if want := slices.Contains(part.want, f); got[f] != want {
					t.Errorf("%s: %s form field %s flagged %v, want %v", tc.name, form, f, got[f], want)
				}
			}
		}
		if strings.Count(r.body, "<details class=\"record\" open>") != 1 {
			t.Errorf("%s: not just the form sent is open", tc.name)
		}
	}
}
