package journey

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzParseRoute (S18): a route file parser never panics; it either
// returns a *RouteError with at least one problem, or a valid route that
// survives export and re-import unchanged in both formats.
func FuzzParseRoute(f *testing.F) {
	f.Add("r.csv", []byte(goodCSV))
	f.Add("r.json", []byte(goodJSON))
	f.Add("r", []byte(goodJSON))
	f.Add("r.json", defaultRouteJSON)
	f.Add("r.csv", []byte("name,country,lat,lon,km\nA,MX,1,1,0\nB,MX,1,1,3\n"))
	f.Add("r.json", []byte(`[{"name":"A","country":"MX","lat":1,"lon":1,"km":0},{"name":"B","country":"MX","lat":1,"lon":1,"km":1e2}]`))
	f.Add("r.json", []byte(`{"stages":[{"id":"a","name":"A","country":"mx","lat":-90,"lon":180,"km":0},{"name":"B","country":"MX","lat":90,"lon":-180,"km":0.5}]}`))
	f.Add("r.csv", []byte("id,name,country,lat,lon,km\n\"a\",\"A \"\"x\"\"\",MX,1,1,0\nb,B,MX,1,1,3\n"))
	f.Fuzz(func(t *testing.T, file string, data []byte) {
		r, err := ParseRoute(file, data)
		if err != nil {
			var re *RouteError
			if !errors.As(err, &re) || len(re.Problems) == 0 {
				t.Fatalf("error %v is not a RouteError with problems", err)
			}
			return
		}
		if len(r.Stages) < 2 || len(r.Stages) > MaxStages {
			t.Fatalf("accepted %d stages", len(r.Stages))
		}
		ids := map[string]bool{}
		for i, s := range r.Stages {
			if !slugRE.MatchString(s.ID) || ids[s.ID] || s.Name == "" || len(s.Country) != 2 {
				t.Fatalf("accepted a bad stage %+v", s)
			}
			ids[s.ID] = true
			if i > 0 && !(s.Km > r.Stages[i-1].Km) {
				t.Fatalf("accepted km out of order: %+v", r.Stages)
			}
		}
		for _, format := range []string{"json", "csv"} {
			var buf bytes.Buffer
			if format == "csv" {
				_ = r.WriteCSV(&buf)
			} else {
				_ = r.WriteJSON(&buf)
			}
			back, err := ParseRoute("x."+format, buf.Bytes())
			if err != nil {
				t.Fatalf("re-import of %s export failed: %v\n%s", format, err, buf.Bytes())
			}
			if !slices.Equal(back.Stages, r.Stages) {
				t.Fatalf("%s round trip changed %+v into %+v", format, r.Stages, back.Stages)
			}
		}
	})
}
