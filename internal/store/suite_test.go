package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"caravana/internal/event"
	"caravana/internal/store"
)

var ctx = context.Background()

var errBoom = errors.New("boom")

// runStoreSuite runs every behaviour the Store interface promises against
// stores from open, which returns a fresh, empty store on each call.
func runStoreSuite(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Docs", func(t *testing.T) { testDocs(t, open(t)) })
	t.Run("Index", func(t *testing.T) { testIndex(t, open(t)) })
	t.Run("IndexRange", func(t *testing.T) { testIndexRange(t, open(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("InsertEvents", func(t *testing.T) { testInsertEvents(t, open(t)) })
	t.Run("EachEventPagesInOrder", func(t *testing.T) { testEachEvent(t, open(t)) })
	t.Run("EachDoc", func(t *testing.T) { testEachDoc(t, open(t)) })
	t.Run("EachIndex", func(t *testing.T) { testEachIndex(t, open(t)) })
	t.Run("EachIndexedJSON", func(t *testing.T) { testEachIndexedJSON(t, open(t)) })
	t.Run("Claim", func(t *testing.T) { testClaim(t, open(t), open(t)) })
	t.Run("Erase", func(t *testing.T) { testErase(t, open) })
	t.Run("ResetProjections", func(t *testing.T) { testReset(t, open(t)) })
	t.Run("Local", func(t *testing.T) { testLocal(t, open(t)) })
	t.Run("LocalScan", func(t *testing.T) { testLocalScan(t, open(t)) })
	t.Run("DeleteEventsAfter", func(t *testing.T) { testDeleteEventsAfter(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("Savepoints", func(t *testing.T) { testSavepoints(t, open(t)) })
	t.Run("UpdateRollsBack", func(t *testing.T) { testRollback(t, open(t)) })
	t.Run("ViewSnapshot", func(t *testing.T) { testViewSnapshot(t, open(t)) })
	t.Run("WritersSerialised", func(t *testing.T) { testWritersSerialised(t, open(t)) })
}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(tx store.ReadTx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func getDoc(t *testing.T, s store.Store, kind, id string) ([]byte, error) {
	t.Helper()
	var data []byte
	err := s.View(ctx, func(tx store.ReadTx) error {
		var err error
		data, err = tx.Get(ctx, kind, id)
		return err
	})
	return data, err
}

func scanIDs(t *testing.T, s store.Store, kind string) []string {
	t.Helper()
	ids := []string{}
	view(t, s, func(tx store.ReadTx) error {
		return tx.Scan(ctx, kind, func(id string, _ []byte) error {
			ids = append(ids, id)
			return nil
		})
	})
	return ids
}

func count(t *testing.T, s store.Store, kind string) int {
	t.Helper()
	var n int
	view(t, s, func(tx store.ReadTx) error {
		var err error
		n, err = tx.Count(ctx, kind)
		return err
	})
	return n
}

func testDocs(t *testing.T, s store.Store) {
	// Ids in an order that byte order, numeric order and case-folding all disagree on.
	ids := []string{"b", "a/10", "A", "a/2", "a", "a-b", "a_b", "aB", "Ab", "ñ", "z", "a/1"}
	binary := []byte{0, 1, 0xff, 0xfe, '\n', 0}
	update(t, s, func(tx store.Tx) error {
		for _, id := range ids {
			if err := tx.Put(ctx, "person", id, []byte("v-"+id)); err != nil {
				return err
			}
		}
		if err := tx.Put(ctx, "household", "a", []byte("h")); err != nil {
			return err
		}
		return tx.Put(ctx, "blob", "x", binary)
	})
	want := slices.Clone(ids)
	sort.Strings(want)
	if got := scanIDs(t, s, "person"); !slices.Equal(got, want) {
		t.Errorf("Scan order = %q, want byte order %q", got, want)
	}
	if got, want := count(t, s, "person"), len(ids); got != want {
		t.Errorf("Count(person) = %d, want %d", got, want)
	}
	if got := count(t, s, "nothing"); got != 0 {
		t.Errorf("Count(nothing) = %d", got)
	}
	if got, err := getDoc(t, s, "blob", "x"); err != nil || !bytes.Equal(got, binary) {
		t.Errorf("binary data came back as %v, %v", got, err)
	}
	if got, err := getDoc(t, s, "household", "a"); err != nil || string(got) != "h" {
		t.Errorf("Get(household/a) = %q, %v (kinds must not mix)", got, err)
	}

	// Overwrite, delete, delete again.
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(ctx, "person", "a", []byte("new")); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "person", "b"); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "person", "b"); err != nil {
			return fmt.Errorf("deleting a missing doc: %w", err)
		}
		// Inside the transaction, its own writes are visible.
		if got, err := tx.Get(ctx, "person", "a"); err != nil || string(got) != "new" {
			return fmt.Errorf("read-your-writes: %q, %v", got, err)
		}
		if _, err := tx.Get(ctx, "person", "b"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deleted doc inside tx: %v", err)
		}
		return nil
	})
	if got, err := getDoc(t, s, "person", "a"); err != nil || string(got) != "new" {
		t.Errorf("after overwrite Get = %q, %v", got, err)
	}
	for _, k := range [][2]string{{"person", "b"}, {"person", "nope"}, {"nope", "a"}, {"household", "b"}} {
		if _, err := getDoc(t, s, k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%s/%s) err = %v, want ErrNotFound", k[0], k[1], err)
		}
	}
	if got := count(t, s, "person"); got != len(ids)-1 {
		t.Errorf("Count after delete = %d, want %d", got, len(ids)-1)
	}

	// An error from fn stops Scan and comes back.
	calls := 0
	err := s.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, "person", func(string, []byte) error {
			calls++
			return errBoom
		})
	})
	if !errors.Is(err, errBoom) || calls != 1 {
		t.Errorf("Scan with failing fn: err %v after %d calls, want errBoom after 1", err, calls)
	}
	if s.Dialect() != "sqlite" && s.Dialect() != "postgres" {
		t.Errorf("Dialect = %q", s.Dialect())
	}
}

func lookup(t *testing.T, s store.Store, index, key string) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx store.ReadTx) error {
		var err error
		ids, err = tx.Lookup(ctx, index, key)
		return err
	})
	return ids
}

func testIndex(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		for _, e := range [][3]string{
			{"surname", "nunez", "p3"}, {"surname", "nunez", "p1"}, {"surname", "nunez", "p2"},
			{"surname", "nunez", "p1"}, // again: idempotent
			{"surname", "garcia", "p1"}, {"given", "nunez", "p9"},
		} {
			if err := tx.AddIndex(ctx, e[0], e[1], e[2]); err != nil {
				return fmt.Errorf("AddIndex %v: %w", e, err)
			}
		}
		return nil
	})
	tests := []struct {
		index, key string
		want       []string
	}{
		{"surname", "nunez", []string{"p1", "p2", "p3"}},
		{"surname", "garcia", []string{"p1"}},
		{"given", "nunez", []string{"p9"}},
		{"given", "garcia", nil},
		{"nope", "nunez", nil},
	}
	for _, tt := range tests {
		if got := lookup(t, s, tt.index, tt.key); !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%s, %s) = %q, want %q", tt.index, tt.key, got, tt.want)
		}
	}
	update(t, s, func(tx store.Tx) error {
		for range 2 { // removing twice is not an error
			if err := tx.RemoveIndex(ctx, "surname", "nunez", "p2"); err != nil {
				return err
			}
		}
		return tx.RemoveIndex(ctx, "surname", "missing", "p1")
	})
	if got := lookup(t, s, "surname", "nunez"); !slices.Equal(got, []string{"p1", "p3"}) {
		t.Errorf("after RemoveIndex Lookup = %q", got)
	}
	if got := lookup(t, s, "surname", "garcia"); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("RemoveIndex touched another key: %q", got)
	}
}

// mkEvent makes a stored-shape event (hash and sig are opaque bytes to the store).
func mkEvent(node string, seq uint64, hlc event.HLC, body string, prev []byte) *event.Event {
	e := &event.Event{Node: node, Seq: seq, HLC: hlc, Actor: "ana", Kind: "test.set", Subject: "s/" + node,
		Body: []byte(body), Prev: prev}
	e.Hash = e.ComputeHash()
	e.Sig = bytes.Repeat([]byte{byte(seq)}, 64)
	return e
}

func eventsEqual(a, b *event.Event) bool {
	return a.Node == b.Node && a.Seq == b.Seq && a.HLC == b.HLC && a.Actor == b.Actor && a.Kind == b.Kind &&
		a.Subject == b.Subject && bytes.Equal(a.Body, b.Body) && bytes.Equal(a.Prev, b.Prev) &&
		bytes.Equal(a.Hash, b.Hash) && bytes.Equal(a.Sig, b.Sig)
}

// testInsertEvents: many events stored in chunks read back as stored one
// by one; a (node, seq) already taken fails the call with
// ErrAlreadyExists, and the transaction (Update) leaves nothing of it.
func testInsertEvents(t *testing.T, s store.Store) {
	const n = 123 // two full chunks of 50 and 23 left over
	var evs []event.Event
	var prev []byte
	for i := range n {
		e := mkEvent("node-m", uint64(i+1), event.MakeHLC(2000+int64(i), 0), fmt.Sprintf(`{"i":%d}`, i), prev)
		evs = append(evs, *e)
		prev = e.Hash
	}
	update(t, s, func(tx store.Tx) error { return tx.InsertEvents(ctx, evs) })
	view(t, s, func(tx store.ReadTx) error {
		got, err := tx.Events(ctx, "node-m", 0, 1000)
		if err != nil || len(got) != n {
			t.Fatalf("Events = %d events, %v; want %d", len(got), err, n)
		}
		for i := range got {
			if !eventsEqual(&got[i], &evs[i]) {
				t.Fatalf("event %d read back as %+v, stored %+v", i, got[i], evs[i])
			}
		}
		return nil
	})
	// A chunk holding one taken (node, seq): refused as a whole.
	var more []event.Event
	for i := range 60 {
		seq := uint64(n + 1 + i)
		if i == 30 {
			seq = 7 // taken
		}
		more = append(more, *mkEvent("node-m", seq, event.MakeHLC(9000+int64(i), 0), `{}`, nil))
	}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertEvents(ctx, more) })
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("InsertEvents with a taken seq = %v, want ErrAlreadyExists", err)
	}
	view(t, s, func(tx store.ReadTx) error {
		if h, err := tx.Head(ctx, "node-m"); err != nil || h.Seq != n {
			t.Errorf("Head after the refused call = %+v, %v; want seq %d", h, err, n)
		}
		return nil
	})
}

func testEvents(t *testing.T, s store.Store) {
	var a []*event.Event
	var prev []byte
	for i := range 3 {
		e := mkEvent("node-a", uint64(i+1), event.MakeHLC(1000+int64(i), 0), fmt.Sprintf(`{"i":%d}`, i), prev)
		a = append(a, e)
		prev = e.Hash
	}
	b1 := mkEvent("node-b", 1, event.MakeHLC(5000, 2), `{}`, nil)
	b2 := mkEvent("node-b", 2, event.MakeHLC(900, 0), `{"x":"y"}`, b1.Hash)
	update(t, s, func(tx store.Tx) error {
		for _, e := range append(slices.Clone(a), b1, b2) {
			if err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	// The same (node, seq) again, with other content: refused, and the original stays.
	dup := mkEvent("node-a", 2, event.MakeHLC(7777, 0), `{"forged":true}`, a[0].Hash)
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertEvent(ctx, dup) })
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate InsertEvent = %v, want ErrAlreadyExists", err)
	}

	view(t, s, func(tx store.ReadTx) error {
		h, err := tx.Head(ctx, "node-a")
		if err != nil || h.Seq != 3 || !bytes.Equal(h.Hash, a[2].Hash) || h.HLC != a[2].HLC {
			t.Errorf("Head(node-a) = %+v, %v", h, err)
		}
		// Head is by seq, not by HLC (node-b's seq 2 has the smaller HLC).
		if h, err := tx.Head(ctx, "node-b"); err != nil || h.Seq != 2 || h.HLC != b2.HLC {
			t.Errorf("Head(node-b) = %+v, %v", h, err)
		}
		if h, err := tx.Head(ctx, "nobody"); err != nil || h.Seq != 0 || h.Hash != nil {
			t.Errorf("Head(unknown) = %+v, %v; want zero", h, err)
		}
		if v, err := tx.Vector(ctx); err != nil || len(v) != 2 || v["node-a"] != 3 || v["node-b"] != 2 {
			t.Errorf("Vector = %v, %v", v, err)
		}
		if m, err := tx.MaxHLC(ctx); err != nil || m != b1.HLC {
			t.Errorf("MaxHLC = %v, %v; want %v", m, err, b1.HLC)
		}
		if n, err := tx.CountEvents(ctx); err != nil || n != 5 {
			t.Errorf("CountEvents = %d, %v", n, err)
		}
		pages := []struct {
			after uint64
			limit int
			want  []*event.Event
		}{
			{0, 2, a[:2]},
			{2, 10, a[2:]},
			{0, 10, a},
			{3, 10, nil},
			{1, 1, a[1:2]},
		}
		for _, p := range pages {
			got, err := tx.Events(ctx, "node-a", p.after, p.limit)
			if err != nil || len(got) != len(p.want) {
				t.Errorf("Events(after %d, limit %d) = %d events, %v; want %d", p.after, p.limit, len(got), err, len(p.want))
				continue
			}
			for i := range got {
				if !eventsEqual(&got[i], p.want[i]) {
					t.Errorf("Events(after %d)[%d] = %+v, want %+v", p.after, i, got[i], *p.want[i])
				}
			}
		}
		// Stored events still hash to what they were sealed with (prev nil for seq 1).
		got, _ := tx.Events(ctx, "node-a", 0, 1)
		if len(got) == 1 && (got[0].Prev != nil || got[0].CheckHash() != nil) {
			t.Errorf("first event came back with prev %v, hash check %v", got[0].Prev, got[0].CheckHash())
		}
		return nil
	})
	if s.View(ctx, func(tx store.ReadTx) error {
		got, _ := tx.Events(ctx, "node-a", 1, 1)
		if len(got) != 1 || !eventsEqual(&got[0], a[1]) {
			return errors.New("the refused duplicate replaced the original")
		}
		return nil
	}) != nil {
		t.Error("the refused duplicate replaced the original")
	}
}

func testEachEvent(t *testing.T, s store.Store) {
	// More than two pages of 5000, with HLC ties across and within nodes so
	// that node and seq decide the order, inserted in a random order.
	const n = 12_003
	rng := rand.New(rand.NewPCG(1, 2))
	nodes := []string{"n-c", "n-a", "n-b", "n-a0"}
	seqs := map[string]uint64{}
	var all []*event.Event
	for range n {
		node := nodes[rng.IntN(len(nodes))]
		seqs[node]++
		all = append(all, mkEvent(node, seqs[node], event.MakeHLC(int64(rng.IntN(3000)), uint16(rng.IntN(2))), `{}`, nil))
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	update(t, s, func(tx store.Tx) error {
		for _, e := range all {
			if err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(all)
	sort.Slice(want, func(i, j int) bool { return want[i].Before(want[j]) })

	check := func(t *testing.T, got []*event.Event) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("EachEvent gave %d events, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].ID() != want[i].ID() || got[i].HLC != want[i].HLC {
				t.Fatalf("event %d = %s@%v, want %s@%v", i, got[i].ID(), got[i].HLC, want[i].ID(), want[i].HLC)
			}
		}
	}
	// fn writes in the same transaction (rebuild does).
	var got []*event.Event
	update(t, s, func(tx store.Tx) error {
		return tx.EachEvent(ctx, func(e *event.Event) error {
			got = append(got, e)
			if err := tx.Put(ctx, "seen", e.ID(), []byte(e.HLC.String())); err != nil {
				return err
			}
			return tx.AddIndex(ctx, "by-node", e.Node, e.ID())
		})
	})
	check(t, got)
	if c := count(t, s, "seen"); c != n {
		t.Errorf("docs written during EachEvent = %d, want %d", c, n)
	}
	if ids := lookup(t, s, "by-node", "n-a0"); len(ids) != int(seqs["n-a0"]) {
		t.Errorf("index entries written during EachEvent for n-a0 = %d, want %d", len(ids), seqs["n-a0"])
	}
	got = nil
	view(t, s, func(tx store.ReadTx) error {
		return tx.EachEvent(ctx, func(e *event.Event) error { got = append(got, e); return nil })
	})
	check(t, got)

	// An error from fn stops the walk, on a later page too.
	calls := 0
	err := s.View(ctx, func(tx store.ReadTx) error {
		return tx.EachEvent(ctx, func(*event.Event) error {
			if calls++; calls == 7000 {
				return errBoom
			}
			return nil
		})
	})
	if !errors.Is(err, errBoom) || calls != 7000 {
		t.Errorf("EachEvent with failing fn: %v after %d calls", err, calls)
	}
}

func testEachDoc(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		for _, k := range [][2]string{{"b", "2"}, {"a", "9"}, {"b", "1"}, {"a", "10"}, {"A", "z"}, {"a", "1"}} {
			if err := tx.Put(ctx, k[0], k[1], []byte(k[0]+k[1])); err != nil {
				return err
			}
		}
		return tx.LocalPut(ctx, "a", "0", []byte("local, not a projection"))
	})
	var got []string
	view(t, s, func(tx store.ReadTx) error {
		return tx.EachDoc(ctx, func(kind, id string, data []byte) error {
			if string(data) != kind+id {
				t.Errorf("EachDoc %s/%s data %q", kind, id, data)
			}
			got = append(got, kind+"/"+id)
			return nil
		})
	})
	want := []string{"A/z", "a/1", "a/10", "a/9", "b/1", "b/2"}
	if !slices.Equal(got, want) {
		t.Errorf("EachDoc order = %q, want %q", got, want)
	}
}

func testReset(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		for _, err := range []error{
			tx.Put(ctx, "person", "p1", []byte("x")),
			tx.AddIndex(ctx, "surname", "k", "p1"),
			tx.InsertEvent(ctx, mkEvent("n", 1, 1, `{}`, nil)),
			tx.LocalPut(ctx, "session", "s1", []byte("y")),
			tx.AppendAudit(ctx, store.AuditEntry{At: 1, Actor: "ana", Action: "read", Record: "p1"}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.ResetProjections(ctx) })
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.Get(ctx, "person", "p1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("doc survived reset: %v", err)
		}
		if ids, _ := tx.Lookup(ctx, "surname", "k"); len(ids) != 0 {
			t.Errorf("index survived reset: %q", ids)
		}
		if n, _ := tx.CountEvents(ctx); n != 1 {
			t.Errorf("reset touched events: %d left", n)
		}
		if _, err := tx.LocalGet(ctx, "session", "s1"); err != nil {
			t.Errorf("reset touched local docs: %v", err)
		}
		if a, _ := tx.Audit(ctx, store.AuditFilter{}); len(a) != 1 {
			t.Errorf("reset touched the audit: %d entries", len(a))
		}
		return nil
	})
}

func testLocal(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.LocalPut(ctx, "session", "s1", []byte("one")); err != nil {
			return err
		}
		if err := tx.LocalPut(ctx, "session", "s1", []byte("two")); err != nil {
			return err
		}
		return tx.Put(ctx, "session", "d1", []byte("doc"))
	})
	view(t, s, func(tx store.ReadTx) error {
		if got, err := tx.LocalGet(ctx, "session", "s1"); err != nil || string(got) != "two" {
			t.Errorf("LocalGet = %q, %v", got, err)
		}
		// Local docs and projection docs are separate tables.
		if _, err := tx.Get(ctx, "session", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("local doc visible through Get: %v", err)
		}
		if _, err := tx.LocalGet(ctx, "session", "d1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("projection doc visible through LocalGet: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.LocalDelete(ctx, "session", "s1"); err != nil {
			return err
		}
		return tx.LocalDelete(ctx, "session", "s1")
	})
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.LocalGet(ctx, "session", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after LocalDelete: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testAudit(t *testing.T, s store.Store) {
	var entries []store.AuditEntry
	for i := range 25 {
		entries = append(entries, store.AuditEntry{At: int64(1000 + i), Actor: []string{"ana", "ben"}[i%2],
			Action: "person.read", Record: fmt.Sprintf("person/%d", i%3), Detail: fmt.Sprintf("d%d", i)})
	}
	update(t, s, func(tx store.Tx) error { return tx.AppendAudit(ctx, entries[:10]...) })
	update(t, s, func(tx store.Tx) error { return tx.AppendAudit(ctx, entries[10:]...) })
	update(t, s, func(tx store.Tx) error { return tx.AppendAudit(ctx) }) // nothing to add

	audit := func(f store.AuditFilter) []store.AuditEntry {
		t.Helper()
		var out []store.AuditEntry
		view(t, s, func(tx store.ReadTx) error {
			var err error
			out, err = tx.Audit(ctx, f)
			return err
		})
		return out
	}
	all := audit(store.AuditFilter{})
	if len(all) != 25 {
		t.Fatalf("Audit{} = %d entries, want 25", len(all))
	}
	for i, a := range all { // newest first, fields intact
		want := entries[24-i]
		if a.At != want.At || a.Actor != want.Actor || a.Action != want.Action || a.Record != want.Record || a.Detail != want.Detail {
			t.Errorf("entry %d = %+v, want %+v", i, a, want)
		}
		if i > 0 && a.ID >= all[i-1].ID {
			t.Errorf("ids not descending: %d after %d", a.ID, all[i-1].ID)
		}
	}
	details := func(es []store.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Detail)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"actor", store.AuditFilter{Actor: "ben", Limit: 3}, []string{"d23", "d21", "d19"}},
		{"record", store.AuditFilter{Record: "person/1", Limit: 4}, []string{"d22", "d19", "d16", "d13"}},
		{"actor and record", store.AuditFilter{Actor: "ana", Record: "person/0"}, []string{"d24", "d18", "d12", "d6", "d0"}},
		{"before", store.AuditFilter{BeforeID: all[20].ID}, []string{"d3", "d2", "d1", "d0"}},
		{"nobody", store.AuditFilter{Actor: "zoe"}, nil},
	}
	for _, tt := range tests {
		if got := details(audit(tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("Audit %s = %q, want %q", tt.name, got, tt.want)
		}
	}
	// Paging backwards covers everything once.
	var paged []string
	f := store.AuditFilter{Limit: 10}
	for pages := 0; ; pages++ {
		page := audit(f)
		if len(page) == 0 || pages > 5 {
			break
		}
		paged = append(paged, details(page)...)
		f.BeforeID = page[len(page)-1].ID
	}
	if !slices.Equal(paged, details(all)) {
		t.Errorf("paging = %q, want %q", paged, details(all))
	}
}

func testSavepoints(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put(ctx, "k", "kept", []byte("1")); err != nil {
			return err
		}
		if err := tx.Savepoint(ctx, "r0"); err != nil {
			return err
		}
		if err := tx.Put(ctx, "k", "undone", []byte("2")); err != nil {
			return err
		}
		if err := tx.InsertEvent(ctx, mkEvent("n", 1, 1, `{}`, nil)); err != nil {
			return err
		}
		// A failed statement inside the savepoint (PostgreSQL aborts the
		// transaction until ROLLBACK TO).
		if err := tx.InsertEvent(ctx, mkEvent("n", 1, 2, `{"dup":1}`, nil)); !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("duplicate inside savepoint: %v", err)
		}
		if err := tx.RollbackTo(ctx, "r0"); err != nil {
			return err
		}
		if err := tx.Release(ctx, "r0"); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, "k", "undone"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("rolled-back put visible: %v", err)
		}
		// Nested: the inner one rolled back, the outer one released.
		if err := tx.Savepoint(ctx, "r1"); err != nil {
			return err
		}
		if err := tx.Put(ctx, "k", "outer", []byte("3")); err != nil {
			return err
		}
		if err := tx.Savepoint(ctx, "r2"); err != nil {
			return err
		}
		if err := tx.Put(ctx, "k", "inner", []byte("4")); err != nil {
			return err
		}
		if err := tx.RollbackTo(ctx, "r2"); err != nil {
			return err
		}
		if err := tx.Release(ctx, "r2"); err != nil {
			return err
		}
		if err := tx.Release(ctx, "r1"); err != nil {
			return err
		}
		// The transaction is usable after all that.
		return tx.InsertEvent(ctx, mkEvent("n", 1, 3, `{"after":1}`, nil))
	})
	want := map[string]bool{"kept": true, "outer": true, "undone": false, "inner": false}
	for id, present := range want {
		if _, err := getDoc(t, s, "k", id); (err == nil) != present {
			t.Errorf("doc %q present = %v, want %v", id, err == nil, present)
		}
	}
	view(t, s, func(tx store.ReadTx) error {
		evs, err := tx.Events(ctx, "n", 0, 10)
		if err != nil || len(evs) != 1 || string(evs[0].Body) != `{"after":1}` {
			t.Errorf("events after savepoints = %+v, %v", evs, err)
		}
		return nil
	})
	// Rolling back to an unknown savepoint is an error, not a silent no-op.
	err := s.Update(ctx, func(tx store.Tx) error { return tx.RollbackTo(ctx, "never") })
	if err == nil {
		t.Error("RollbackTo(unknown savepoint) succeeded")
	}
}

func testRollback(t *testing.T, s store.Store) {
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, err := range []error{
			tx.Put(ctx, "person", "p1", []byte("x")),
			tx.AddIndex(ctx, "surname", "k", "p1"),
			tx.InsertEvent(ctx, mkEvent("n", 1, 1, `{}`, nil)),
			tx.LocalPut(ctx, "session", "s1", []byte("y")),
			tx.AppendAudit(ctx, store.AuditEntry{At: 1, Actor: "ana", Action: "read", Record: "p1"}),
		} {
			if err != nil {
				return err
			}
		}
		return fmt.Errorf("request refused: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.Get(ctx, "person", "p1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("doc survived rollback: %v", err)
		}
		if ids, _ := tx.Lookup(ctx, "surname", "k"); len(ids) != 0 {
			t.Errorf("index survived rollback")
		}
		if n, _ := tx.CountEvents(ctx); n != 0 {
			t.Errorf("event survived rollback")
		}
		if _, err := tx.LocalGet(ctx, "session", "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("local doc survived rollback: %v", err)
		}
		if a, _ := tx.Audit(ctx, store.AuditFilter{}); len(a) != 0 {
			t.Errorf("audit survived rollback")
		}
		return nil
	})
	// A panic-free failure does not poison the store: the next Update works.
	update(t, s, func(tx store.Tx) error { return tx.Put(ctx, "person", "p2", []byte("z")) })
	if _, err := getDoc(t, s, "person", "p2"); err != nil {
		t.Errorf("Update after a rolled-back one: %v", err)
	}
}

func testViewSnapshot(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { return tx.Put(ctx, "c", "1", []byte("a")) })
	// View sees what was committed before it.
	if got, err := getDoc(t, s, "c", "1"); err != nil || string(got) != "a" {
		t.Fatalf("View after commit: %q, %v", got, err)
	}
	// A write committed while a View runs is not seen by that View (a snapshot),
	// and is seen by the next one.
	err := s.View(ctx, func(tx store.ReadTx) error {
		before, err := tx.Count(ctx, "c")
		if err != nil {
			return err
		}
		done := make(chan error)
		go func() {
			done <- s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Put(ctx, "c", "2", []byte("b")); err != nil {
					return err
				}
				return tx.Put(ctx, "c", "1", []byte("changed"))
			})
		}()
		if err := <-done; err != nil {
			return fmt.Errorf("concurrent Update: %w", err)
		}
		after, err := tx.Count(ctx, "c")
		if err != nil {
			return err
		}
		got, err := tx.Get(ctx, "c", "1")
		if err != nil {
			return err
		}
		if before != 1 || after != 1 || string(got) != "a" {
			t.Errorf("inside one View: count %d then %d, doc %q; want 1, 1, \"a\" (a snapshot)", before, after, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "c"); got != 2 {
		t.Errorf("next View: count %d, want 2", got)
	}
}

func testWritersSerialised(t *testing.T, s store.Store) {
	// Read-modify-write from many goroutines: a lost update shows as a short total.
	const workers = 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			errs <- s.Update(ctx, func(tx store.Tx) error {
				n := 0
				if data, err := tx.Get(ctx, "counter", "c"); err == nil {
					fmt.Sscan(string(data), &n)
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				return tx.Put(ctx, "counter", "c", []byte(fmt.Sprint(n+1)))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if got, err := getDoc(t, s, "counter", "c"); err != nil || string(got) != fmt.Sprint(workers) {
		t.Errorf("counter = %q, %v; want %d", got, err, workers)
	}
}

// testMigrations: reopening applies nothing twice and keeps the data; a
// schema newer than this binary is refused. reopen opens the same database
// each time; exec runs raw SQL on it while no store has it open.
func testMigrations(t *testing.T, reopen func(t *testing.T) (store.Store, error), exec func(t *testing.T, query string) []int64) {
	s, err := reopen(t)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error { return tx.Put(ctx, "person", "p1", []byte("kept")) })
	s.Close()
	for range 2 {
		s, err = reopen(t)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if got, err := getDoc(t, s, "person", "p1"); err != nil || string(got) != "kept" {
			t.Errorf("after reopen Get = %q, %v", got, err)
		}
		s.Close()
	}
	versions := exec(t, "SELECT version FROM schema_version ORDER BY version")
	want := make([]int64, store.Migrations())
	for i := range want {
		want[i] = int64(i + 1)
	}
	if store.Migrations() < 1 || !slices.Equal(versions, want) {
		t.Errorf("schema_version rows = %v, want %v (each migration once)", versions, want)
	}

	exec(t, fmt.Sprintf("INSERT INTO schema_version (version) VALUES (%d)", store.Migrations()+1))
	s, err = reopen(t)
	if !errors.Is(err, store.ErrNewerSchema) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("opening a newer schema: %v, want ErrNewerSchema", err)
	}
	// Refusing changed nothing: the data and the version are as they were.
	if got := exec(t, "SELECT MAX(version) FROM schema_version"); len(got) != 1 || got[0] != int64(store.Migrations()+1) {
		t.Errorf("schema version after refusal = %v", got)
	}
	if got := exec(t, "SELECT COUNT(*) FROM docs"); len(got) != 1 || got[0] != 1 {
		t.Errorf("docs after refusal = %v", got)
	}
}

// testIndexRange pages through an index in (key, id) order both ways,
// byte-ordered on every engine.
func testIndexRange(t *testing.T, s store.Store) {
	entries := [][2]string{{"0003", "c"}, {"0001", "b"}, {"0002", "a"}, {"0002", "z"}, {"0010", "B"}}
	if err := s.Update(ctx, func(tx store.Tx) error {
		for _, e := range entries {
			if err := tx.AddIndex(ctx, "when", e[0], e[1]); err != nil {
				return err
			}
		}
		return tx.AddIndex(ctx, "other", "0000", "x")
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc          bool
		offset, limit int
		want          []string
	}{
		{false, 0, 0, []string{"b", "a", "z", "c", "B"}},
		{true, 0, 0, []string{"B", "c", "z", "a", "b"}},
		{true, 1, 2, []string{"c", "z"}},
		{false, 4, 10, []string{"B"}},
		{false, 5, 10, nil},
		{false, -3, 1, []string{"b"}},
	}
	for _, tt := range tests {
		var got []string
		if err := s.View(ctx, func(tx store.ReadTx) error {
			var err error
			got, err = tx.Range(ctx, "when", tt.desc, tt.offset, tt.limit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Range(desc=%v, offset=%d, limit=%d) = %q, want %q", tt.desc, tt.offset, tt.limit, got, tt.want)
		}
	}
}

func testLocalScan(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "a", "c"} {
			if err := tx.LocalPut(ctx, "peer", id, []byte("p"+id)); err != nil {
				return err
			}
		}
		if err := tx.LocalPut(ctx, "other", "z", []byte("x")); err != nil {
			return err
		}
		return tx.Put(ctx, "peer", "d", []byte("doc"))
	})
	var got []string
	view(t, s, func(tx store.ReadTx) error {
		return tx.LocalScan(ctx, "peer", func(id string, data []byte) error {
			got = append(got, id+"="+string(data))
			return nil
		})
	})
	if strings.Join(got, ",") != "a=pa,b=pb,c=pc" {
		t.Fatalf("LocalScan = %v, want a, b, c of kind peer only, in id order", got)
	}
}

func testDeleteEventsAfter(t *testing.T, s store.Store) {
	var prev []byte
	update(t, s, func(tx store.Tx) error {
		for seq := uint64(1); seq <= 5; seq++ {
			e := mkEvent("nx", seq, event.HLC(seq), `{}`, prev)
			prev = e.Hash
			if err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return tx.InsertEvent(ctx, mkEvent("ny", 1, 9, `{}`, nil))
	})
	update(t, s, func(tx store.Tx) error {
		n, err := tx.DeleteEventsAfter(ctx, "nx", 2)
		if err != nil || n != 3 {
			t.Errorf("DeleteEventsAfter = %d, %v; want 3", n, err)
		}
		return err
	})
	view(t, s, func(tx store.ReadTx) error {
		vec, err := tx.Vector(ctx)
		if err != nil || vec["nx"] != 2 || vec["ny"] != 1 {
			t.Errorf("vector after delete = %v, %v", vec, err)
		}
		return err
	})
}

// indexEntries are index entries whose byte order differs from a
// locale's: upper case before lower, accents after z, a shorter key first.
var indexEntries = [][3]string{
	{"surname", "nunez", "p2"}, {"surname", "Nunez", "p1"}, {"surname", "núñez", "p3"},
	{"given", "ana", "p1"}, {"surname", "nunez", "p1"}, {"surname", "nune", "p9"},
	{"Given", "zz", "p0"}, {"given", "ana", "P1"},
}

func testEachIndex(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		for _, e := range indexEntries {
			if err := tx.AddIndex(ctx, e[0], e[1], e[2]); err != nil {
				return err
			}
		}
		return tx.Put(ctx, "given", "ana", []byte("a document, not an index entry"))
	})
	var got []string
	view(t, s, func(tx store.ReadTx) error {
		return tx.EachIndex(ctx, func(name, key, id string) error {
			got = append(got, name+"|"+key+"|"+id)
			return nil
		})
	})
	want := []string{"Given|zz|p0", "given|ana|P1", "given|ana|p1",
		"surname|Nunez|p1", "surname|nune|p9", "surname|nunez|p1", "surname|nunez|p2", "surname|núñez|p3"}
	if !slices.Equal(got, want) {
		t.Errorf("EachIndex order = %q, want %q (byte order)", got, want)
	}
	view(t, s, func(tx store.ReadTx) error {
		calls := 0
		err := tx.EachIndex(ctx, func(name, key, id string) error {
			calls++
			return errBoom
		})
		if !errors.Is(err, errBoom) || calls != 1 {
			t.Errorf("EachIndex with failing fn: %v after %d calls", err, calls)
		}
		return nil
	})
}

// testClaim: a database is claimed once, by one node; a database holding
// events cannot be claimed; the claim is what Owner reads.
func testClaim(t *testing.T, s, withEvents store.Store) {
	view(t, s, func(tx store.ReadTx) error {
		if owner, err := store.Owner(ctx, tx); owner != "" || err != nil {
			t.Errorf("Owner of a new database = %q, %v; want none", owner, err)
		}
		return nil
	})
	if err := store.Claim(ctx, s, "node-a"); err != nil {
		t.Fatalf("Claim of an empty database: %v", err)
	}
	if err := store.Claim(ctx, s, "node-a"); err != nil {
		t.Errorf("Claim again by the same node: %v", err)
	}
	if err := store.Claim(ctx, s, "node-b"); !errors.Is(err, store.ErrHoldsNode) {
		t.Errorf("Claim by another node = %v, want ErrHoldsNode", err)
	}
	view(t, s, func(tx store.ReadTx) error {
		if owner, err := store.Owner(ctx, tx); owner != "node-a" || err != nil {
			t.Errorf("Owner = %q, %v; want node-a", owner, err)
		}
		return nil
	})

	update(t, withEvents, func(tx store.Tx) error { return tx.InsertEvent(ctx, mkEvent("nx", 1, 1, `{}`, nil)) })
	if err := store.Claim(ctx, withEvents, "node-a"); !errors.Is(err, store.ErrHoldsNode) {
		t.Errorf("Claim of a database with events = %v, want ErrHoldsNode", err)
	}
	view(t, withEvents, func(tx store.ReadTx) error {
		if owner, err := store.Owner(ctx, tx); owner != "" || err != nil {
			t.Errorf("a refused Claim recorded owner %q, %v", owner, err)
		}
		return nil
	})
}

// eraser is a store that can undo its creation.
type eraser interface {
	store.Store
	Erase(ctx context.Context, owner string) error
}

// testErase: Erase drops the schema of a database its owner claimed, or
// of one holding nothing; it leaves another node's database whole.
func testErase(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, s store.Store)
		erased  bool
		wantErr error
	}{
		{"claimed by this node", func(t *testing.T, s store.Store) {
			if err := store.Claim(ctx, s, "node-a"); err != nil {
				t.Fatal(err)
			}
			update(t, s, func(tx store.Tx) error { return tx.InsertEvent(ctx, mkEvent("node-a", 1, 1, `{}`, nil)) })
		}, true, nil},
		{"empty", func(t *testing.T, s store.Store) {}, true, nil},
		{"claimed by another node", func(t *testing.T, s store.Store) {
			if err := store.Claim(ctx, s, "node-b"); err != nil {
				t.Fatal(err)
			}
		}, false, store.ErrOtherNode},
		{"events and no claim", func(t *testing.T, s store.Store) {
			update(t, s, func(tx store.Tx) error { return tx.InsertEvent(ctx, mkEvent("nx", 1, 1, `{}`, nil)) })
		}, false, store.ErrOtherNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			e, ok := s.(eraser)
			if !ok {
				t.Fatalf("%T has no Erase", s)
			}
			tt.setup(t, s)
			update(t, s, func(tx store.Tx) error { return tx.Put(ctx, "person", "p1", []byte("x")) })
			err := e.Erase(ctx, "node-a")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Erase = %v, want %v", err, tt.wantErr)
			}
			// An erased database has no tables left to read.
			readErr := s.View(ctx, func(tx store.ReadTx) error {
				_, err := tx.Count(ctx, "person")
				return err
			})
			if erased := readErr != nil; erased != tt.erased {
				t.Errorf("after Erase reading fails = %v (%v), want %v", erased, readErr, tt.erased)
			}
		})
	}
}

// testEachIndexedJSON: the documents an index names under a key, decoded
// fresh each, in the index's order; an id with no document is skipped, and
// fn's error ends the walk.
func testEachIndexedJSON(t *testing.T, s store.Store) {
	type doc struct {
		N    int    `json:"n"`
		Note string `json:"note,omitempty"`
	}
	update(t, s, func(tx store.Tx) error {
		for id, d := range map[string]doc{"c": {N: 3}, "a": {N: 1, Note: "only a"}, "x": {N: 9}} {
			if err := store.PutJSON(ctx, tx, "thing", id, d); err != nil {
				return err
			}
		}
		for _, id := range []string{"c", "gone", "a"} {
			if err := tx.AddIndex(ctx, "tag", "red", id); err != nil {
				return err
			}
		}
		return tx.AddIndex(ctx, "tag", "blue", "x")
	})
	var got []string
	view(t, s, func(tx store.ReadTx) error {
		return store.EachIndexedJSON(ctx, tx, "tag", "red", "thing", func(id string, d *doc) error {
			got = append(got, fmt.Sprintf("%s=%d%s", id, d.N, d.Note))
			return nil
		})
	})
	if want := []string{"a=1only a", "c=3"}; !slices.Equal(got, want) {
		t.Errorf("red things = %q, want %q", got, want)
	}
	err := s.View(ctx, func(tx store.ReadTx) error {
		return store.EachIndexedJSON(ctx, tx, "tag", "red", "thing", func(string, *doc) error { return errBoom })
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("fn's error: got %v", err)
	}
}
