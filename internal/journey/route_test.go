package journey

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// haversine is the great-circle distance in km.
func haversine(a, b Stage) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

func TestDefaultRoute(t *testing.T) {
	r := DefaultRoute()
	if !r.Default {
		t.Error("the shipped route is not marked default")
	}
	want := []string{"san-pedro-sula", "agua-caliente", "tecun-uman", "ciudad-hidalgo", "tapachula", "mexico-city", "brownsville"}
	for i, id := range want {
		if r.Index(id) < 0 {
			t.Fatalf("default route has no stage %q", id)
		}
		if i > 0 && r.Index(id) < r.Index(want[i-1]) {
			t.Errorf("stage %s comes before %s", id, want[i-1])
		}
	}
	if r.Stages[0].Km != 0 {
		t.Errorf("the route starts at km %v", r.Stages[0].Km)
	}
	// Road distances must be plausible against the coordinates: never
	// shorter than the straight line, never absurdly longer.
	for i := 1; i < len(r.Stages); i++ {
		a, b := r.Stages[i-1], r.Stages[i]
		road, line := b.Km-a.Km, haversine(a, b)
		if road < line || (line > 20 && road > 2*line) {
			t.Errorf("%s -> %s: %v km by road, %.1f km in a straight line", a.ID, b.ID, road, line)
		}
	}
	tap, _ := r.Stage("tapachula")
	bro, _ := r.Stage("brownsville")
	miles := (bro.Km - tap.Km) / 1.609344
	t.Logf("Tapachula to Brownsville by way of Mexico City: %.0f km, %.0f miles", bro.Km-tap.Km, miles)
	if miles < 1100 || miles > 1600 {
		t.Errorf("Tapachula to Brownsville = %.0f miles", miles)
	}
	// DefaultRoute hands out copies.
	r.Stages[0].Name = "changed"
	if DefaultRoute().Stages[0].Name == "changed" {
		t.Error("DefaultRoute shares its stages with callers")
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Tecún Umán", "tecun-uman"},
		{"Puente Rodolfo Robles / Tecún Umán", "puente-rodolfo-robles-tecun-uman"},
		{"  Ciudad de México (CDMX) ", "ciudad-de-mexico-cdmx"},
		{"Ñuñoa", "nunoa"},
		{"---", ""},
		{"東京", ""},
	} {
		if got := Slug(tc.in); got != tc.want {
			t.Errorf("Slug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

const goodCSV = `# a short route
id,name,country,lat,lon,km
tecun-uman,Tecún Umán,gt,14.6786,-92.1465,0
,Ciudad Hidalgo,MX,14.6797,-92.1517,2
tapachula,Tapachula,MX,14.9039,-92.2575,39
`

const goodJSON = `{"stages": [
  {"id": "tecun-uman", "name": "Tecún Umán", "country": "GT", "lat": 14.6786, "lon": -92.1465, "km": 0},
  {"name": "Ciudad Hidalgo", "country": "MX", "lat": 14.6797, "lon": -92.1517, "km": 2},
  {"id": "tapachula", "name": "Tapachula", "country": "MX", "lat": 14.9039, "lon": -92.2575, "km": 39}
]}`

func TestParseRouteGood(t *testing.T) {
	for _, tc := range []struct{ file, data string }{
		{"r.csv", goodCSV},
		{"r.json", goodJSON},
		{"noext", goodJSON},
		{"noext", goodCSV},
		{"bare.json", "[" + strings.SplitN(goodJSON, "[", 2)[1][:strings.LastIndex(strings.SplitN(goodJSON, "[", 2)[1], "]")] + "]"},
		{"bom.csv", "\ufeff" + goodCSV},
	} {
		r, err := ParseRoute(tc.file, []byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		ids := []string{r.Stages[0].ID, r.Stages[1].ID, r.Stages[2].ID}
		if !slices.Equal(ids, []string{"tecun-uman", "ciudad-hidalgo", "tapachula"}) {
			t.Errorf("%s: ids %v", tc.file, ids)
		}
		if r.Stages[0].Country != "GT" || r.Stages[2].Km != 39 || r.Stages[1].Lat != 14.6797 {
			t.Errorf("%s: stages %+v", tc.file, r.Stages)
		}
	}
}

// TestParseRouteBad: every bad file names its file, line and field, and
// says what is wrong.
func TestParseRouteBad(t *testing.T) {
	for _, tc := range []struct {
		name, file, data string
		line             int
		field, msg       string
	}{
		{"empty csv", "r.csv", "", 1, "", "empty"},
		{"unknown column", "r.csv", "name,country,lat,lon,km,colour\nA,MX,1,1,0\n", 1, "colour", "unknown column"},
		{"missing column", "r.csv", "name,country,lat,lon\nA,MX,1,1\n", 1, "km", "missing column"},
		{"repeated column", "r.csv", "name,name,country,lat,lon,km\n", 1, "name", "repeated"},
		{"bad number", "r.csv", "name,country,lat,lon,km\nA,MX,1,1,0\nB,MX,14,9;5,3\n", 3, "lon", "number"},
		{"decimal comma", "r.csv", "name,country,lat,lon,km\nA,MX,\"14,9\",1,0\nB,MX,1,1,3\n", 2, "lat", "dot for decimals"},
		{"field count", "r.csv", "name,country,lat,lon,km\nA,MX,1,1,0\nB,MX,1,1\n", 3, "", "number of fields"},
		{"lat range", "r.csv", "name,country,lat,lon,km\nA,MX,91,1,0\nB,MX,1,1,3\n", 2, "stages[0].lat", "between -90 and 90"},
		{"km order", "r.csv", "name,country,lat,lon,km\nA,MX,1,1,10\nB,MX,1,1,3\n", 3, "stages[1].km", "greater than the previous"},
		{"duplicate id", "r.csv", "id,name,country,lat,lon,km\nx,A,MX,1,1,0\nx,B,MX,1,1,3\n", 3, "stages[1].id", "also the id"},
		{"bad id", "r.csv", "id,name,country,lat,lon,km\nBad Id,A,MX,1,1,0\nb,B,MX,1,1,3\n", 2, "stages[0].id", "slug"},
		{"country", "r.csv", "name,country,lat,lon,km\nA,Mexico,1,1,0\nB,MX,1,1,3\n", 2, "stages[0].country", "two-letter"},
		{"one stage", "r.csv", "name,country,lat,lon,km\nA,MX,1,1,0\n", 0, "stages", "at least two"},
		{"no name", "r.csv", "name,country,lat,lon,km\n,MX,1,1,0\nB,MX,1,1,3\n", 2, "stages[0].name", "required"},
		{"json syntax", "r.json", "{\"stages\": [\n {\"name\": \"A\",}\n]}", 2, "", "JSON syntax"},
		{"json unknown key", "r.json", "{\"stages\": [\n{\"name\": \"A\", \"country\": \"MX\", \"lat\": 1, \"lon\": 1, \"km\": 0,\n \"colour\": \"red\"}]}", 3, "stages[0].colour", "unknown key"},
		{"json repeated key", "r.json", "[{\"name\": \"A\",\n \"name\": \"B\"}]", 2, "stages[0].name", "repeated"},
		{"json wrong type", "r.json", "[{\"name\": \"A\", \"country\": \"MX\", \"lat\": \"14.9\", \"lon\": 1, \"km\": 0}]", 1, "stages[0].lat", "must be a number"},
		{"json missing field", "r.json", "[\n{\"name\": \"A\", \"country\": \"MX\", \"lat\": 1, \"km\": 0},\n{\"name\": \"B\", \"country\": \"MX\", \"lat\": 1, \"lon\": 1, \"km\": 3}]", 2, "stages[0].lon", "required"},
		{"json top-level key", "r.json", "{\"route\": []}", 1, "route", "unknown key"},
		{"json trailing", "r.json", goodJSON + "\n[]", 6, "", "after the route"},
		{"json not object", "r.json", "[1, 2]", 1, "stages[0]", "must be an object"},
		{"json truncated", "r.json", "[{\"name\": \"A\"", 1, "", "ends too early"},
		{"json number", "r.json", "[{\"name\": \"A\", \"country\": \"MX\", \"lat\": 1e999, \"lon\": 1, \"km\": 0}]", 1, "stages[0].lat", "usable number"},
		{"not utf8", "r.csv", "name,country,lat,lon,km\nA\xff,MX,1,1,0\n", 2, "", "not UTF-8"},
		{"too big", "r.json", strings.Repeat(" ", MaxRouteBytes+1), 0, "", "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRoute(tc.file, []byte(tc.data))
			var re *RouteError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want a *RouteError", err)
			}
			if re.File != tc.file || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error does not name the file: %v", err)
			}
			if v := re.Validation(); len(v) != len(re.Problems) || v[0].Message != re.Problems[0].Msg {
				t.Errorf("Validation() = %+v", v)
			}
			for _, p := range re.Problems {
				if p.Line == tc.line && p.Field == tc.field && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no problem at line %d field %q containing %q in:\n%v", tc.line, tc.field, tc.msg, err)
		})
	}
}

func TestRouteRoundTrip(t *testing.T) {
	r := DefaultRoute()
	for _, format := range []string{"json", "csv"} {
		var buf bytes.Buffer
		var err error
		if format == "csv" {
			err = r.WriteCSV(&buf)
		} else {
			err = r.WriteJSON(&buf)
		}
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRoute("route."+format, buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !slices.Equal(back.Stages, r.Stages) {
			t.Errorf("%s round trip changed the route", format)
		}
	}
}
