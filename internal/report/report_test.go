package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/boombuler/barcode/qr"
)

// elem is one decoded XML element with its attributes and direct text.
type elem struct {
	Name  string
	Attr  map[string]string
	Text  string
	Depth int
}

// parseSVG decodes the whole output with a strict XML decoder and returns
// its elements in document order. It fails the test on any XML error, on
// trailing content, or if the root is not an accessible, scalable <svg>.
func parseSVG(t testing.TB, out string) []elem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(out))
	var elems []elem
	var stack []int
	roots := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML: %v\n%s", err, out)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
			}
			e := elem{Name: tok.Name.Local, Attr: map[string]string{}, Depth: len(stack)}
			for _, a := range tok.Attr {
				e.Attr[a.Name.Local] = a.Value
			}
			stack = append(stack, len(elems))
			elems = append(elems, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				elems[stack[len(stack)-1]].Text += string(tok)
			} else if strings.TrimSpace(string(tok)) != "" {
				t.Fatalf("text outside the root element: %q", tok)
			}
		}
	}
	if roots != 1 || elems[0].Name != "svg" {
		t.Fatalf("want exactly one root <svg>, got %d roots: %s", roots, out)
	}
	root := elems[0].Attr
	if root["role"] != "img" || root["width"] != "100%" || root["viewBox"] == "" || root["height"] != "" {
		t.Fatalf("root attributes %v: want role=img, width=100%%, a viewBox and no fixed height", root)
	}
	if len(elems) < 2 || elems[1].Name != "title" {
		t.Fatalf("first child of <svg> must be <title>: %s", out)
	}
	return elems
}

func named(elems []elem, name string) []elem {
	var out []elem
	for _, e := range elems {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func TestBarChartLabelsEscaped(t *testing.T) {
	bars := []Bar{
		{"Niños <12", 40},
		{"Madres & bebés", 12},
		{`"Quoted" 'name'`, 7},
		{"</text><script>alert(1)</script>", 3},
		{"", 0},
	}
	title := "Personas por grupo <por etapa> & día"
	out := string(BarChart(title, bars))
	elems := parseSVG(t, out)

	if got := elems[1].Text; got != title {
		t.Errorf("<title> = %q, want %q", got, title)
	}
	if got := elems[0].Attr["aria-label"]; got != title {
		t.Errorf("aria-label = %q, want %q", got, title)
	}
	if strings.Contains(out, "<script") || strings.Contains(out, "Niños <12") {
		t.Errorf("raw markup from a label leaked into the output:\n%s", out)
	}
	texts := named(elems, "text")
	if len(texts) != 2*len(bars) {
		t.Fatalf("got %d <text> elements, want %d (label and value per bar)", len(texts), 2*len(bars))
	}
	for i, bar := range bars {
		if got, want := texts[2*i].Text, bar.Label; got != want {
			t.Errorf("row %d label = %q, want %q", i, got, want)
		}
		if got, want := texts[2*i+1].Text, strconv.Itoa(bar.Value); got != want {
			t.Errorf("row %d value = %q, want %q", i, got, want)
		}
	}
	desc := named(elems, "desc")
	if len(desc) != 1 || !strings.Contains(desc[0].Text, "Madres & bebés: 12") {
		t.Errorf("<desc> = %v, want the data as text", desc)
	}
}

func TestBarChartWidthsProportional(t *testing.T) {
	tests := []struct {
		name string
		bars []Bar
		want []float64 // widths as fractions of barMax
	}{
		{"largest is full", []Bar{{"a", 50}, {"b", 100}, {"c", 25}}, []float64{0.5, 1, 0.25}},
		{"single", []Bar{{"a", 3}}, []float64{1}},
		{"zero stays empty", []Bar{{"a", 0}, {"b", 10}}, []float64{0, 1}},
		{"all zero", []Bar{{"a", 0}, {"b", 0}}, []float64{0, 0}},
		{"negative drawn empty", []Bar{{"a", -7}, {"b", 4}}, []float64{0, 1}},
		{"suppressed sized as MinCell", []Bar{{"a", Suppressed}, {"b", 20}}, []float64{0.25, 1}},
		{"suppressed alone", []Bar{{"a", Suppressed}}, []float64{1}},
		{"suppressed never beyond full", []Bar{{"a", Suppressed}, {"b", 2}}, []float64{1, 1}},
		{"thirds round to a tenth", []Bar{{"a", 1}, {"b", 3}}, []float64{1.0 / 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rects := named(parseSVG(t, string(BarChart("t", tt.bars))), "rect")
			if len(rects) != len(tt.want) {
				t.Fatalf("got %d bars, want %d", len(rects), len(tt.want))
			}
			for i, r := range rects {
				got, err := strconv.ParseFloat(r.Attr["width"], 64)
				if err != nil {
					t.Fatalf("bar %d width %q: %v", i, r.Attr["width"], err)
				}
				if want := tt.want[i] * barMax; math.Abs(got-want) > 0.05 {
					t.Errorf("bar %d width = %v, want %v", i, got, want)
				}
			}
		})
	}
}

func TestBarChartSuppressed(t *testing.T) {
	bars := Suppress([]Bar{{"a", 3}, {"b", 0}, {"c", 9}}, MinCell)
	elems := parseSVG(t, string(BarChart("t", bars)))
	texts := named(elems, "text")
	var values []string
	for i := 1; i < len(texts); i += 2 {
		values = append(values, texts[i].Text)
	}
	if got, want := strings.Join(values, ","), "<5,0,9"; got != want {
		t.Errorf("values = %q, want %q", got, want)
	}
	rects := named(elems, "rect")
	if rects[0].Attr["fill"] != suppressedFill || rects[0].Attr["stroke-dasharray"] == "" {
		t.Errorf("suppressed bar attributes %v, want grey dashed", rects[0].Attr)
	}
	if rects[2].Attr["fill"] != barFill {
		t.Errorf("normal bar fill %q, want %q", rects[2].Attr["fill"], barFill)
	}
	out := string(BarChart("t", bars))
	if strings.Contains(out, ">3<") {
		t.Errorf("suppressed value 3 appears in the output:\n%s", out)
	}
}

func TestBarChartEmpty(t *testing.T) {
	for _, bars := range [][]Bar{nil, {}} {
		out := string(BarChart("Sin datos", bars))
		elems := parseSVG(t, out)
		if got := elems[1].Text; got != "Sin datos" {
			t.Errorf("title = %q, want %q", got, "Sin datos")
		}
		if len(named(elems, "text")) != 1 {
			t.Errorf("empty chart should show one placeholder text: %s", out)
		}
	}
}

func TestBarChartSmall(t *testing.T) {
	bars := make([]Bar, 30)
	for i := range bars {
		bars[i] = Bar{fmt.Sprintf("Etapa %d: Tapachula", i), i * 37}
	}
	out := BarChart("Personas por etapa", bars)
	// 30 rows must stay a small fraction of the 50 KB page budget even
	// before gzip.
	if len(out) > 8000 {
		t.Errorf("30-bar chart is %d bytes, want <= 8000", len(out))
	}
	if strings.Contains(string(out), "style=") || strings.Contains(string(out), "id=") {
		t.Errorf("output uses style or id attributes (CSP, duplicate ids): %s", out)
	}
}

func TestSuppress(t *testing.T) {
	in := []Bar{{"a", 0}, {"b", 1}, {"c", 4}, {"d", 5}, {"e", 6}, {"f", -1}, {"g", -3}}
	tests := []struct {
		min  int
		want []int
	}{
		{5, []int{0, -1, -1, 5, 6, -1, -3}},
		{6, []int{0, -1, -1, -1, 6, -1, -3}},
		{2, []int{0, -1, 4, 5, 6, -1, -3}},
		{1, []int{0, 1, 4, 5, 6, -1, -3}},
		{0, []int{0, 1, 4, 5, 6, -1, -3}},
		{-5, []int{0, 1, 4, 5, 6, -1, -3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("min=", tt.min), func(t *testing.T) {
			orig := append([]Bar(nil), in...)
			got := Suppress(in, tt.min)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Value != tt.want[i] || got[i].Label != in[i].Label {
					t.Errorf("bar %d = %+v, want {%s %d}", i, got[i], in[i].Label, tt.want[i])
				}
			}
			for i := range in {
				if in[i] != orig[i] {
					t.Fatalf("Suppress modified its input: %v, was %v", in, orig)
				}
			}
		})
	}
	if got := Suppress(nil, 5); len(got) != 0 {
		t.Errorf("Suppress(nil) = %v, want empty", got)
	}
}

var runRE = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// pathModules rebuilds the dark-module matrix (without the quiet zone)
// from the path's runs, failing on anything it does not understand, on a
// run that strays into the quiet zone, and on overlapping runs.
func pathModules(t *testing.T, d string, n int) [][]bool {
	t.Helper()
	m := make([][]bool, n)
	for i := range m {
		m[i] = make([]bool, n)
	}
	for d != "" {
		g := runRE.FindStringSubmatch(d)
		if g == nil {
			t.Fatalf("unexpected path data at %q", d[:min(len(d), 30)])
		}
		d = d[len(g[0]):]
		x, _ := strconv.Atoi(g[1])
		y, _ := strconv.Atoi(g[2])
		w, _ := strconv.Atoi(g[3])
		back, _ := strconv.Atoi(g[4])
		if w != back || w < 1 {
			t.Fatalf("run %q is not a closed rectangle", g[0])
		}
		x, y = x-quietZone, y-quietZone
		if y < 0 || y >= n || x < 0 || x+w > n {
			t.Fatalf("run %q outside the symbol (quiet zone must stay light)", g[0])
		}
		for i := x; i < x+w; i++ {
			if m[y][i] {
				t.Fatalf("module %d,%d drawn twice", i, y)
			}
			m[y][i] = true
		}
	}
	return m
}

func TestQR(t *testing.T) {
	tests := []struct {
		text    string
		version int
	}{
		{"7KQ2M-X9D0R", 1}, // a formatted card code: alphanumeric, version 1
		{"7KQ2MX9D0R", 1},
		{"https://caravana.example/c/7KQ2MX9D0R", 3},
		{"Niños & <madres>", 2},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			html, err := QR(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			out := string(html)
			elems := parseSVG(t, out)
			n := 17 + 4*tt.version // modules per side for this version
			size := n + 2*quietZone
			if got, want := elems[0].Attr["viewBox"], fmt.Sprintf("0 0 %d %d", size, size); got != want {
				t.Errorf("viewBox = %q, want %q (version %d)", got, want, tt.version)
			}
			if elems[0].Attr["shape-rendering"] != "crispEdges" {
				t.Errorf("missing shape-rendering=crispEdges")
			}
			if !strings.Contains(elems[1].Text, tt.text) {
				t.Errorf("title %q does not contain %q", elems[1].Text, tt.text)
			}
			paths := named(elems, "path")
			if len(paths) != 1 {
				t.Fatalf("got %d paths, want 1", len(paths))
			}

			code, err := qr.Encode(tt.text, qr.M, qr.Auto)
			if err != nil {
				t.Fatal(err)
			}
			if got := code.Bounds().Dx(); got != n {
				t.Fatalf("library made %d modules, want %d: test table is wrong", got, n)
			}
			got := pathModules(t, paths[0].Attr["d"], n)
			for y := range n {
				for x := range n {
					r, _, _, _ := code.At(x, y).RGBA()
					if want := r < 0x8000; got[y][x] != want {
						t.Fatalf("module %d,%d: path has dark=%v, barcode has %v", x, y, got[y][x], want)
					}
				}
			}
			if len(out) > 4000 {
				t.Errorf("QR SVG is %d bytes, want <= 4000", len(out))
			}
		})
	}
}

func TestQRTooLong(t *testing.T) {
	if _, err := QR(strings.Repeat("x", 5000)); err == nil {
		t.Error("QR of 5000 bytes succeeded, want an error (beyond version 40)")
	}
}

func FuzzBarChart(f *testing.F) {
	f.Add("t", "a", "b", 1, 2)
	f.Add("<&>", "</text>", "\x00\xff", -1, 0)
	f.Add("", "", "]]>", math.MaxInt, math.MinInt)
	f.Fuzz(func(t *testing.T, title, l1, l2 string, v1, v2 int) {
		bars := []Bar{{l1, v1}, {l2, v2}}
		elems := parseSVG(t, string(BarChart(title, bars)))
		if got := len(named(elems, "text")); got != 4 {
			t.Fatalf("got %d <text> elements, want 4", got)
		}
		for _, r := range named(elems, "rect") {
			w, err := strconv.ParseFloat(r.Attr["width"], 64)
			if err != nil || w < 0 || w > barMax {
				t.Fatalf("bar width %q outside [0, %d]", r.Attr["width"], barMax)
			}
		}
		parseSVG(t, string(BarChart(title, Suppress(bars, MinCell))))
	})
}
