package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/store"
	"caravana/internal/store/sqlite"
)

var ctx = context.Background()

// testKDF is cheap on purpose; production parameters are tested in crypto.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

// countingStore counts write transactions and can hold the next one back.
type countingStore struct {
	store.Store
	updates atomic.Int64

	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Add(1)
	c.mu.Lock()
	gate, entered := c.gate, c.entered
	c.gate, c.entered = nil, nil
	c.mu.Unlock()
	if gate != nil {
		close(entered)
		<-gate
	}
	return c.Store.Update(ctx, fn)
}

// holdNext makes the next Update wait until release is called; entered is
// closed once that Update has started waiting.
func (c *countingStore) holdNext() (entered <-chan struct{}, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gate, c.entered = make(chan struct{}), make(chan struct{})
	gate := c.gate
	return c.entered, func() { close(gate) }
}

// The test projection: "tally" sums deltas per subject (order-independent),
// refusing bodies marked fail; "lww" keeps the last writer by (HLC, node, seq).
type tallyBody struct {
	N    int  `json:"n"`
	Fail bool `json:"fail,omitempty"`
}

var errRefused = errors.New("tally: refused")

func applyTally(ctx context.Context, tx store.Tx, e *event.Event) error {
	var b tallyBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return err
	}
	if b.Fail {
		return errRefused
	}
	total := 0
	if data, err := tx.Get(ctx, "tally", e.Subject); err == nil {
		if err := json.Unmarshal(data, &total); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	data, _ := json.Marshal(total + b.N)
	if err := tx.Put(ctx, "tally", e.Subject, data); err != nil {
		return err
	}
	return tx.AddIndex(ctx, "tally-event", e.Subject, e.ID())
}

type lwwDoc struct {
	HLC   event.HLC `json:"hlc"`
	Node  string    `json:"node"`
	Seq   uint64    `json:"seq"`
	Value string    `json:"value"`
}

func applyLWW(ctx context.Context, tx store.Tx, e *event.Event) error {
	var v string
	if err := json.Unmarshal(e.Body, &v); err != nil {
		return err
	}
	if data, err := tx.Get(ctx, "lww", e.Subject); err == nil {
		var cur lwwDoc
		if err := json.Unmarshal(data, &cur); err != nil {
			return err
		}
		if !(&event.Event{HLC: cur.HLC, Node: cur.Node, Seq: cur.Seq}).Before(e) {
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	data, _ := json.Marshal(lwwDoc{HLC: e.HLC, Node: e.Node, Seq: e.Seq, Value: v})
	return tx.Put(ctx, "lww", e.Subject, data)
}

func testProjector() *Projector {
	p := NewProjector()
	Register(p)
	p.Handle("tally", applyTally)
	p.Handle("lww", applyLWW)
	return p
}

// env is a ledger on a real encrypted SQLite file.
type env struct {
	dir  string
	keys *crypto.Keys
	st   *countingStore
	l    *Ledger
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	keys, err := crypto.Create(dir, "correct horse battery staple", testKDF)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, keys: keys}
	e.open(t, true)
	t.Cleanup(e.close)
	return e
}

func (e *env) dbPath() string { return filepath.Join(e.dir, sqlite.FileName) }

func (e *env) open(t testing.TB, create bool) {
	t.Helper()
	s, err := sqlite.Open(ctx, e.dbPath(), crypto.DatabaseKeyHex(e.keys), create)
	if err != nil {
		t.Fatal(err)
	}
	e.st = &countingStore{Store: s}
	e.l, err = Open(ctx, e.st, e.keys, testProjector(), nil)
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) close() {
	if e.l != nil {
		e.l.Close()
		e.st.Close()
		e.l = nil
	}
}

func (e *env) reopen(t testing.TB) {
	t.Helper()
	e.close()
	e.open(t, false)
}

func add(subject string, n int) Draft {
	return Draft{Kind: "tally.add", Subject: subject, Body: tallyBody{N: n}}
}

func refused(subject string) Draft {
	return Draft{Kind: "tally.add", Subject: subject, Body: tallyBody{N: 1000, Fail: true}}
}

// allEvents reads this node's whole chain from the store.
func (e *env) allEvents(t testing.TB) []event.Event {
	t.Helper()
	var out []event.Event
	err := e.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = tx.Events(ctx, e.keys.NodeID, 0, 1_000_000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) tally(t testing.TB, subject string) (int, bool) {
	t.Helper()
	var total int
	var found bool
	err := e.st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.Get(ctx, "tally", subject)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(data, &total)
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, found
}

// checkChain asserts the stored log is seq 1..want, linked, hashed and signed.
func (e *env) checkChain(t testing.TB, want int) []event.Event {
	t.Helper()
	evs := e.allEvents(t)
	if len(evs) != want {
		t.Fatalf("stored events = %d, want %d", len(evs), want)
	}
	var prev []byte
	var lastHLC event.HLC
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: not gap-free", i, ev.Seq)
		}
		if !bytes.Equal(ev.Prev, prev) {
			t.Fatalf("seq %d: prev does not link to seq %d", ev.Seq, ev.Seq-1)
		}
		if err := ev.CheckHash(); err != nil {
			t.Fatal(err)
		}
		if err := ev.CheckSig(e.l.PublicKey()); err != nil {
			t.Fatal(err)
		}
		if ev.Node != e.keys.NodeID {
			t.Fatalf("seq %d: node %q, want %q", ev.Seq, ev.Node, e.keys.NodeID)
		}
		if ev.HLC <= lastHLC {
			t.Fatalf("seq %d: HLC %v not after %v", ev.Seq, ev.HLC, lastHLC)
		}
		prev, lastHLC = ev.Hash, ev.HLC
	}
	return evs
}

func TestAppendSequencesChainsSigns(t *testing.T) {
	e := newEnv(t)
	var got []event.Event
	for i := range 3 {
		evs, err := e.l.Append(ctx, "ana", []Draft{add("c1", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, evs...)
	}
	evs, err := e.l.Append(ctx, "ben", []Draft{add("c1", 10), add("c2", 5), add("c1", 100)},
		store.AuditEntry{Actor: "ben", Action: "person.read", Record: "person/1", Detail: "why"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("a 3-draft Append returned %d events", len(evs))
	}
	got = append(got, evs...)

	stored := e.checkChain(t, 6)
	for i := range stored {
		if got[i].ID() != stored[i].ID() || !bytes.Equal(got[i].Hash, stored[i].Hash) {
			t.Errorf("returned event %d (%s) differs from the stored one (%s)", i, got[i].ID(), stored[i].ID())
		}
	}
	if stored[0].Prev != nil {
		t.Errorf("seq 1 has prev %x", stored[0].Prev)
	}
	if stored[0].Actor != "ana" || stored[4].Actor != "ben" || stored[4].Subject != "c2" || stored[4].Kind != "tally.add" {
		t.Errorf("stored fields: %+v / %+v", stored[0], stored[4])
	}
	if n, _ := e.tally(t, "c1"); n != 1+2+3+10+100 {
		t.Errorf("tally c1 = %d", n)
	}
	if n, _ := e.tally(t, "c2"); n != 5 {
		t.Errorf("tally c2 = %d", n)
	}
	// One audit line per event plus the request's own, in the same commits.
	var audit []store.AuditEntry
	e.st.View(ctx, func(tx store.ReadTx) error {
		audit, err = tx.Audit(ctx, store.AuditFilter{})
		return err
	})
	if len(audit) != 7 {
		t.Fatalf("audit has %d entries, want 7", len(audit))
	}
	if a := audit[0]; a.Action != "person.read" || a.Actor != "ben" || a.Record != "person/1" || a.At == 0 {
		t.Errorf("request audit entry = %+v", a)
	}
	if a := audit[1]; a.Detail != stored[5].ID() || a.Action != "tally.add" || a.Record != "c1" {
		t.Errorf("event audit entry = %+v, want detail %s", a, stored[5].ID())
	}
	// Audit-only requests write no event.
	if err := e.l.Audit(ctx, store.AuditEntry{Actor: "ana", Action: "person.read", Record: "person/9"}); err != nil {
		t.Fatal(err)
	}
	e.checkChain(t, 6)
}

func TestAppendRefusedRequestLeavesNothing(t *testing.T) {
	e := newEnv(t)
	if _, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)}); err != nil {
		t.Fatal(err)
	}
	// Alone in its commit: the whole request fails, including the drafts before the bad one.
	_, err := e.l.Append(ctx, "ana", []Draft{add("c", 10), refused("c"), add("c", 20)})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Append with a refused draft = %v, want errRefused", err)
	}
	e.checkChain(t, 1)
	if n, _ := e.tally(t, "c"); n != 1 {
		t.Errorf("tally = %d after a refused request, want 1", n)
	}
	// A draft that cannot be encoded is refused the same way.
	if _, err := e.l.Append(ctx, "ana", []Draft{{Kind: "tally.add", Subject: "c", Body: make(chan int)}}); err == nil {
		t.Error("Append of an unencodable body succeeded")
	}
	// An already cancelled request is refused.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.l.Append(cctx, "ana", []Draft{add("c", 5)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Append = %v", err)
	}
	// The next request takes the next sequence number: no gap.
	evs, err := e.l.Append(ctx, "ana", []Draft{add("c", 2)})
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("Append after refusals = %+v, %v; want seq 2", evs, err)
	}
	e.checkChain(t, 2)
}

// waitQueued waits until n requests sit in the ledger's queue.
func waitQueued(t *testing.T, l *Ledger, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(l.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, waiting for %d", len(l.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	evs []event.Event
	err error
}

func TestGroupCommitRefusesOneRequestAlone(t *testing.T) {
	e := newEnv(t)
	entered, release := e.st.holdNext()
	first := make(chan result, 1)
	go func() {
		evs, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
		first <- result{evs, err}
	}()
	<-entered // the writer is busy: what follows queues up as one batch

	const n, bad = 10, 4
	results := make([]chan result, n)
	for i := range n {
		results[i] = make(chan result, 1)
		drafts := []Draft{add("c", 10), add(fmt.Sprintf("own-%d", i), 1)}
		if i == bad {
			drafts = []Draft{add("bad", 1), refused("bad"), add("c", 1000)}
		}
		go func() {
			evs, err := e.l.Append(ctx, "ana", drafts)
			results[i] <- result{evs, err}
		}()
		waitQueued(t, e.l, i+1) // keep the queue in order
	}
	before := e.st.updates.Load()
	release()
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	var seqs []uint64
	for i := range n {
		r := <-results[i]
		if i == bad {
			if !errors.Is(r.err, errRefused) || r.evs != nil {
				t.Errorf("refused request: %v, %d events", r.err, len(r.evs))
			}
			continue
		}
		if r.err != nil || len(r.evs) != 2 {
			t.Errorf("request %d: %v, %d events", i, r.err, len(r.evs))
			continue
		}
		for _, ev := range r.evs {
			seqs = append(seqs, ev.Seq)
		}
	}
	if commits := e.st.updates.Load() - before; commits != 1 {
		t.Errorf("the %d queued requests took %d commits, want 1 (one group)", n, commits)
	}
	// Sequence numbers run on across the refused request: 2..19, no gap.
	want := make([]uint64, 0, 2*(n-1))
	for s := uint64(2); s <= uint64(1+2*(n-1)); s++ {
		want = append(want, s)
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, want) {
		t.Errorf("seqs = %v, want %v", seqs, want)
	}
	stored := e.checkChain(t, 1+2*(n-1))
	for _, ev := range stored {
		if ev.Subject == "bad" || bytes.Contains(ev.Body, []byte("fail")) {
			t.Errorf("the refused request left event %s", ev.ID())
		}
	}
	if n, found := e.tally(t, "bad"); found {
		t.Errorf("the refused request left a doc (tally %d)", n)
	}
	if total, _ := e.tally(t, "c"); total != 1+10*(n-1) {
		t.Errorf("tally c = %d, want %d", total, 1+10*(n-1))
	}
	var audit []store.AuditEntry
	e.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		audit, err = tx.Audit(ctx, store.AuditFilter{Record: "bad"})
		return err
	})
	if len(audit) != 0 {
		t.Errorf("the refused request left %d audit entries", len(audit))
	}
	if rep, err := e.l.Verify(ctx, true); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	e := newEnv(t)
	const n = 200
	start := make(chan struct{})
	errs := make(chan error, n)
	seqs := make(chan uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			evs, err := e.l.Append(ctx, fmt.Sprintf("user-%d", i), []Draft{add("c", 1)})
			if err == nil && len(evs) != 1 {
				err = fmt.Errorf("%d events", len(evs))
			}
			errs <- err
			if err == nil {
				seqs <- evs[0].Seq
			}
		})
	}
	before := e.st.updates.Load()
	close(start)
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		if err != nil {
			t.Errorf("Append: %v", err)
		}
	}
	var got []int
	for s := range seqs {
		got = append(got, int(s))
	}
	sort.Ints(got)
	for i, s := range got {
		if s != i+1 {
			t.Fatalf("seqs not distinct and gap-free: %v", got)
		}
	}
	commits := e.st.updates.Load() - before
	t.Logf("%d concurrent Appends took %d commits", n, commits)
	if commits >= n {
		t.Errorf("%d requests took %d commits: no group commit", n, commits)
	}
	e.checkChain(t, n)
	if total, _ := e.tally(t, "c"); total != n {
		t.Errorf("tally = %d, want %d", total, n)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	e := newEnv(t)
	entered, release := e.st.holdNext()
	const n = 20
	results := make(chan error, n+1)
	go func() {
		_, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
		results <- err
	}()
	<-entered
	for range n {
		go func() {
			_, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
			results <- err
		}()
	}
	waitQueued(t, e.l, n)
	closed := make(chan struct{})
	go func() {
		e.l.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a commit was still running")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for range n + 1 {
		if err := <-results; err != nil {
			t.Errorf("a request queued before Close: %v", err)
		}
	}
	e.checkChain(t, n+1)

	// After Close, Append refuses at once, every time.
	for i := range 200 {
		done := make(chan error, 1)
		go func() {
			_, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Append %d after Close = %v, want ErrClosed", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Append %d after Close hung", i)
		}
	}
	e.l.Close() // twice is fine
	e.checkChain(t, n+1)
}

// TestAppendRacingClose: requests racing Close either fail with ErrClosed or are
// committed; none hangs, and every acknowledged one is in the log.
func TestAppendRacingClose(t *testing.T) {
	for round := range 5 {
		e := newEnv(t)
		var acked atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 50 {
			wg.Go(func() {
				for {
					_, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Append: %v", err)
						return
					}
					acked.Add(1)
					select {
					case <-stop:
						return
					default:
					}
				}
			})
		}
		time.Sleep(time.Duration(5+round*10) * time.Millisecond)
		e.l.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			close(stop)
			t.Fatalf("round %d: Appends racing Close hung", round)
		}
		if got := len(e.allEvents(t)); int64(got) != acked.Load() {
			t.Errorf("round %d: %d events stored, %d acknowledged", round, got, acked.Load())
		}
	}
}

func TestClockRestoredAfterReopen(t *testing.T) {
	e := newEnv(t)
	if err := e.l.Genesis(ctx, "init", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)}); err != nil {
		t.Fatal(err)
	}
	// Our own last event stamped an hour ahead (the wall clock has since been
	// set back), and another node's two hours ahead.
	ownFuture := event.MakeHLC(time.Now().Add(time.Hour).UnixMilli(), 0)
	otherFuture := event.MakeHLC(time.Now().Add(2*time.Hour).UnixMilli(), 0)
	err := e.st.Update(ctx, func(tx store.Tx) error {
		head, err := tx.Head(ctx, e.keys.NodeID)
		if err != nil {
			return err
		}
		own := event.Event{Node: e.keys.NodeID, Seq: head.Seq + 1, HLC: ownFuture, Actor: "ana", Kind: "tally.add",
			Subject: "c", Body: json.RawMessage(`{"n":1}`), Prev: head.Hash}
		own.Seal(e.keys.Signing)
		if err := tx.InsertEvent(ctx, &own); err != nil {
			return err
		}
		other := event.Event{Node: "0000000000000000", Seq: 1, HLC: otherFuture, Kind: "tally.add", Subject: "c",
			Body: json.RawMessage(`{"n":1}`)}
		other.Seal(e.keys.Signing)
		return tx.InsertEvent(ctx, &other)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	evs, err := e.l.Append(ctx, "ana", []Draft{add("c", 1)})
	if err != nil {
		t.Fatal(err)
	}
	// Our own past is never re-issued; another node's far-future stamp does
	// not drag the clock along (S14).
	if h := evs[0].HLC; h <= ownFuture || h >= otherFuture {
		t.Errorf("after reopen the new event has HLC %v, want after our own %v and before the other node's %v", h, ownFuture, otherFuture)
	}
	if evs[0].Seq != 4 {
		t.Errorf("seq after reopen = %d, want 4", evs[0].Seq)
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	e := newEnv(b)
	b.SetParallelism(100) // many clients per core, as a busy node has
	var seq atomic.Int64
	b.ResetTimer()
	start := time.Now()
	before := e.st.updates.Load()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			subject := fmt.Sprintf("person/%d", seq.Add(1)%1000)
			if _, err := e.l.Append(ctx, "bench", []Draft{add(subject, 1)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	commits := e.st.updates.Load() - before
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if commits > 0 {
		b.ReportMetric(float64(b.N)/float64(commits), "events/commit")
	}
}
