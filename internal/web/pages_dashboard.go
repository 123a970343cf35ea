package web

import (
	"html/template"
	"net/http"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
	"caravana/internal/report"
)

type chart struct {
	Title string
	SVG   template.HTML
}

type dashData struct {
	Stats  registry.Stats
	Charts []chart
	// The journey: the route map, where the column is, km covered and to go.
	Journey *dashJourney
}

type dashJourney struct {
	Map     template.HTML
	Column  journey.Column
	Covered string
	ToGo    string
	Hazards int
}

// label translates a stats key with a catalogue prefix when there is one
// (sexes, flags, countries), else shows the key itself (age bands, sizes).
func label(c *reqCtx, prefix, key string) string {
	if c.cat.Has(prefix + key) {
		return c.T(prefix + key)
	}
	return key
}

func bars(c *reqCtx, prefix string, counts []registry.Count) []report.Bar {
	out := make([]report.Bar, len(counts))
	for i, k := range counts {
		out[i] = report.Bar{Label: label(c, prefix, k.Key), Value: k.Value}
	}
	return out
}

// dashboard shows totals and charts. Staff see exact internal figures;
// small-cell suppression is for published figures (S16), not this page.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	st, err := s.n.Registry.Stats(r.Context(), c.p)
	if err != nil {
		return err
	}
	d := dashData{Stats: st}
	add := func(titleKey, prefix string, counts []registry.Count) {
		title := c.T(titleKey)
		d.Charts = append(d.Charts, chart{Title: title, SVG: report.BarChart(title, bars(c, prefix, counts))})
	}
	add("dash.by_age", "age.", st.AgeBands)
	add("dash.by_sex", "sex.", st.Sex)
	add("dash.by_nationality", "country.", topN(st.Nationality, 8, "other"))
	if len(st.Flags) > 0 {
		add("dash.by_flag", "flag.", st.Flags)
	}
	add("dash.by_household_size", "size.", st.HouseholdSizes)
	if auth.Can(c.p.Role, auth.JourneyRead) {
		md, svg, err := s.journeyMap(r, c)
		if err != nil {
			return err
		}
		d.Journey = &dashJourney{Map: svg, Column: md.Column, Covered: km(md.Column.CoveredKm), ToGo: km(md.Column.LeftKm),
			Hazards: len(md.Hazards)}
	}
	return s.render(w, r, http.StatusOK, "dashboard", s.newView(r, c, "dash.title", "dashboard", d))
}

// topN keeps the n largest counts (they arrive largest first) and sums the
// rest into one bar, so a long tail cannot stretch the page.
func topN(counts []registry.Count, n int, rest string) []registry.Count {
	if len(counts) <= n {
		return counts
	}
	out := append([]registry.Count{}, counts[:n-1]...)
	sum := 0
	for _, k := range counts[n-1:] {
		sum += k.Value
	}
	return append(out, registry.Count{Key: rest, Value: sum})
}
