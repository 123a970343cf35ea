package web

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/demo"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/replication"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

// sizeEnv is a node with realistic large data behind every page that
// lists things, for the page-size test and benchmark: a registry with the
// demo caravan travelled to the river, a full page of duplicates and of
// open reports, a report with ten candidates, donations and distributions
// of a catalogue of twenty items at many stages, 1,500 items given twice
// (the conflicts a long offline stretch leaves), incidents and hazards for
// several pages of timeline, dozens of users, and a dozen nodes of which
// some fail to sync and some have events held for review.
type sizeEnv struct {
	*env
	person, household, report string
	code                      string // the person's card code
	coord, vol                *client
}

// sizeConflicts is how many items given twice the fixture makes.
const sizeConflicts = 1500

func newSizeEnv(t testing.TB, demoSize int) *sizeEnv {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	se := &sizeEnv{env: newEnvLog(t, io.Discard)}
	ids := load(t, se.env, 300, 100)
	caravan, tr := travelDemoLoaded(t, se.env, demoSize)
	t.Logf("demo caravan of %d travelled: %+v", demoSize, tr)
	se.person = ids[0]
	p, err := se.n.Registry.Get(ctx, op, ids[0], "test")
	if err != nil {
		t.Fatal(err)
	}
	se.code = p.Code
	hs, _, err := se.n.Registry.ListHouseholds(ctx, op, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	se.household = hs[0].ID
	if _, err := demo.Supplies(ctx, se.n.Supply, se.n.Registry, se.n.Ledger, op, caravan.IDs, time.Time{}); err != nil {
		t.Fatal(err)
	}
	se.supplies(t, append(caravan.IDs, ids...))
	se.fieldConflicts(t, ids[1:31])
	se.report = se.tracing(t)
	se.timeline(t)
	se.nodes(t)
	for i := range 40 {
		if _, err := se.n.Auth.AddUser(ctx, op, fmt.Sprintf("voluntaria%02d", i), roles[1+i%3], testPassword); err != nil {
			t.Fatal(err)
		}
	}
	se.coord, se.vol = se.login(auth.Coordinator), se.login(auth.Volunteer)
	// A scan at the checkpoint, so its page shows the glance and the
	// recent scans.
	for _, id := range ids[1:6] {
		if r := se.vol.form("/checkin/ciudad-hidalgo", url.Values{"person": {id}}); r.status != 303 {
			t.Fatalf("scan: %d", r.status)
		}
	}
	return se
}

// supplies adds fifteen items to the default catalogue, donations of
// every item at six stages, and gives one blanket twice to each of
// sizeConflicts households (or people), at two stages, as two desks that
// could not see each other would.
func (se *sizeEnv) supplies(t testing.TB, people []string) {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	extra := []struct{ id, es, en, unit string }{
		{"panales", "Pañales", "Nappies", "paquete"}, {"toallas", "Toallas sanitarias", "Sanitary pads", "paquete"},
		{"zapatos", "Zapatos", "Shoes", "par"}, {"calcetines", "Calcetines", "Socks", "par"},
		{"suero", "Suero oral", "Oral rehydration salts", "sobre"}, {"protector", "Protector solar", "Sunscreen", "frasco"},
		{"repelente", "Repelente", "Insect repellent", "frasco"}, {"gorra", "Gorra", "Cap", "pieza"},
		{"impermeable", "Impermeable", "Raincoat", "pieza"}, {"mochila", "Mochila", "Backpack", "pieza"},
		{"leche", "Leche de fórmula", "Infant formula", "lata"}, {"linterna", "Linterna", "Torch", "pieza"},
		{"jabon", "Jabón", "Soap", "barra"}, {"cepillo", "Cepillo de dientes", "Toothbrush", "pieza"},
		{"mascarilla", "Mascarilla", "Face mask", "caja"},
	}
	for _, x := range extra {
		if _, err := se.n.Supply.DefineItem(ctx, op, supply.Item{ID: x.id, NameES: x.es, NameEN: x.en, Unit: x.unit,
			Per: supply.PerHousehold, Qty: 1, Period: supply.PerStage}); err != nil {
			t.Fatal(err)
		}
	}
	items, err := se.n.Supply.Items(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		for _, st := range []string{"san-pedro-sula", "agua-caliente", "chiquimula", "guatemala-city", "tecun-uman", "ciudad-hidalgo"} {
			if _, err := se.n.Supply.Receive(ctx, op, supply.ReceiptInput{Item: it.ID, Qty: 500, Stage: st, Donor: "Cruz Roja"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	of, err := se.n.Registry.HouseholdsOf(ctx, op, people)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var rs []supply.Recipient
	for _, id := range people {
		r := supply.Recipient{Person: id, Size: 1}
		if hs := of[id]; len(hs) > 0 {
			if seen[hs[0]] {
				continue
			}
			seen[hs[0]] = true
			r.Household, r.Size = hs[0], 3
		}
		if rs = append(rs, r); len(rs) == sizeConflicts {
			break
		}
	}
	// A small caravan has fewer households: its other members each count
	// as a unit of their own, which the page shows alike.
	for _, id := range people {
		if len(rs) >= sizeConflicts {
			break
		}
		if len(of[id]) > 0 && !slices.ContainsFunc(rs, func(r supply.Recipient) bool { return r.Person == id }) {
			rs = append(rs, supply.Recipient{Person: id, Size: 1})
		}
	}
	at := time.Now().Add(-time.Hour)
	var drafts []ledger.Draft
	for _, stage := range []string{"tecun-uman", "ciudad-hidalgo"} {
		ds, err := se.n.Supply.PrepareDistributions(ctx, op, "blanket", stage, at, rs)
		if err != nil {
			t.Fatal(err)
		}
		drafts = append(drafts, ds...)
	}
	if _, err := se.n.Ledger.Append(ctx, op.Actor(), drafts); err != nil {
		t.Fatal(err)
	}
	if cs, err := se.n.Supply.Conflicts(ctx, op); err != nil || len(cs) != len(rs) {
		t.Fatalf("%d distribution conflicts (%v), want %d", len(cs), err, len(rs))
	}
	t.Logf("%d items given twice", len(rs))
}

// fieldConflicts changes a field of each person twice, each change made
// without seeing the other (as sync delivers two nodes' edits).
func (se *sizeEnv) fieldConflicts(t testing.TB, people []string) {
	t.Helper()
	for _, id := range people {
		for _, v := range []string{"María José", "María Josefa"} {
			d := ledger.Draft{Kind: "person.updated", Subject: "person/" + id, Body: map[string]any{
				"fields": map[string]string{"given_names": se.n.Sealer.Seal("person/"+id, "given_names", v)},
				"base":   map[string]any{"given_names": map[string]any{"t": 0, "n": ""}},
			}}
			if _, err := se.n.Ledger.Append(context.Background(), "test", []ledger.Draft{d}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// tracing adds look-alikes, a full page of duplicates and more open
// reports than a page holds; it returns a report with ten candidates.
func (se *sizeEnv) tracing(t testing.TB) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		se.traced("María José", "Hernández", "López", "F", fmt.Sprintf("2015-%02d-%02d", 1+i, 1+2*i), "Choloma")
	}
	for range dupPerPage + 5 {
		given, s1, s2 := givenNames[rng.IntN(len(givenNames))], surnames[rng.IntN(len(surnames))], surnames[rng.IntN(len(surnames))]
		birth, town := fmt.Sprintf("%d-%02d-%02d", 1950+rng.IntN(60), 1+rng.IntN(12), 1+rng.IntN(28)), towns[rng.IntN(len(towns))]
		se.traced(given, s1, s2, "F", birth, town)
		se.traced(given, s1, s2, "F", birth, town)
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
		r, _, err := se.n.Tracing.Report(context.Background(), auth.Operator("test"), in)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rep = r.ID
		}
	}
	return rep
}

// timeline records incidents and hazards for several pages.
func (se *sizeEnv) timeline(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	op := auth.Operator("test")
	stages := journey.DefaultRoute().Stages
	for i := range 120 {
		in := journey.IncidentInput{Kind: journey.IncidentKinds[i%len(journey.IncidentKinds)],
			Severity: journey.Severities[i%len(journey.Severities)], At: time.Now().Add(-time.Duration(i) * time.Hour),
			Place: journey.Place{Stage: stages[i%9].ID}, Count: 1 + i%40}
		if _, err := se.n.Journey.RecordIncident(ctx, op, in); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		in := journey.HazardInput{Kind: journey.HazardKinds[i%len(journey.HazardKinds)], Place: journey.Place{Stage: stages[8+i%5].ID},
			Until: time.Now().Add(time.Duration(1+i) * time.Hour)}
		if _, err := se.n.Journey.RecordHazard(ctx, op, in); err != nil {
			t.Fatal(err)
		}
	}
}

// nodes enrols a dozen nodes, syncs (on paper) with each, some failing,
// and holds the events of four whose clocks run ahead.
func (se *sizeEnv) nodes(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for i := range 12 {
		id := spareNode(t, se.env, fmt.Sprintf("mesa %d", i+1))
		err := replication.UpdatePeer(ctx, se.n.Store, id, func(p *replication.Peer) {
			p.URL = fmt.Sprintf("https://192.168.4.%d:8443", 10+i)
			p.Vector = map[string]uint64{id: uint64(100 * i)}
			p.LastHeard, p.LastSync = time.Now().Add(-time.Duration(i)*time.Minute), time.Now().Add(-time.Duration(i)*time.Minute)
			if i%3 == 0 {
				p.LastError, p.LastErrorAt = "dial tcp 192.168.4.10:8443: connect: no route to host", time.Now()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		holdFuture(t, se.env)
	}
}

// sizeCase is one request measured.
type sizeCase struct {
	name string
	c    *client
	path string
	form url.Values // a POST when set
	// want is text the page shows when its data is there, at least n
	// times (at least once for 0), so a page cannot pass by being empty.
	want string
	n    int
}

// measurePages is every GET page pattern the server registers and the
// requests that measure it (list pages at their fullest); extra are the
// POST answers that render a page.
func (se *sizeEnv) measurePages() (map[string][]sizeCase, []sizeCase) {
	c, v, p, h := se.coord, se.vol, se.person, se.household
	one := func(cl *client, path, want string, n int) sizeCase {
		name := path
		switch {
		case path == "/":
			name = "/ (dashboard)"
		case cl == v:
			name += " (volunteer)"
		}
		return sizeCase{name: name, c: cl, path: path, want: want, n: n}
	}
	pages := map[string][]sizeCase{
		"GET /login":            {one(se.anon(), "/login", `name="password"`, 1)},
		"GET /{$}":              {one(c, "/", "<svg", 0)},
		"GET /people":           {one(c, "/people", "<tr>", perPage+1), one(c, "/people?page=3", "<tr>", perPage+1)},
		"GET /people/new":       {one(c, "/people/new", `name="given_names"`, 1)},
		"GET /people/{id}":      {one(c, "/people/"+p, `class="code big"`, 1)},
		"GET /people/{id}/edit": {one(c, "/people/"+p+"/edit", `name="given_names"`, 1)},
		"GET /people/{id}/card": {one(c, "/people/"+p+"/card", "idcard-qr", 0)},
		"GET /households":       {one(c, "/households", "<tr>", 0)},
		"GET /households/new":   {one(c, "/households/new", `name="label"`, 1)},
		"GET /households/{id}":  {one(c, "/households/"+h, "<li", 0)},
		"GET /audit":            {one(c, "/audit", "<tr>", auditPage+1)},
		"GET /users":            {one(c, "/users", "<tr>", 45)},
		"GET /route":            {one(c, "/route", "<svg", 0)},
		"GET /headcounts":       {one(c, "/headcounts", "<tr", 0)},
		"GET /checkin":          {one(v, "/checkin?choose=1", "<li", 0)},
		"GET /checkin/{stage}":  {one(v, "/checkin/ciudad-hidalgo", "scan-result", 0)},
		"GET /missing": {one(v, "/missing", "missing-hh", missingPerPage), one(v, "/missing?stage=tecun-uman", "missing-hh", 0),
			one(v, "/missing?page=2", "missing-hh", 0)},
		"GET /timeline":     {one(c, "/timeline", "<li class=", timelinePerPage), one(c, "/timeline?page=3", "<li class=", 0)},
		"GET /tracing":      {one(v, "/tracing", "<li", 0), one(v, "/tracing?status=all&page=2", "<li", 0)},
		"GET /tracing/new":  {one(v, "/tracing/new", `name="given_names"`, 1)},
		"GET /tracing/{id}": {one(v, "/tracing/"+se.report, `<li class="cand`, 10)},
		"GET /duplicates":   {one(v, "/duplicates", `<section class="dup">`, dupPerPage), one(c, "/duplicates", `<section class="dup">`, dupPerPage)},
		"GET /conflicts":    {one(c, "/conflicts", `<section class="dup">`, conflictsPerPage), one(c, "/conflicts?kind=distribution&page=7", `<section class="dup">`, conflictsPerPage)},
		"GET /supply":       {one(c, "/supply", "<tr>", 0), one(v, "/supply", "<tr>", 0)},
		"GET /sync":         {one(c, "/sync", "caravana sync release", 4)},
	}
	extra := []sizeCase{
		{name: "POST /people/search (50 hits)", c: c, path: "/people/search", form: url.Values{"q": {"maria hernandez lopez"}}, want: "<tr>", n: 51},
		{name: "POST /supply/check (household)", c: v, path: "/supply/check", form: url.Values{"item": {"water"}, "stage": {"tecun-uman"},
			"person": {p}}, want: "hh-members", n: 1},
	}
	return pages, extra
}

// isPage reports whether a registered pattern is an HTML page a person
// opens (not the API, the stylesheet, health or metrics).
func isPage(pattern string) bool {
	method, path, _ := strings.Cut(pattern, " ")
	return method == "GET" && !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/static/") &&
		path != "/healthz" && path != "/metrics"
}

// fetch requests a case as a phone would, gzip accepted.
func (sc sizeCase) fetch() *resp {
	hdr := map[string]string{"Accept-Encoding": "gzip"}
	if sc.form == nil {
		return sc.c.do("GET", sc.path, nil, hdr)
	}
	f := cloneValues(sc.form)
	f.Set("csrf", sc.c.csrf)
	return sc.c.do("POST", sc.path, f, hdr)
}

// spareNode enrols a node of the organisation named name.
func spareNode(t testing.TB, e *env, name string) string {
	t.Helper()
	k, err := crypto.NewKeys(testKDF)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.n.Ledger.Enrol(context.Background(), "test", ledger.NodeInfo{ID: k.NodeID, Name: name,
		SigningKey: k.Signing.Public().(ed25519.PublicKey), AgeRecipient: k.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	return k.NodeID
}
