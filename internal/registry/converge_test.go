package registry

// Property tests for DESIGN.md section 4: projections are deterministic, so
// the same set of events gives the same state in any arrival order. They
// build events as another node's sync would deliver them and apply them
// through a real ledger.Projector on real (encrypted SQLite) stores.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"caravana/internal/event"
	"caravana/internal/names"
	"caravana/internal/projtest"
	"caravana/internal/store"
)

var (
	genNodes  = []string{"na", "nb", "nc"}
	genActors = []string{"u1", "u2"}
	namePool  = []string{"", "ana", "ana garcia", "garcia", "garcia lopez", "lopez", "maria de la paz", "paz"}
	codePool  = []string{"", "C1", "C2", "C3"}
	rolePool  = []string{"head", "spouse", "child", "other"}
)

func newEventGen() *projtest.Gen { return projtest.NewGen(genNodes, genActors) }

// nameKeys stands in for the blind index: the projection only files keys.
func nameKeys(v string) []string {
	var out []string
	for _, tok := range names.Tokens(v) {
		out = append(out, "k-"+tok)
	}
	return out
}

func allNameKeys() []string {
	var out []string
	for _, v := range namePool {
		out = append(out, nameKeys(v)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func genPersonEvents(t *rapid.T) []*event.Event {
	g := newEventGen()
	n := rapid.IntRange(1, 14).Draw(t, "events")
	var out []*event.Event
	for range n {
		kind := rapid.SampledFrom([]string{KindPersonRegistered, KindPersonUpdated, KindPersonUpdated, KindPersonMerged}).Draw(t, "kind")
		person := rapid.SampledFrom([]string{"p1", "p2"}).Draw(t, "person")
		subject := "person/" + person
		if kind == KindPersonMerged {
			// Merged into the other one, or (concurrently, on another
			// node) into a third.
			into := rapid.SampledFrom([]string{map[string]string{"p1": "p2", "p2": "p1"}[person], "p3"}).Draw(t, "into")
			out = append(out, g.Next(t, kind, subject, personBody{MergedInto: into}))
			continue
		}
		body := personBody{Fields: map[string]string{}, Index: map[string][]string{}}
		for _, f := range []string{"given_names", "surname1", "surname2", "code", "sex", "birth_date", "flags"} {
			if kind == KindPersonUpdated && !rapid.Bool().Draw(t, "has "+f) {
				continue
			}
			var v string
			switch f {
			case "code":
				v = rapid.SampledFrom(codePool).Draw(t, f)
				if v != "" {
					body.Index[f] = []string{"c-" + v}
				}
			case "sex":
				v = rapid.SampledFrom([]string{"", "F", "M"}).Draw(t, f)
			case "birth_date":
				v = rapid.SampledFrom([]string{"", "2012-03-04", "1980-05-06"}).Draw(t, f)
			case "flags":
				v = rapid.SampledFrom([]string{"", "medical", "medical,pregnant"}).Draw(t, f)
			default:
				v = rapid.SampledFrom(namePool).Draw(t, f)
				if k := nameKeys(v); len(k) > 0 {
					body.Index[f] = k
				}
			}
			body.Fields[f] = v
		}
		if kind == KindPersonRegistered || rapid.Bool().Draw(t, "consent") {
			body.Consent = &Consent{Registration: rapid.Bool().Draw(t, "reg"), Tracing: rapid.Bool().Draw(t, "tracing")}
		}
		out = append(out, g.Next(t, kind, subject, body))
	}
	return out
}

// genHouseholdEvents makes household events; a removal names some add tags
// seen before it (as a remover would), sometimes with a tag that never existed.
func genHouseholdEvents(t *rapid.T) []*event.Event {
	g := newEventGen()
	n := rapid.IntRange(1, 16).Draw(t, "events")
	tags := map[string][]string{}
	var out []*event.Event
	for range n {
		subject := "household/" + rapid.SampledFrom([]string{"h1", "h2"}).Draw(t, "household")
		kind := rapid.SampledFrom([]string{KindHouseholdCreated, KindMemberAdded, KindMemberAdded, KindMemberRemoved, KindHouseholdUpdated}).Draw(t, "kind")
		var body householdBody
		switch kind {
		case KindHouseholdCreated, KindHouseholdUpdated:
			body.Label = rapid.SampledFrom([]string{"", "L1", "L2", "L3"}).Draw(t, "label")
			body.Kind = rapid.SampledFrom([]string{"", "family", "group"}).Draw(t, "hkind")
		case KindMemberRemoved:
			if seen := tags[subject]; len(seen) > 0 {
				body.Removed = rapid.SliceOfNDistinct(rapid.SampledFrom(seen), 1, len(seen), rapid.ID[string]).Draw(t, "removed")
			}
			if rapid.IntRange(0, 4).Draw(t, "ghost") == 0 {
				body.Removed = append(body.Removed, "zz/99#0")
			}
		}
		if kind != KindMemberRemoved {
			minMembers := 0
			if kind == KindMemberAdded {
				minMembers = 1
			}
			people := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"p1", "p2", "p3", "p4"}), minMembers, 2, rapid.ID[string]).Draw(t, "members")
			for _, p := range people {
				body.Members = append(body.Members, Member{Person: p, Role: rapid.SampledFrom(rolePool).Draw(t, "role")})
			}
		}
		e := g.Next(t, kind, subject, body)
		for i := range body.Members {
			tags[subject] = append(tags[subject], fmt.Sprintf("%s#%d", e.ID(), i))
		}
		out = append(out, e)
	}
	return out
}

// snapshot is everything a projection leaves behind: the documents (by
// their state hash and decoded) and the index entries under every key the
// events could have filed.
type snapshot struct {
	hash       string
	index      map[string][]string // "index|key" -> ids
	people     map[string]personDoc
	glances    map[string]glanceDoc
	households map[string]householdDoc
}

func project(t projtest.Fataler, dir string, evs []*event.Event, keys map[string][]string) snapshot {
	snap := snapshot{index: map[string][]string{}, people: map[string]personDoc{}, glances: map[string]glanceDoc{},
		households: map[string]householdDoc{}}
	snap.hash = projtest.Apply(t, dir, Register, evs, func(ctx context.Context, tx store.ReadTx) error {
		for idx, ks := range keys {
			for _, k := range ks {
				ids, err := tx.Lookup(ctx, idx, k)
				if err != nil {
					return err
				}
				snap.index[idx+"|"+k] = ids
			}
		}
		if err := tx.Scan(ctx, docPerson, func(id string, data []byte) error {
			var d personDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			snap.people[id] = d
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Scan(ctx, docGlance, func(id string, data []byte) error {
			var g glanceDoc
			if err := json.Unmarshal(data, &g); err != nil {
				return err
			}
			snap.glances[id] = g
			return nil
		}); err != nil {
			return err
		}
		return tx.Scan(ctx, docHousehold, func(id string, data []byte) error {
			var d householdDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			snap.households[id] = d
			return nil
		})
	})
	return snap
}

func ptrs(evs []*event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s hlc=%d %s %s %s", e.ID(), e.HLC, e.Kind, e.Subject, e.Body)
	}
	return b.String()
}

// later reports whether a was written after b in last-writer-wins order.
func later(a, b *event.Event) bool {
	return a.HLC > b.HLC || (a.HLC == b.HLC && a.Node > b.Node)
}

func checkSameState(t *rapid.T, a, b snapshot, order1, order2 []*event.Event) {
	if a.hash != b.hash {
		t.Fatalf("state hash differs by arrival order: %s vs %s\norder 1:%s\norder 2:%s", a.hash, b.hash, ptrs(order1), ptrs(order2))
	}
	for k, ids := range a.index {
		if !slices.Equal(ids, b.index[k]) {
			t.Fatalf("index %s differs by arrival order: %v vs %v\norder 1:%s\norder 2:%s", k, ids, b.index[k], ptrs(order1), ptrs(order2))
		}
	}
}

// checkPersonModel compares a snapshot with what last-writer-wins per field
// says, worked out directly from the events.
func checkPersonModel(t *rapid.T, snap snapshot, evs []*event.Event) {
	type winner struct {
		e *event.Event
		v string
		i []string
	}
	fields := map[string]map[string]winner{} // person -> field -> latest write
	first := map[string]*event.Event{}       // person -> earliest registration
	merged := map[string]winner{}            // person -> latest merge
	consent := map[string]winner{}
	var consentOf = map[*event.Event]*Consent{}
	for _, e := range evs {
		var b personBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			t.Fatal(err)
		}
		id := subjectID(e.Subject)
		if fields[id] == nil {
			fields[id] = map[string]winner{}
		}
		for f, v := range b.Fields {
			if w, ok := fields[id][f]; !ok || later(e, w.e) {
				fields[id][f] = winner{e, v, b.Index[f]}
			}
		}
		if e.Kind == KindPersonRegistered && (first[id] == nil || later(first[id], e)) {
			first[id] = e
		}
		if e.Kind == KindPersonMerged && b.MergedInto != "" {
			if w, ok := merged[id]; !ok || later(e, w.e) {
				merged[id] = winner{e: e, v: b.MergedInto}
			}
		}
		if b.Consent != nil {
			consentOf[e] = b.Consent
			if w, ok := consent[id]; !ok || later(e, w.e) {
				consent[id] = winner{e: e}
			}
		}
	}
	if len(snap.people) != len(fields) {
		t.Fatalf("%d person documents, want %d", len(snap.people), len(fields))
	}
	wantIndex := map[string][]string{}
	for id, fs := range fields {
		doc, ok := snap.people[id]
		if !ok {
			t.Fatalf("no document for %s", id)
		}
		if len(doc.Fields) != len(fs) {
			t.Fatalf("%s: %d fields, want %d", id, len(doc.Fields), len(fs))
		}
		for f, w := range fs {
			got := doc.Fields[f]
			if got.V != w.v || got.T != w.e.HLC || got.N != w.e.Node || !slices.Equal(got.I, w.i) {
				t.Fatalf("%s.%s = %+v, want %q from %s (last writer)\nevents:%s", id, f, got, w.v, w.e.ID(), ptrs(evs))
			}
			idx := map[string]string{"code": "code", "given_names": "name", "surname1": "name", "surname2": "name"}[f]
			for _, k := range w.i {
				if idx != "" && !slices.Contains(wantIndex[idx+"|"+k], id) {
					wantIndex[idx+"|"+k] = append(wantIndex[idx+"|"+k], id)
				}
			}
		}
		if r := first[id]; r == nil {
			if doc.Registered != 0 || doc.RegisteredBy != "" {
				t.Fatalf("%s: registered %v by %q without a registration event", id, doc.Registered, doc.RegisteredBy)
			}
		} else if doc.Registered != r.HLC || doc.RegisteredBy != r.Actor || doc.Node != r.Node {
			t.Fatalf("%s: registered at %v by %s on %s, want the earliest registration %s", id, doc.Registered, doc.RegisteredBy, doc.Node, r.ID())
		}
		if w, ok := consent[id]; ok && doc.Consent != *consentOf[w.e] {
			t.Fatalf("%s: consent %+v, want %+v from %s", id, doc.Consent, *consentOf[w.e], w.e.ID())
		}
		// The glance projection holds the current sealed values of the
		// fields a checkpoint shows, and the latest merge.
		want := glanceDoc{Code: fs["code"].v, GivenNames: fs["given_names"].v, Surname1: fs["surname1"].v,
			Surname2: fs["surname2"].v, Sex: fs["sex"].v, BirthDate: fs["birth_date"].v, Flags: fs["flags"].v,
			MergedInto: merged[id].v}
		if got, ok := snap.glances[id]; !ok || got != want {
			t.Fatalf("%s: glance %+v (present %v), want %+v\nevents:%s", id, got, ok, want, ptrs(evs))
		}
	}
	if len(snap.glances) != len(fields) {
		t.Fatalf("%d glance documents, want one per person (%d)", len(snap.glances), len(fields))
	}
	// The index holds exactly the keys of the fields' current values.
	for k, got := range snap.index {
		want := wantIndex[k]
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("index %s = %v, want %v (keys of the current values)\nevents:%s", k, got, want, ptrs(evs))
		}
	}
}

func TestPersonProjectionConverges(t *testing.T) {
	dir := t.TempDir()
	keys := map[string][]string{idxName: allNameKeys()}
	for _, c := range codePool[1:] {
		keys[idxCode] = append(keys[idxCode], "c-"+c)
	}
	rapid.Check(t, func(t *rapid.T) {
		evs := genPersonEvents(t)
		other := rapid.Permutation(evs).Draw(t, "other order")
		a := project(t, dir, evs, keys)
		b := project(t, dir, other, keys)
		checkSameState(t, a, b, evs, other)
		checkPersonModel(t, a, evs)
	})
}

func checkHouseholdModel(t *rapid.T, snap snapshot, evs []*event.Event) {
	type add struct {
		m   Member
		tag string
		hlc event.HLC
	}
	adds := map[string][]add{}
	removed := map[string]map[string]bool{}
	labels := map[string]*event.Event{}
	created := map[string]event.HLC{}
	for _, e := range evs {
		var b householdBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			t.Fatal(err)
		}
		id := subjectID(e.Subject)
		if removed[id] == nil {
			removed[id] = map[string]bool{}
		}
		for i, m := range b.Members {
			adds[id] = append(adds[id], add{m, fmt.Sprintf("%s#%d", e.ID(), i), e.HLC})
		}
		for _, tag := range b.Removed {
			removed[id][tag] = true
		}
		if b.Label != "" && (labels[id] == nil || later(e, labels[id])) {
			labels[id] = e
		}
		if e.Kind == KindHouseholdCreated && (created[id] == 0 || e.HLC < created[id]) {
			created[id] = e.HLC
		}
	}
	inHouseholds := map[string][]string{}
	for id := range removed {
		doc, ok := snap.households[id]
		if !ok {
			t.Fatalf("no document for household %s", id)
		}
		// Add-wins: a person is in if any add of theirs was not named by a
		// removal; the role is that of their latest live add.
		want := map[string]add{}
		for _, a := range adds[id] {
			if removed[id][a.tag] {
				continue
			}
			if w, ok := want[a.m.Person]; !ok || a.hlc > w.hlc || (a.hlc == w.hlc && a.tag > w.tag) {
				want[a.m.Person] = a
			}
		}
		var wantMembers []Member
		for p, a := range want {
			wantMembers = append(wantMembers, Member{Person: p, Role: a.m.Role})
			inHouseholds[p] = append(inHouseholds[p], id)
		}
		slices.SortFunc(wantMembers, func(a, b Member) int { return strings.Compare(a.Person, b.Person) })
		if !slices.Equal(doc.Members, wantMembers) {
			t.Fatalf("%s members = %v, want %v\nevents:%s", id, doc.Members, wantMembers, ptrs(evs))
		}
		var wantLabel string
		if e := labels[id]; e != nil {
			var b householdBody
			json.Unmarshal(e.Body, &b)
			wantLabel = b.Label
		}
		if doc.Label.V != wantLabel || doc.Created != created[id] {
			t.Fatalf("%s label %q created %v, want %q %v", id, doc.Label.V, doc.Created, wantLabel, created[id])
		}
	}
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		want := inHouseholds[p]
		slices.Sort(want)
		if got := snap.index[idxMember+"|"+p]; !slices.Equal(got, want) {
			t.Fatalf("member index for %s = %v, want %v\nevents:%s", p, got, want, ptrs(evs))
		}
	}
}

func TestHouseholdProjectionConverges(t *testing.T) {
	dir := t.TempDir()
	keys := map[string][]string{idxMember: {"p1", "p2", "p3", "p4"}}
	rapid.Check(t, func(t *rapid.T) {
		evs := genHouseholdEvents(t)
		other := rapid.Permutation(evs).Draw(t, "other order")
		a := project(t, dir, evs, keys)
		b := project(t, dir, other, keys)
		checkSameState(t, a, b, evs, other)
		checkHouseholdModel(t, a, evs)
		checkHouseholdModel(t, b, other)
	})
}

// TestRemoveOnlyNamedTags: a removal made without seeing a concurrent add
// does not undo it (add-wins), in either arrival order.
func TestRemoveOnlyNamedTags(t *testing.T) {
	dir := t.TempDir()
	mk := func(node string, seq uint64, ms int64, kind string, body householdBody) *event.Event {
		data, _ := json.Marshal(body)
		return &event.Event{Node: node, Seq: seq, HLC: event.MakeHLC(ms, 0), Kind: kind, Subject: "household/h1", Body: data}
	}
	created := mk("na", 1, 100, KindHouseholdCreated, householdBody{Label: "L", Kind: "family", Members: []Member{{"p1", "head"}}})
	// Node b re-adds p1 (as spouse) while node a, not having seen it, removes p1's first add.
	readd := mk("nb", 1, 200, KindMemberAdded, householdBody{Members: []Member{{"p1", "spouse"}}})
	remove := mk("na", 2, 300, KindMemberRemoved, householdBody{Person: "p1", Removed: []string{"na/1#0"}})
	keys := map[string][]string{idxMember: {"p1"}}
	for _, order := range [][]*event.Event{{created, readd, remove}, {remove, readd, created}, {readd, remove, created}} {
		snap := project(t, dir, order, keys)
		doc := snap.households["h1"]
		if want := []Member{{"p1", "spouse"}}; !slices.Equal(doc.Members, want) {
			t.Errorf("order %s: members %v, want %v", ptrs(order), doc.Members, want)
		}
		if got := snap.index[idxMember+"|p1"]; !slices.Equal(got, []string{"h1"}) {
			t.Errorf("order %s: member index %v", ptrs(order), got)
		}
	}
	// Once a removal names both adds, p1 is out, whatever the order.
	removeBoth := mk("nb", 2, 400, KindMemberRemoved, householdBody{Person: "p1", Removed: []string{"na/1#0", "nb/1#0"}})
	for _, order := range [][]*event.Event{{created, readd, remove, removeBoth}, {removeBoth, remove, readd, created}} {
		snap := project(t, dir, order, keys)
		if doc := snap.households["h1"]; len(doc.Members) != 0 {
			t.Errorf("order %s: members %v, want none", ptrs(order), doc.Members)
		}
		if got := snap.index[idxMember+"|p1"]; len(got) != 0 {
			t.Errorf("order %s: member index %v, want empty", ptrs(order), got)
		}
	}
}
