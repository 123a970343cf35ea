package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/demo"
	"caravana/internal/ledger"
	"caravana/internal/registry"
)

var (
	givenNames = []string{"María José", "José Luis", "Ana Gabriela", "Carlos Alberto", "Juan Pablo", "Dulce María",
		"Kevin Josué", "Yessenia Lisbeth", "Wilmer Antonio", "Karla Patricia", "Ángel Gabriel", "Sofía Isabel",
		"Marvin Eduardo", "Glenda Xiomara", "Óscar Danilo", "Nohemí", "Elmer", "Reina Esperanza"}
	surnames = []string{"Hernández", "López", "Martínez", "Rodríguez", "García", "Flores", "Castillo", "Mejía", "Reyes",
		"Cruz", "Aguilar", "Zelaya", "Ramírez", "Ortiz", "Sánchez", "Maldonado", "Villanueva", "Gutiérrez"}
	towns = []string{"San Pedro Sula", "Choloma", "Tegucigalpa", "La Ceiba", "Olancho", "Quetzaltenango", "San Miguel"}
)

// load registers people and households in a few commits (the way the demo
// loads), with realistic Spanish names, so page sizes are honest.
func load(t testing.TB, e *env, people, households int) []string {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var ids []string
	var drafts []ledger.Draft
	for i := range people {
		in := registry.PersonInput{GivenNames: pick(givenNames), Surname1: pick(surnames), Surname2: pick(surnames),
			Sex: []string{"F", "M"}[rng.IntN(2)], BirthDate: fmt.Sprintf("%d-%02d-%02d", 1950+rng.IntN(73), 1+rng.IntN(12), 1+rng.IntN(28)),
			Nationality: []string{"HN", "HN", "HN", "GT", "SV", "NI"}[rng.IntN(6)], OriginTown: pick(towns),
			Phone: fmt.Sprintf("+504 9%03d-%04d", rng.IntN(1000), rng.IntN(10000)), Notes: "Viaja con documentos.",
			Consent: registry.Consent{Registration: true, Tracing: i%2 == 0}}
		if rng.IntN(5) == 0 {
			// A flag that fits: no pregnancy for a man, no unaccompanied
			// or separated child among adults (birth years up to 2022).
			switch f := auth.Flags[rng.IntN(len(auth.Flags))]; {
			case f == auth.FlagPregnant && in.Sex == "M":
			case f == auth.FlagUnaccompanied || f == auth.FlagSeparated:
				in.BirthDate = fmt.Sprintf("%d-%s", time.Now().Year()-10, in.BirthDate[5:])
				in.Flags = []string{f}
			default:
				in.Flags = []string{f}
			}
		}
		r, err := e.n.Registry.PrepareRegister(op, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		drafts = append(drafts, r.Draft)
	}
	if _, err := e.n.Ledger.Append(ctx, op.Actor(), drafts); err != nil {
		t.Fatal(err)
	}
	drafts = drafts[:0]
	for h := range households {
		var members []registry.Member
		for j := range 3 {
			members = append(members, registry.Member{Person: ids[(h*3+j)%len(ids)], Role: []string{"head", "spouse", "child"}[j]})
		}
		_, d, err := e.n.Registry.PrepareHousehold(ctx, op, registry.HouseholdInput{Label: "Familia " + pick(surnames),
			Kind: "family", Members: members}, func(string) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		drafts = append(drafts, d)
	}
	if _, err := e.n.Ledger.Append(ctx, op.Actor(), drafts); err != nil {
		t.Fatal(err)
	}
	return ids
}

// gzipGet fetches a page as a phone would and returns the bytes on the wire.
func (c *client) gzipGet(path string) *resp {
	c.t.Helper()
	return c.do("GET", path, nil, map[string]string{"Accept-Encoding": "gzip"})
}

// travelDemo adds the demo caravan of n people after its first week on
// the road: four checkpoints, hundreds missing at the river, incidents and
// hazards, so the journey pages are measured at a realistic size.
func travelDemo(t testing.TB, e *env, n int) demo.Travelled {
	t.Helper()
	_, tr := travelDemoLoaded(t, e, n)
	return tr
}

// travelDemoLoaded is travelDemo that also returns the loaded caravan.
func travelDemoLoaded(t testing.TB, e *env, n int) (demo.Loaded, demo.Travelled) {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	now := time.Now()
	c := demo.Generate(1, n, now)
	loaded, err := demo.Load(ctx, e.n.Registry, e.n.Ledger, op, c)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := demo.Travel(ctx, e.n.Journey, e.n.Registry, e.n.Ledger, op, c, demo.TravelOptions{Seed: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return loaded, tr
}

// demoSize is the caravan TestPageSizes measures: 1,500 people, or
// CARAVANA_SIZE_DEMO.
func demoSize(def int) int {
	if v, err := strconv.Atoi(os.Getenv("CARAVANA_SIZE_DEMO")); err == nil && v > 0 {
		return v
	}
	return def
}

// pageBudget is what a page and its stylesheet may weigh on the wire
// (DESIGN.md section 6).
const pageBudget = 50 * 1024

// pageSize is one page as measured.
type pageSize struct {
	name      string
	wire, raw int // the page's bytes on the wire (gzip) and unpacked
	total     int // wire plus the stylesheet's
}

// measure fetches every case once and checks each is a full page that
// went out compressed; it returns the sizes and the stylesheet's.
func (se *sizeEnv) measure(t testing.TB, cases []sizeCase) ([]pageSize, int) {
	t.Helper()
	css := se.coord.gzipGet(se.s.cssPath)
	if css.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("stylesheet not compressed")
	}
	var out []pageSize
	for _, sc := range cases {
		r := sc.fetch()
		if r.status != 200 {
			t.Fatalf("%s: status %d\n%.1000s", sc.name, r.status, r.body)
		}
		if r.header.Get("Content-Encoding") != "gzip" && len(r.body) >= gzipMin {
			t.Errorf("%s: %d bytes not compressed", sc.name, len(r.body))
		}
		if n := strings.Count(r.body, sc.want); n < max(sc.n, 1) {
			t.Errorf("%s: %q %d times, want at least %d: the page is not full", sc.name, sc.want, n, max(sc.n, 1))
		}
		out = append(out, pageSize{name: sc.name, wire: r.wire, raw: len(r.body), total: r.wire + css.wire})
	}
	return out, css.wire
}

// allCases checks that every GET page the server registers is measured
// (a new page cannot be forgotten) and returns the cases in route order.
func (se *sizeEnv) allCases(t testing.TB) []sizeCase {
	t.Helper()
	pages, extra := se.measurePages()
	var out []sizeCase
	for _, pattern := range se.s.patterns {
		if !isPage(pattern) {
			continue
		}
		cs, ok := pages[pattern]
		if !ok {
			t.Errorf("the page %s is not measured: add it to measurePages", pattern)
		}
		out = append(out, cs...)
		delete(pages, pattern)
	}
	for pattern := range pages {
		t.Errorf("measurePages lists %s, which the server does not register", pattern)
	}
	return append(out, extra...)
}

// TestPageSizes: every page the server registers, filled with realistic
// data (the demo caravan of 1,500 people, or CARAVANA_SIZE_DEMO, travelled
// to the river, 1,500 items given twice, a catalogue of twenty items,
// pages of incidents, dozens of users and nodes), goes out with its
// stylesheet in at most 50 KB (DESIGN.md section 6).
func TestPageSizes(t *testing.T) {
	se := newSizeEnv(t, demoSize(1500))
	sizes, css := se.measure(t, se.allCases(t))
	t.Logf("%-40s %6d bytes gzip", "app.css", css)
	for _, p := range sizes {
		t.Logf("%-40s %6d bytes gzip (%7d raw), with CSS %6d", p.name, p.wire, p.raw, p.total)
		if p.total > pageBudget {
			t.Errorf("%s: %d bytes with its CSS, over the %d budget", p.name, p.total, pageBudget)
		}
	}
	if v := se.vol.page("/missing"); !strings.Contains(v.body, "niña/o sola/o") {
		t.Errorf("the demo's missing list has no child alone first")
	}
}

// BenchmarkPageSize measures every page, as TestPageSizes does, on the
// demo caravan of 7,200 people (or CARAVANA_SIZE_DEMO): one sub-benchmark
// per page reports its bytes on the wire with and without the stylesheet
// and unpacked, and a last one, named for the largest page
// ("largest=missing_(volunteer)"), reports that page's figures.
func BenchmarkPageSize(b *testing.B) {
	se := newSizeEnv(b, demoSize(7200))
	var largest pageSize
	name := strings.NewReplacer("/", ".", " ", "_")
	for _, sc := range se.allCases(b) {
		b.Run(strings.Trim(name.Replace(sc.name), "."), func(b *testing.B) {
			var p pageSize
			for b.Loop() {
				sizes, _ := se.measure(b, []sizeCase{sc})
				p = sizes[0]
			}
			b.ReportMetric(float64(p.total), "B-with-css")
			b.ReportMetric(float64(p.wire), "B-gzip")
			b.ReportMetric(float64(p.raw), "B-raw")
			if p.total > largest.total {
				largest = p
			}
		})
	}
	// The largest page, named in its sub-benchmark's name.
	b.Run("largest="+strings.Trim(name.Replace(largest.name), "."), func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(largest.total), "B-with-css")
		b.ReportMetric(float64(largest.wire), "B-gzip")
		b.ReportMetric(float64(largest.raw), "B-raw")
		b.ReportMetric(float64(pageBudget), "B-budget")
	})
}

// BenchmarkRegisterAPI registers people through POST /api/v1/people over
// loopback from many goroutines with one logged-in session.
func BenchmarkRegisterAPI(b *testing.B) {
	e := newEnvLog(b, io.Discard)
	c := e.login(auth.Volunteer)
	body, _ := json.Marshal(registry.PersonInput{GivenNames: "María José", Surname1: "Hernández", Surname2: "López",
		Sex: "F", BirthDate: "1990-05-01", Nationality: "HN", OriginTown: "Choloma", Phone: "+504 9999-1234",
		Consent: registry.Consent{Registration: true}})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}}
	cookie := &http.Cookie{Name: sessionCookie, Value: c.cookies[sessionCookie]}
	var failed atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/people", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", c.csrf)
			req.AddCookie(cookie)
			res, err := hc.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				failed.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d registrations failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "registrations/s")
}
