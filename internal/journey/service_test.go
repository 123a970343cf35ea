package journey_test

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/journey"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
)

const (
	stageA = "san-pedro-sula"
	stageB = "agua-caliente"
)

// cast is a small caravan with every case the missing list orders.
type cast struct {
	n                   *node.Node
	ana, luis, sofia    registry.Person // family: mother and two children
	kevin               registry.Person // unaccompanied child
	pedro               registry.Person // single man
	rosa, jose          registry.Person // elderly couple
	marta               registry.Person // in no household
	family, uac, single string
	couple              string
	everyone            []registry.Person
}

func newCast(t *testing.T) *cast {
	t.Helper()
	n := newNode(t)
	c := &cast{n: n}
	c.ana = register(t, n, "Ana", "López", "F", "1990-03-02", "pregnant")
	c.luis = register(t, n, "Luis", "López", "M", "2016-05-01")
	c.sofia = register(t, n, "Sofía", "López", "F", "2011-01-09")
	// 16 whenever the test runs (older than Sofía, under 18).
	c.kevin = register(t, n, "Kevin", "Reyes", "M", time.Now().AddDate(-16, -4, 0).Format(time.DateOnly), "unaccompanied_child")
	c.pedro = register(t, n, "Pedro", "Mejía", "M", "1985-11-30")
	c.rosa = register(t, n, "Rosa", "Castro", "F", "1950-02-02", "elderly", "medical")
	c.jose = register(t, n, "José", "Castro", "M", "1952-04-04", "elderly")
	c.marta = register(t, n, "Marta", "Díaz", "F", "1995-09-09")
	c.family = household(t, n, "Familia López", "family", registry.Member{Person: c.ana.ID, Role: "head"},
		registry.Member{Person: c.luis.ID, Role: "child"}, registry.Member{Person: c.sofia.ID, Role: "child"})
	c.uac = household(t, n, "Menores Reyes", "unaccompanied", registry.Member{Person: c.kevin.ID, Role: "head"})
	c.single = household(t, n, "Mejía", "single", registry.Member{Person: c.pedro.ID, Role: "head"})
	c.couple = household(t, n, "Familia Castro", "family", registry.Member{Person: c.rosa.ID, Role: "head"},
		registry.Member{Person: c.jose.ID, Role: "spouse"})
	c.everyone = []registry.Person{c.ana, c.luis, c.sofia, c.kevin, c.pedro, c.rosa, c.jose, c.marta}
	return c
}

func (c *cast) checkin(t *testing.T, p auth.Principal, stage string, ps ...registry.Person) []journey.CheckinResult {
	t.Helper()
	var ins []journey.CheckinInput
	for _, x := range ps {
		ins = append(ins, journey.CheckinInput{PersonRef: journey.PersonRef{Code: cardcode.Format(x.Code)}})
	}
	res, err := c.n.Journey.CheckInBatch(ctx, p, stage, ins)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// walk: everyone at A; at B only Ana, Sofía and Rosa.
func (c *cast) walk(t *testing.T) {
	t.Helper()
	c.checkin(t, vol, stageA, c.everyone...)
	c.checkin(t, vol, stageB, c.ana, c.sofia, c.rosa)
}

func missingIDs(l journey.MissingList) []string {
	var out []string
	for _, h := range l.Households {
		for _, m := range h.Members {
			if m.Missing {
				out = append(out, m.Person)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestMissingList(t *testing.T) {
	c := newCast(t)
	c.walk(t)
	l, err := c.n.Journey.Missing(ctx, vol, journey.MissingQuery{Names: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Stage.ID != stageB || l.Previous == nil || l.Previous.ID != stageA {
		t.Fatalf("checkpoints %s after %v, want %s after %s", l.Stage.ID, l.Previous, stageB, stageA)
	}
	if got, want := missingIDs(l), ids(c.luis, c.kevin, c.pedro, c.jose, c.marta); !slices.Equal(got, want) {
		t.Fatalf("missing %v, want %v", got, want)
	}
	if l.MissingPeople != 5 || l.MissingChildren != 2 || l.SeenPrevious != 8 || l.SeenHere != 3 || len(l.Households) != 5 {
		t.Errorf("list = %+v", l)
	}
	// Unaccompanied child first, then the family missing a child, then adults.
	if h := l.Households[0]; h.ID != c.uac || h.Priority != "child_alone" || h.Label != "Menores Reyes" {
		t.Errorf("first household %+v, want the unaccompanied child", h)
	}
	h := l.Households[1]
	if h.ID != c.family || h.Priority != "missing_child" || h.Missing != 1 || len(h.Members) != 3 {
		t.Fatalf("second household %+v, want the López family missing Luis", h)
	}
	if m := h.Members[0]; m.Person != c.luis.ID || !m.Missing || !m.Child || m.Name != "Luis López" || m.Code != c.luis.Code {
		t.Errorf("the missing child comes first in his household: %+v", m)
	}
	for _, m := range h.Members {
		if m.Person == c.ana.ID && (len(m.Flags) != 0 || !m.SeenHere) {
			t.Errorf("volunteer sees Ana as %+v: a volunteer may not see 'pregnant'", m)
		}
	}
	var rest []string
	for _, h := range l.Households[2:] {
		if h.Priority != "adults" {
			t.Errorf("household %s priority %s, want adults", h.ID, h.Priority)
		}
		rest = append(rest, h.ID)
	}
	if !slices.Contains(rest, c.couple) || !slices.Contains(rest, c.single) || !slices.Contains(rest, "") {
		t.Errorf("adult households %v, want the couple, the single man and Marta (no household)", rest)
	}
	// Without names: ids and facts only, nothing revealed.
	plain, err := c.n.Journey.Missing(ctx, coord, journey.MissingQuery{Stage: stageB})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range plain.Households {
		for _, m := range h.Members {
			if m.Name != "" || m.Code != "" || h.Label != "" {
				t.Fatalf("names shown without Names: %+v", h)
			}
			if m.Person == c.ana.ID && !slices.Contains(m.Flags, "pregnant") {
				t.Errorf("a coordinator sees Ana's flags %v", m.Flags)
			}
		}
	}
	// At the first checkpoint nobody can be missing.
	first, err := c.n.Journey.Missing(ctx, vol, journey.MissingQuery{Stage: stageA})
	if err != nil || first.Previous != nil || len(first.Households) != 0 {
		t.Errorf("missing at the first checkpoint = %+v, %v", first, err)
	}
	// Only staff who act on it see it.
	for _, p := range []auth.Principal{legal, medic, nobody} {
		if _, err := c.n.Journey.Missing(ctx, p, journey.MissingQuery{}); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s: Missing = %v, want ErrForbidden", p.Role, err)
		}
	}
}

func TestMarksTakePeopleOffTheList(t *testing.T) {
	c := newCast(t)
	c.walk(t)
	j := c.n.Journey
	// Left (deported): off the list, counted as left.
	st, err := j.MarkLeft(ctx, vol, journey.PersonRef{Code: c.pedro.Code}, journey.LeftDeported, stageB, time.Time{})
	if err != nil || !st.Left || st.Reason != journey.LeftDeported {
		t.Fatalf("MarkLeft = %+v, %v", st, err)
	}
	again, err := j.MarkLeft(ctx, vol, journey.PersonRef{Person: c.pedro.ID}, journey.LeftDeported, stageB, time.Time{})
	if err != nil || !again.Unchanged {
		t.Errorf("marking again = %+v, %v; want unchanged", again, err)
	}
	// Found at the checkpoint: off the list, counted as seen there.
	f, err := j.MarkFound(ctx, vol, journey.PersonRef{Code: c.jose.Code}, "")
	if err != nil || f.Stage != stageB || f.Via != "found" || f.Repeat {
		t.Fatalf("MarkFound = %+v, %v", f, err)
	}
	if f2, err := j.MarkFound(ctx, vol, journey.PersonRef{Code: c.jose.Code}, stageB); err != nil || !f2.Repeat {
		t.Errorf("found twice = %+v, %v; want a repeat", f2, err)
	}
	l, err := j.Missing(ctx, vol, journey.MissingQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := missingIDs(l), ids(c.luis, c.kevin, c.marta); !slices.Equal(got, want) {
		t.Errorf("after marks, missing %v, want %v", got, want)
	}
	if l.LeftSince != 1 || l.SeenHere != 4 {
		t.Errorf("left since %d, seen here %d; want 1 and 4", l.LeftSince, l.SeenHere)
	}
	// Checking in someone who had left brings them back.
	res := c.checkin(t, vol, "tecun-uman", c.pedro)
	if !res[0].Rejoined {
		t.Errorf("check-in after leaving: %+v, want rejoined", res[0].Checkin)
	}
	tr, err := j.Trail(ctx, vol, c.pedro.ID)
	if err != nil || tr.Status.Left || len(tr.Seen) != 2 || tr.Seen[1].Stage != "tecun-uman" {
		t.Errorf("trail = %+v, %v", tr, err)
	}
	// Bad marks change nothing.
	before := countEvents(t, c.n)
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"bad reason", func() error {
			_, err := j.MarkLeft(ctx, vol, journey.PersonRef{Code: c.luis.Code}, "bored", "", time.Time{})
			return err
		}},
		{"typo", func() error {
			_, err := j.MarkFound(ctx, vol, journey.PersonRef{Code: typo(c.luis.Code)}, stageB)
			return err
		}},
		{"unknown stage", func() error {
			_, err := j.MarkFound(ctx, vol, journey.PersonRef{Code: c.luis.Code}, "atlantis")
			return err
		}},
		{"future", func() error {
			_, err := j.MarkLeft(ctx, vol, journey.PersonRef{Code: c.luis.Code}, journey.LeftDied, "", time.Now().Add(time.Hour))
			return err
		}},
	} {
		var v registry.ValidationError
		if err := tc.run(); !errors.As(err, &v) {
			t.Errorf("%s: error %v, want a validation error", tc.name, err)
		}
	}
	if _, err := j.MarkFound(ctx, legal, journey.PersonRef{Code: c.luis.Code}, stageB); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("legal marks found: %v", err)
	}
	if after := countEvents(t, c.n); after != before {
		t.Errorf("bad marks wrote %d events", after-before)
	}
}

func TestCheckin(t *testing.T) {
	c := newCast(t)
	j := c.n.Journey
	startEvents := countEvents(t, c.n)
	// A scan shows the person and their household, audited with the event.
	res, err := j.CheckIn(ctx, vol, stageA, journey.CheckinInput{PersonRef: journey.PersonRef{Code: strings.ToLower(cardcode.Format(c.sofia.Code))}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Person != c.sofia.ID || res.Repeat || res.Glance == nil || res.Glance.Person.Name != "Sofía López" {
		t.Fatalf("check-in = %+v", res)
	}
	if hs := res.Glance.Households; len(hs) != 1 || hs[0].Label != "Familia López" || len(hs[0].Members) != 3 {
		t.Fatalf("glance households = %+v", hs)
	}
	if !slices.Equal(res.SeenHere, []string{c.sofia.ID}) {
		t.Errorf("seen here = %v, want only Sofía", res.SeenHere)
	}
	if got := countEvents(t, c.n) - startEvents; got != 1 {
		t.Errorf("one check-in wrote %d events", got)
	}
	for _, p := range []registry.Person{c.ana, c.luis, c.sofia} {
		rows := audit(t, c.n, store.AuditFilter{Record: "person/" + p.ID})
		found := false
		for _, r := range rows {
			found = found || (r.Action == "person.read" && r.Actor == vol.Actor() && r.Detail == "checkin "+stageA)
		}
		if !found {
			t.Errorf("the check-in glance at %s was not audited", p.GivenNames)
		}
	}
	// The same person scanned again is one check-in.
	again, err := j.CheckIn(ctx, vol, stageA, journey.CheckinInput{PersonRef: journey.PersonRef{Person: c.sofia.ID}})
	if err != nil || !again.Repeat || !again.At.Equal(res.At) {
		t.Fatalf("second scan = %+v, %v; want a repeat with the first time", again, err)
	}
	if got := countEvents(t, c.n) - startEvents; got != 1 {
		t.Errorf("a repeat scan wrote an event (%d in all)", got)
	}
	// Twice in one batch is also one check-in; Ana now sees Sofía here.
	batch := c.checkin(t, vol, stageA, c.ana, c.ana)
	if batch[0].Repeat || !batch[1].Repeat || len(batch[0].SeenHere) != 2 {
		t.Errorf("batch = %+v", batch)
	}

	// Typos are refused before any look-up: no event, no audit row.
	events, rows := countEvents(t, c.n), len(audit(t, c.n, store.AuditFilter{}))
	stranger, _ := cardcode.New(rand.Reader)
	for _, tc := range []struct {
		name  string
		stage string
		ins   []journey.CheckinInput
		code  string
	}{
		{"typo", stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: typo(c.luis.Code)}}}, "check"},
		{"typo among good codes", stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: c.luis.Code}}, {PersonRef: journey.PersonRef{Code: typo(c.kevin.Code)}}}, "check"},
		{"too short", stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: "7KQ2M"}}}, "code_format"},
		{"unknown stage", "atlantis", []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: c.luis.Code}}}, "unknown_stage"},
		{"no stage", "", []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: c.luis.Code}}}, "required"},
		{"future", stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: c.luis.Code}, At: time.Now().Add(time.Hour)}}, "future"},
		{"both refs", stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: c.luis.Code, Person: c.luis.ID}}}, "invalid"},
		{"empty", stageA, nil, "required"},
	} {
		_, err := j.CheckInBatch(ctx, vol, tc.stage, tc.ins)
		var v registry.ValidationError
		if !errors.As(err, &v) || !slices.ContainsFunc(v, func(f registry.FieldError) bool { return f.Code == tc.code }) {
			t.Errorf("%s: error %v, want a %q validation error", tc.name, err, tc.code)
		}
		if strings.Contains(err.Error(), c.luis.Code) {
			t.Errorf("%s: the error repeats the code: %v", tc.name, err)
		}
	}
	if e, r := countEvents(t, c.n), len(audit(t, c.n, store.AuditFilter{})); e != events || r != rows {
		t.Errorf("refused check-ins wrote %d events and %d audit rows", e-events, r-rows)
	}

	// A well-formed code nobody holds: reported, the rest recorded.
	_, err = j.CheckIn(ctx, vol, stageA, journey.CheckinInput{PersonRef: journey.PersonRef{Code: stranger}})
	if !errors.Is(err, journey.ErrNotFound) {
		t.Errorf("unknown code: %v, want ErrNotFound", err)
	}
	mixed, err := j.CheckInBatch(ctx, vol, stageA, []journey.CheckinInput{{PersonRef: journey.PersonRef{Code: stranger}}, {PersonRef: journey.PersonRef{Code: c.luis.Code}}})
	if err != nil || mixed[0].Error == nil || mixed[0].Error.Code != "not_found" || mixed[1].Error != nil || mixed[1].Repeat {
		t.Errorf("mixed batch = %+v, %v", mixed, err)
	}
	// A time given by an offline page is kept.
	at := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Millisecond)
	late, err := j.CheckIn(ctx, vol, stageB, journey.CheckinInput{PersonRef: journey.PersonRef{Code: c.luis.Code}, At: at})
	if err != nil || !late.At.Equal(at) {
		t.Errorf("check-in with a time = %+v, %v; want at %v", late, err, at)
	}
	tr, _ := j.Trail(ctx, vol, c.luis.ID)
	if len(tr.Seen) != 2 || !tr.Seen[1].At.Equal(at) {
		t.Errorf("trail = %+v", tr)
	}
	// Who may check people in.
	for _, p := range []auth.Principal{legal, medic, nobody} {
		if _, err := j.CheckIn(ctx, p, stageA, journey.CheckinInput{PersonRef: journey.PersonRef{Code: c.kevin.Code}}); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s checks in: %v", p.Role, err)
		}
	}
	if _, err := j.CheckIn(ctx, coord, stageA, journey.CheckinInput{PersonRef: journey.PersonRef{Code: c.kevin.Code}}); err != nil {
		t.Errorf("coordinator checks in: %v", err)
	}
	prog, err := j.Progress(ctx, medic, stageB)
	if err != nil || prog.Seen != 1 || prog.Previous == nil || prog.SeenAtPrevious != 4 {
		t.Errorf("progress = %+v, %v", prog, err)
	}
}

// TestCheckinWithoutGlanceProjection: a node whose database was written
// before the registry kept its small per-person glance projection (and not
// rebuilt since) checks people in and shows them the same, from the whole
// person records; a rebuild makes the projection.
func TestCheckinWithoutGlanceProjection(t *testing.T) {
	c := newCast(t)
	want := c.checkin(t, vol, stageA, c.sofia, c.kevin)
	countGlances := func() int {
		var n int
		if err := c.n.Store.View(ctx, func(tx store.ReadTx) error {
			var err error
			n, err = tx.Count(ctx, "person.glance")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countGlances(); n != len(c.everyone) {
		t.Fatalf("%d glance documents for %d people", n, len(c.everyone))
	}
	if err := c.n.Store.Update(ctx, func(tx store.Tx) error {
		for _, p := range c.everyone {
			if err := tx.Delete(ctx, "person.glance", p.ID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := c.checkin(t, vol, stageB, c.sofia, c.kevin)
	for i := range want {
		if g, w := got[i].Glance, want[i].Glance; g == nil || w == nil || !reflect.DeepEqual(*g, *w) {
			t.Errorf("glance without the projection = %+v, want %+v", g, w)
		}
		if got[i].Repeat || got[i].Person != want[i].Person {
			t.Errorf("check-in without the projection = %+v", got[i])
		}
	}
	if err := c.n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := countGlances(); n != len(c.everyone) {
		t.Errorf("%d glance documents after a rebuild, want %d", n, len(c.everyone))
	}
}

// TestConcurrentScans: the same card scanned at once on several phones,
// by card code or by person id, alone or in a batch, or marked found at
// the same time, is one check-in event. (A check-in reads its snapshot
// before it locks the person's pair; what was appended in between must be
// seen.)
func TestConcurrentScans(t *testing.T) {
	c := newCast(t)
	byCode := journey.CheckinInput{PersonRef: journey.PersonRef{Code: c.kevin.Code}}
	byID := journey.CheckinInput{PersonRef: journey.PersonRef{Person: c.kevin.ID}}
	luis := journey.CheckinInput{PersonRef: journey.PersonRef{Code: c.luis.Code}}
	for _, stage := range []string{stageA, stageB} {
		before := countEvents(t, c.n)
		const n = 12
		errs := make(chan error, n)
		for i := range n {
			go func() {
				var err error
				switch i % 4 {
				case 0:
					_, err = c.n.Journey.CheckIn(ctx, vol, stage, byCode)
				case 1:
					_, err = c.n.Journey.CheckIn(ctx, vol, stage, byID)
				case 2:
					_, err = c.n.Journey.CheckInBatch(ctx, vol, stage, []journey.CheckinInput{luis, byCode, byID})
				case 3:
					_, err = c.n.Journey.MarkFound(ctx, vol, journey.PersonRef{Code: c.kevin.Code}, stage)
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := countEvents(t, c.n) - before; got != 2 {
			t.Errorf("%s: %d simultaneous scans of two people wrote %d events, want 2", stage, n, got)
		}
	}
}

func TestHeadcounts(t *testing.T) {
	c := newCast(t)
	c.walk(t)
	if _, err := c.n.Journey.MarkLeft(ctx, vol, journey.PersonRef{Person: c.pedro.ID}, journey.LeftDetained, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	hc, err := c.n.Journey.Headcounts(ctx, medic, journey.HeadcountQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if hc.Registered != 8 || hc.SeenAnywhere != 8 || hc.NeverSeen != 0 || hc.Left != 1 {
		t.Errorf("totals %+v", hc)
	}
	byStage := map[string]journey.StageHeadcount{}
	for _, s := range hc.Stages {
		byStage[s.Stage.ID] = s
	}
	a, b := byStage[stageA], byStage[stageB]
	if a.Seen != 8 || b.Seen != 3 || a.Children != 3 || b.Children != 1 {
		t.Errorf("seen %d/%d children %d/%d", a.Seen, b.Seen, a.Children, b.Children)
	}
	// Not seen since A: Luis, Kevin, José, Marta (Pedro left).
	if a.NotSeenSince != 4 || b.NotSeenSince != 3 {
		t.Errorf("not seen since A %d, B %d; want 4 and 3", a.NotSeenSince, b.NotSeenSince)
	}
	count := func(cs []registry.Count, k string) int {
		for _, x := range cs {
			if x.Key == k {
				return x.Value
			}
		}
		return -1
	}
	kids := count(a.AgeBands, "0-4") + count(a.AgeBands, "5-11") + count(a.AgeBands, "12-17")
	if count(a.AgeBands, "60+") != 2 || count(a.AgeBands, "18-59") != 3 || kids != 3 || len(a.AgeBands) != 5 {
		t.Errorf("age bands at A: %+v", a.AgeBands)
	}
	if count(a.Flags, "medical") != 1 || count(a.Flags, "unaccompanied_child") != 1 || count(a.Flags, "elderly") != 2 {
		t.Errorf("medic's flags at A: %+v", a.Flags)
	}
	volHC, err := c.n.Journey.Headcounts(ctx, vol, journey.HeadcountQuery{Stage: stageA})
	if err != nil || len(volHC.Stages) != 1 || count(volHC.Stages[0].Flags, "medical") != -1 || count(volHC.Stages[0].Flags, "pregnant") != -1 {
		t.Errorf("a volunteer's headcount shows health flags: %+v, %v", volHC.Stages, err)
	}
	// A window in the future counts nobody; the last-seen figures stay.
	fut, err := c.n.Journey.Headcounts(ctx, coord, journey.HeadcountQuery{From: time.Now().Add(time.Hour)})
	if err != nil || fut.Stages[0].Seen != 0 || fut.Stages[0].NotSeenSince != 4 {
		t.Errorf("future window: %+v, %v", fut.Stages[0], err)
	}
	if _, err := c.n.Journey.Headcounts(ctx, coord, journey.HeadcountQuery{From: time.Now(), To: time.Now().Add(-time.Hour)}); err == nil {
		t.Error("a window ending before it starts was accepted")
	}
	if _, err := c.n.Journey.Headcounts(ctx, nobody, journey.HeadcountQuery{}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a member reads headcounts: %v", err)
	}
	col, err := c.n.Journey.ColumnPosition(ctx, legal)
	if err != nil || col.Stage == nil || col.Stage.ID != stageA || col.People != 4 {
		// 4 last seen at A (Luis, Kevin, José, Marta), 3 at B: the column is still at A.
		t.Errorf("column = %+v, %v", col, err)
	}
}

func TestIncidentsAndHazards(t *testing.T) {
	c := newCast(t)
	j := c.n.Journey
	lat, lon := 14.72, -89.95
	inc, err := j.RecordIncident(ctx, medic, journey.IncidentInput{Kind: "medical", Severity: "severe", Place: journey.Place{Lat: &lat, Lon: &lon},
		People: []journey.PersonRef{{Code: c.rosa.Code}, {Person: c.jose.ID}, {Code: c.rosa.Code}}, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Count != 2 || !slices.Equal(inc.People, ids(c.rosa, c.jose)) || inc.By != medic.Actor() {
		t.Errorf("incident = %+v", inc)
	}
	before := countEvents(t, c.n)
	for _, in := range []journey.IncidentInput{
		{Kind: "alien abduction", Severity: "low", Place: journey.Place{Stage: stageA}},
		{Kind: "death", Severity: "fatal", Place: journey.Place{Stage: stageA}},
		{Kind: "death", Severity: "critical"},
		{Kind: "death", Severity: "critical", Place: journey.Place{Stage: "atlantis"}},
		{Kind: "death", Severity: "critical", Place: journey.Place{Stage: stageA, Lat: &lat, Lon: &lon}},
		{Kind: "death", Severity: "critical", Place: journey.Place{Stage: stageA}, People: []journey.PersonRef{{Code: typo(c.rosa.Code)}}},
		{Kind: "death", Severity: "critical", Place: journey.Place{Stage: stageA}, At: time.Now().Add(24 * time.Hour)},
	} {
		var v registry.ValidationError
		if _, err := j.RecordIncident(ctx, coord, in); !errors.As(err, &v) {
			t.Errorf("%+v: error %v, want a validation error", in, err)
		}
	}
	if countEvents(t, c.n) != before {
		t.Error("a refused incident wrote an event")
	}
	if _, err := j.RecordIncident(ctx, nobody, journey.IncidentInput{Kind: "other", Severity: "low", Place: journey.Place{Stage: stageA}}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a member records an incident: %v", err)
	}

	h, err := j.RecordHazard(ctx, vol, journey.HazardInput{Kind: "trap", Place: journey.Place{Stage: stageB}, Until: time.Now().Add(6 * time.Hour)})
	if err != nil || !h.Live {
		t.Fatalf("hazard = %+v, %v", h, err)
	}
	gone, err := j.RecordHazard(ctx, vol, journey.HazardInput{Kind: "flooding", Place: journey.Place{Stage: stageA}, Until: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if gone, err = j.ClearHazard(ctx, vol, gone.ID); err != nil || gone.Live || gone.Cleared.IsZero() {
		t.Fatalf("cleared = %+v, %v", gone, err)
	}
	if _, err := j.ClearHazard(ctx, vol, "nope"); !errors.Is(err, journey.ErrNotFound) {
		t.Errorf("clearing an unknown hazard: %v", err)
	}
	for _, in := range []journey.HazardInput{
		{Kind: "trap", Place: journey.Place{Stage: stageB}},
		{Kind: "trap", Place: journey.Place{Stage: stageB}, Until: time.Now().Add(-time.Hour)},
		{Kind: "trap", Place: journey.Place{Stage: stageB}, Until: time.Now().Add(90 * 24 * time.Hour)},
		{Kind: "ufo", Place: journey.Place{Stage: stageB}, Until: time.Now().Add(time.Hour)},
	} {
		if _, err := j.RecordHazard(ctx, vol, in); err == nil {
			t.Errorf("%+v was accepted", in)
		}
	}
	live, err := j.Hazards(ctx, legal, true)
	if err != nil || len(live) != 1 || live[0].ID != h.ID {
		t.Errorf("live hazards = %+v, %v", live, err)
	}
	all, _ := j.Hazards(ctx, legal, false)
	if len(all) != 2 || !all[0].Live {
		t.Errorf("all hazards = %+v (live first)", all)
	}
	tl, err := j.Timeline(ctx, legal, journey.IncidentFilter{})
	if err != nil || len(tl) != 3 {
		t.Fatalf("timeline = %+v, %v", tl, err)
	}
	for i := 1; i < len(tl); i++ {
		if tl[i].At.After(tl[i-1].At) {
			t.Errorf("timeline not newest first: %v after %v", tl[i].At, tl[i-1].At)
		}
	}
	if only, _ := j.Timeline(ctx, legal, journey.IncidentFilter{Kind: "trap"}); len(only) != 1 || only[0].Hazard == nil {
		t.Errorf("timeline of traps = %+v", only)
	}
}

func TestRouteService(t *testing.T) {
	n := newNode(t)
	j := n.Journey
	r, err := j.Route(ctx, legal)
	if err != nil || !r.Default || len(r.Stages) != len(journey.DefaultRoute().Stages) {
		t.Fatalf("route = %+v, %v", r, err)
	}
	before := countEvents(t, n)
	bad := []byte("name,country,lat,lon,km\nA,MX,1,1,0\nB,MX,1,1,-3\n")
	if _, err := j.ImportRoute(ctx, coord, "bad.csv", bad); err == nil || !strings.Contains(err.Error(), "bad.csv:3: stages[1].km") {
		t.Errorf("bad file: %v", err)
	}
	good := []byte("name,country,lat,lon,km\nTecún Umán,GT,14.6786,-92.1465,0\nTapachula,MX,14.9039,-92.2575,39\n")
	if _, err := j.ImportRoute(ctx, vol, "good.csv", good); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a volunteer imports a route: %v", err)
	}
	if countEvents(t, n) != before {
		t.Fatal("refused imports wrote events")
	}
	r, err = j.ImportRoute(ctx, coord, "good.csv", good)
	if err != nil || r.Default || len(r.Stages) != 2 || r.Stages[0].ID != "tecun-uman" || r.SetBy != coord.Actor() {
		t.Fatalf("imported = %+v, %v", r, err)
	}
	if _, err := j.ImportRoute(ctx, coord, "again.csv", good); err != nil || countEvents(t, n) != before+1 {
		t.Errorf("importing the same route again wrote an event (%v)", err)
	}
	var buf bytes.Buffer
	r.WriteJSON(&buf)
	if _, err := j.SetRoute(ctx, coord, journey.DefaultRoute().Stages); err != nil {
		t.Fatal(err)
	}
	if r, _ := j.Route(ctx, coord); r.Default || len(r.Stages) != len(journey.DefaultRoute().Stages) {
		t.Error("the default route, set explicitly, did not take")
	}
}

func TestMapSVG(t *testing.T) {
	c := newCast(t)
	c.walk(t)
	j := c.n.Journey
	lat, lon := 14.5, -89.5
	if _, err := j.RecordIncident(ctx, coord, journey.IncidentInput{Kind: "tear_gas", Severity: "critical", Place: journey.Place{Lat: &lat, Lon: &lon}}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.RecordHazard(ctx, coord, journey.HazardInput{Kind: "police_line", Place: journey.Place{Stage: "tapachula"}, Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d, err := j.MapData(ctx, legal)
	if err != nil {
		t.Fatal(err)
	}
	if d.Column.Stage == nil || d.Column.Stage.ID != stageA || len(d.Incidents) != 1 || len(d.Hazards) != 1 {
		t.Fatalf("map data = %+v", d)
	}
	text := journey.MapText{Title: "Mapa <de> la ruta & \"más\"", Column: "Columna", Covered: "km recorridos", ToGo: "km por recorrer"}
	svg := string(journey.MapSVG(d, text))
	checkSVG(t, svg)
	for _, want := range []string{`role="img"`, "<title>Mapa &lt;de&gt; la ruta &amp; &#34;más&#34;</title>", "Columna: San Pedro Sula",
		"0 km recorridos", "3,157 km por recorrer", "tear gas", "police line", "<polyline"} {
		if !strings.Contains(svg, want) {
			t.Errorf("map lacks %q", want)
		}
	}
	if len(svg) > 20_000 {
		t.Errorf("map is %d bytes", len(svg))
	}
	// A hostile stage name is escaped, and an empty route still draws.
	d.Route.Stages[0].Name = `<script>alert(1)</script>"&`
	checkSVG(t, string(journey.MapSVG(d, journey.EnglishMap)))
	checkSVG(t, string(journey.MapSVG(journey.MapData{}, journey.EnglishMap)))
}

// checkSVG parses the whole document as XML and checks the conventions.
func checkSVG(t *testing.T, svg string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("map is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			for _, a := range se.Attr {
				if a.Name.Local == "style" || a.Name.Local == "id" || strings.HasPrefix(a.Name.Local, "on") {
					t.Errorf("attribute %s on <%s>", a.Name.Local, se.Name.Local)
				}
			}
			if se.Name.Local == "script" || se.Name.Local == "image" {
				t.Errorf("element <%s> in the map", se.Name.Local)
			}
		}
	}
	if root != "svg" || !strings.Contains(svg, "viewBox=") || strings.Contains(svg, "http://") && !strings.Contains(svg, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("not a self-contained svg: %.200s", svg)
	}
}
