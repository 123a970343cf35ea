package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
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
	"caravana/internal/tracing"
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
			in.Flags = []string{auth.Flags[rng.IntN(len(auth.Flags))]}
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
	ctx := context.Background()
	op := auth.Operator("test")
	now := time.Now()
	c := demo.Generate(1, n, now)
	if _, err := demo.Load(ctx, e.n.Registry, e.n.Ledger, op, c); err != nil {
		t.Fatal(err)
	}
	tr, err := demo.Travel(ctx, e.n.Journey, e.n.Registry, e.n.Ledger, op, c, demo.TravelOptions{Seed: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestPageSizes: with ~300 people and 100 households, plus the demo
// caravan (1,500 people, or CARAVANA_SIZE_DEMO) travelled to the river,
// every page type, with its stylesheet, goes out in at most 50 KB
// (DESIGN.md section 6).
func TestPageSizes(t *testing.T) {
	e := newEnv(t)
	ids := load(t, e, 300, 100)
	size := 1500
	if v, err := strconv.Atoi(os.Getenv("CARAVANA_SIZE_DEMO")); err == nil && v > 0 {
		size = v
	}
	tr := travelDemo(t, e, size)
	t.Logf("demo caravan of %d travelled: %+v", size, tr)
	hs, _, err := e.n.Registry.ListHouseholds(context.Background(), auth.Operator("test"), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(auth.Coordinator)
	css := c.gzipGet(e.s.cssPath)
	if css.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("stylesheet not compressed")
	}
	t.Logf("%-32s %6d bytes gzip (%6d raw)", "app.css", css.wire, len(css.body))
	const budget = 50 * 1024
	check := func(name string, r *resp) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: status %d", name, r.status)
		}
		if r.header.Get("Content-Encoding") != "gzip" && len(r.body) >= gzipMin {
			t.Errorf("%s: %d bytes not compressed", name, len(r.body))
		}
		total := r.wire + css.wire
		t.Logf("%-32s %6d bytes gzip (%6d raw), with CSS %6d", name, r.wire, len(r.body), total)
		if total > budget {
			t.Errorf("%s: %d bytes with its CSS, over the %d budget", name, total, budget)
		}
	}
	p, h := ids[0], hs[0].ID
	for _, path := range []string{"/", "/people", "/people?page=3", "/people/" + p, "/people/" + p + "/edit",
		"/people/" + p + "/card", "/people/new", "/households", "/households/new", "/households/" + h, "/audit", "/users"} {
		check(path, c.gzipGet(path))
	}
	search := c.do("POST", "/people/search", url.Values{"q": {"maria hernandez lopez"}, "csrf": {c.csrf}},
		map[string]string{"Accept-Encoding": "gzip"})
	check("POST /people/search (50 hits)", search)
	// The journey pages, the check-in page after a scan (glance shown).
	v := e.login(auth.Volunteer)
	if r := v.form("/checkin/ciudad-hidalgo", url.Values{"person": {ids[1]}}); r.status != 303 {
		t.Fatalf("scan: %d", r.status)
	}
	for _, path := range []string{"/route", "/headcounts", "/timeline", "/checkin?choose=1", "/checkin/ciudad-hidalgo", "/missing",
		"/missing?stage=tecun-uman", "/missing?page=2"} {
		check(path, v.gzipGet(path))
	}
	// Tracing: a full page of open reports, a report with ten candidates
	// among many look-alikes, the form, and a full page of duplicates
	// (people registered twice at two desks).
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		e.traced("María José", "Hernández", "López", "F", fmt.Sprintf("2015-%02d-%02d", 1+i, 1+2*i), "Choloma")
	}
	for range dupPerPage + 5 {
		given, s1, s2 := givenNames[rng.IntN(len(givenNames))], surnames[rng.IntN(len(surnames))], surnames[rng.IntN(len(surnames))]
		birth, town := fmt.Sprintf("%d-%02d-%02d", 1950+rng.IntN(60), 1+rng.IntN(12), 1+rng.IntN(28)), towns[rng.IntN(len(towns))]
		e.traced(given, s1, s2, "F", birth, town)
		e.traced(given, s1, s2, "F", birth, town)
	}
	var rep string
	for i := range tracingPerPage + 5 {
		age := 5 + rng.IntN(60)
		in := tracing.ReportInput{GivenNames: givenNames[rng.IntN(len(givenNames))], Surnames: surnames[rng.IntN(len(surnames))],
			Sex: []string{"F", "M"}[rng.IntN(2)], Age: &age, OriginTown: towns[rng.IntN(len(towns))], Relation: "sibling",
			ReporterName: "Reina Esperanza Mejía", ReporterContact: "+504 9999-0000", LastSeenPlace: "Puente Rodolfo Robles",
			Notes: "Llevaba una mochila azul y gorra roja."}
		if i == 0 {
			in.GivenNames, in.Surnames, in.Sex, in.OriginTown = "María José", "Hernández López", "F", "Choloma"
			*in.Age = ageToday(t, "2015-06-01")
		}
		r, _, err := e.n.Tracing.Report(context.Background(), auth.Operator("test"), in)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rep = r.ID
		}
	}
	tr10 := v.gzipGet("/tracing/" + rep)
	if n := strings.Count(tr10.body, `<li class="cand`); n != 10 {
		t.Errorf("the measured report shows %d candidates, want 10", n)
	}
	check("/tracing/{id} (10 candidates)", tr10)
	dups := v.gzipGet("/duplicates")
	if n := strings.Count(dups.body, `<section class="dup">`); n != dupPerPage {
		t.Errorf("the measured duplicates page shows %d pairs, want %d", n, dupPerPage)
	}
	check("/duplicates", dups)
	for _, path := range []string{"/tracing", "/tracing?status=all&page=2", "/tracing/new"} {
		check(path, v.gzipGet(path))
	}
	check("/duplicates (coordinator)", c.gzipGet("/duplicates"))
	miss := v.gzipGet("/missing")
	if !strings.Contains(miss.body, "niña/o sola/o") {
		t.Errorf("the demo's missing list has no child alone first")
	}
	check("/login", e.anon().gzipGet("/login"))
}

// BenchmarkPageSize reports the dashboard's size on the wire.
func BenchmarkPageSize(b *testing.B) {
	e := newEnvLog(b, io.Discard)
	load(b, e, 300, 100)
	c := e.login(auth.Coordinator)
	var r *resp
	for b.Loop() {
		r = c.gzipGet("/")
	}
	b.ReportMetric(float64(r.wire), "gzip-bytes")
	b.ReportMetric(float64(len(r.body)), "raw-bytes")
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
