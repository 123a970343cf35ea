package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"caravana/internal/event"
	"caravana/internal/store"
)

// skewClock is a wall clock set ahead of the real one by a settable offset.
type skewClock struct{ ahead atomic.Int64 }

func (c *skewClock) set(d time.Duration) { c.ahead.Store(int64(d)) }
func (c *skewClock) now() time.Time      { return time.Now().Add(time.Duration(c.ahead.Load())) }

// useClock makes e's ledger read wall time from c. It must be called
// while nothing is being written (the writer reads the clock).
func (e *env) useClock(c *skewClock) {
	clock := event.NewClock(c.now)
	clock.Restore(e.l.clock.Now())
	e.l.clock = clock
}

// heldEnvs is a receiving node r (founder) and a sending node s enrolled
// by it, each with a clock the test moves.
type heldEnvs struct {
	r, s           *env
	rClock, sClock *skewClock
}

func newHeldEnvs(t *testing.T) *heldEnvs {
	t.Helper()
	h := &heldEnvs{r: newEnv(t), s: newEnv(t), rClock: &skewClock{}, sClock: &skewClock{}}
	h.r.useClock(h.rClock)
	h.s.useClock(h.sClock)
	if err := h.r.l.Genesis(ctx, "init", "receiver"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.l.Enrol(ctx, "init", NodeInfo{ID: h.s.keys.NodeID, Name: "sender", SigningKey: h.s.l.PublicKey()}); err != nil {
		t.Fatal(err)
	}
	return h
}

// write appends n tally events of 1 each on s.
func (h *heldEnvs) write(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, err := h.s.l.Append(ctx, "sam", []Draft{add("c", 1)}); err != nil {
			t.Fatal(err)
		}
	}
}

// sent is s's log from seq from (1-based) on.
func (h *heldEnvs) sent(t *testing.T, from uint64) []event.Event {
	t.Helper()
	return h.s.allEvents(t)[from-1:]
}

func (h *heldEnvs) importInto(t *testing.T, evs []event.Event) ImportResult {
	t.Helper()
	res, err := h.r.l.Import(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// heldDocs counts the held events stored on e.
func heldDocs(t *testing.T, e *env) int {
	t.Helper()
	n := 0
	err := e.st.View(ctx, func(tx store.ReadTx) error {
		return tx.LocalScan(ctx, localHeld, func(string, []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *heldEnvs) held(t *testing.T) []HeldRun {
	t.Helper()
	runs, err := h.r.l.Held(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// applied is how many of s's events r's log and projections hold.
func (h *heldEnvs) applied(t *testing.T) (logged uint64, tally int) {
	t.Helper()
	rep, err := h.r.l.Verify(ctx, true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep.Problems, err)
	}
	tally, _ = h.r.tally(t, "c")
	return rep.Nodes[h.s.keys.NodeID], tally
}

// clockBelow checks r's clock was not dragged forward: a new event on r
// is stamped before limit.
func (h *heldEnvs) clockBelow(t *testing.T, limit time.Time) {
	t.Helper()
	evs, err := h.r.l.Append(ctx, "ana", []Draft{add("r", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].HLC.Time(); !got.Before(limit) {
		t.Fatalf("r's clock was dragged forward: a new event is stamped %v, want before %v", got, limit)
	}
}

func auditActions(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	err := e.st.View(ctx, func(tx store.ReadTx) error {
		entries, err := tx.Audit(ctx, store.AuditFilter{Limit: 1000})
		for _, a := range entries {
			out = append(out, a.Action)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeldUntilItsTime: events of a node whose clock runs two hours ahead
// are held, not applied nor counted in the vector, and do not move the
// receiver's clock; a repeat delivery adds nothing to the hold; later
// events wait behind them; the hold survives a restart; once the
// receiver's clock catches up, the next import applies them in order.
func TestHeldUntilItsTime(t *testing.T) {
	h := newHeldEnvs(t)
	h.write(t, 2) // on time
	h.sClock.set(2 * time.Hour)
	h.write(t, 3) // seq 3..5, two hours ahead

	res := h.importInto(t, h.sent(t, 1))
	wantRej := []Rejection{{Node: h.s.keys.NodeID, Seq: 3, Count: 3, Reason: ReasonFuture}}
	if res.Applied != 2 || res.Held != 3 || fmt.Sprint(res.Rejected) != fmt.Sprint(wantRej) {
		t.Fatalf("import = %+v, want 2 applied, 3 held: %v", res, wantRej)
	}
	if logged, tally := h.applied(t); logged != 2 || tally != 2 {
		t.Fatalf("after the import r holds %d of s's events, tally %d; want 2, 2", logged, tally)
	}
	if vec, err := h.r.l.Vector(ctx); err != nil || vec[h.s.keys.NodeID] != 2 {
		t.Fatalf("vector %v %v: held events must not count", vec, err)
	}
	h.clockBelow(t, time.Now().Add(event.MaxDrift))
	runs := h.held(t)
	if len(runs) != 1 || runs[0].Node != h.s.keys.NodeID || runs[0].First != 3 || runs[0].Count != 3 ||
		runs[0].Ahead() < 115*time.Minute || runs[0].Ahead() > 125*time.Minute {
		t.Fatalf("Held = %+v", runs)
	}

	// Again, whole and in part: nothing more is held, nothing applied.
	for _, tc := range []struct {
		from     uint64
		wantHeld int
	}{{1, 3}, {3, 3}, {4, 2}} {
		from := tc.from
		res := h.importInto(t, h.sent(t, from))
		if res.Applied != 0 || res.Held != tc.wantHeld {
			t.Fatalf("repeat delivery from seq %d: %+v, want %d held", from, res, tc.wantHeld)
		}
		if n := heldDocs(t, h.r); n != 3 {
			t.Fatalf("after a repeat delivery from seq %d, %d events held; want 3", from, n)
		}
	}

	// A later event, on time by s's clock, waits behind the held ones.
	h.write(t, 1)
	if res := h.importInto(t, h.sent(t, 6)); res.Held != 1 || res.Applied != 0 {
		t.Fatalf("an event after held ones: %+v", res)
	}

	// The hold survives a restart, and the clock is not dragged by it.
	h.r.reopen(t)
	h.r.useClock(h.rClock)
	if runs := h.held(t); len(runs) != 1 || runs[0].Count != 4 {
		t.Fatalf("Held after reopening = %+v", runs)
	}
	h.clockBelow(t, time.Now().Add(event.MaxDrift))

	// An hour later, still held; two hours later, applied by the next import.
	h.rClock.set(time.Hour)
	if res := h.importInto(t, nil); res.Applied != 0 || len(h.held(t)) != 1 {
		t.Fatalf("an hour later: %+v, held %v", res, h.held(t))
	}
	h.rClock.set(2*time.Hour + time.Minute)
	if res := h.importInto(t, nil); res.Applied != 4 || res.Held != 0 || len(res.Rejected) != 0 {
		t.Fatalf("when their time came: %+v", res)
	}
	if logged, tally := h.applied(t); logged != 6 || tally != 6 {
		t.Fatalf("after release r holds %d of s's events, tally %d; want 6, 6", logged, tally)
	}
	if runs, n := h.held(t), heldDocs(t, h.r); len(runs) != 0 || n != 0 {
		t.Fatalf("after release still held: %+v (%d docs)", runs, n)
	}
	// Now known, like any event in the log.
	if res := h.importInto(t, h.sent(t, 1)); res.Known != 6 || res.Applied != 0 || res.Held != 0 {
		t.Fatalf("delivery after release: %+v", res)
	}
}

// TestReleaseAndDiscard: a coordinator applies held events at once,
// without the clock following them, or drops them (audited); a dropped
// run is held again when it comes again.
func TestReleaseAndDiscard(t *testing.T) {
	t.Run("release", func(t *testing.T) {
		h := newHeldEnvs(t)
		h.sClock.set(2 * time.Hour)
		h.write(t, 3)
		if res := h.importInto(t, h.sent(t, 1)); res.Held != 3 {
			t.Fatalf("import: %+v", res)
		}
		res, err := h.r.l.Release(ctx, "carmen", h.s.keys.NodeID)
		if err != nil || res.Applied != 3 || len(res.Rejected) != 0 {
			t.Fatalf("Release = %+v, %v", res, err)
		}
		if logged, tally := h.applied(t); logged != 3 || tally != 3 {
			t.Fatalf("after Release r holds %d of s's events, tally %d", logged, tally)
		}
		if runs := h.held(t); len(runs) != 0 {
			t.Fatalf("still held: %+v", runs)
		}
		h.clockBelow(t, time.Now().Add(event.MaxDrift))
		if acts := strings.Join(auditActions(t, h.r), " "); !strings.Contains(acts, "sync.release") {
			t.Fatalf("audit %q lacks sync.release", acts)
		}
		if _, err := h.r.l.Release(ctx, "carmen", h.s.keys.NodeID); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("Release with nothing held: %v", err)
		}
		// s's clock is still wrong: what it writes next is held again.
		h.write(t, 1)
		if res := h.importInto(t, h.sent(t, 1)); res.Known != 3 || res.Held != 1 {
			t.Fatalf("after release, a new future event: %+v", res)
		}
	})
	t.Run("discard", func(t *testing.T) {
		h := newHeldEnvs(t)
		h.sClock.set(2 * time.Hour)
		h.write(t, 3)
		h.importInto(t, h.sent(t, 1))
		before := stateHash(t, h.r.st)
		n, err := h.r.l.Discard(ctx, "carmen", h.s.keys.NodeID)
		if err != nil || n != 3 {
			t.Fatalf("Discard = %d, %v", n, err)
		}
		if runs, docs := h.held(t), heldDocs(t, h.r); len(runs) != 0 || docs != 0 {
			t.Fatalf("after Discard still held: %+v (%d docs)", runs, docs)
		}
		if after := stateHash(t, h.r.st); after != before {
			t.Fatal("Discard changed the state")
		}
		if acts := strings.Join(auditActions(t, h.r), " "); !strings.Contains(acts, "sync.discard") {
			t.Fatalf("audit %q lacks sync.discard", acts)
		}
		if _, err := h.r.l.Discard(ctx, "carmen", h.s.keys.NodeID); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("Discard with nothing held: %v", err)
		}
		if res := h.importInto(t, h.sent(t, 1)); res.Held != 3 || res.Applied != 0 {
			t.Fatalf("discarded events delivered again: %+v", res)
		}
	})
}

// TestHoldRefusesJunk: what is held was verified first; a forged or
// forked event is refused, not held, and leaves the hold as it was.
func TestHoldRefusesJunk(t *testing.T) {
	h := newHeldEnvs(t)
	h.sClock.set(2 * time.Hour)
	h.write(t, 3)
	evs := h.sent(t, 1)

	forged := append([]event.Event(nil), evs...)
	forged[2].Body = json.RawMessage(`{"n":1000}`)
	forged[2].Seal(h.r.keys.Signing) // the wrong key
	if res := h.importInto(t, forged); res.Held != 0 || len(res.Rejected) != 1 || !strings.HasPrefix(res.Rejected[0].Reason, ReasonBadChain) {
		t.Fatalf("a forged run: %+v", res)
	}
	if n := heldDocs(t, h.r); n != 0 {
		t.Fatalf("a forged run filled the hold: %d", n)
	}

	h.importInto(t, evs)
	fork := evs[1]
	fork.Body = json.RawMessage(`{"n":7}`)
	fork.Seal(h.s.keys.Signing) // s signs another seq 2
	res := h.importInto(t, []event.Event{evs[0], fork})
	want := []Rejection{{Node: h.s.keys.NodeID, Seq: 1, Count: 1, Reason: ReasonFuture}, {Node: h.s.keys.NodeID, Seq: 2, Count: 1, Reason: ReasonForked}}
	if fmt.Sprint(res.Rejected) != fmt.Sprint(want) {
		t.Fatalf("a fork of a held event: %+v, want %v", res, want)
	}
	if runs := h.held(t); len(runs) != 1 || runs[0].Count != 3 {
		t.Fatalf("the hold after a fork: %+v", runs)
	}
	// Events that do not follow the held run wait, and are not held.
	h.write(t, 2)
	if res := h.importInto(t, h.sent(t, 5)); res.Held != 0 || len(res.Rejected) != 1 || res.Rejected[0].Reason != ReasonGap {
		t.Fatalf("after a gap: %+v", res)
	}
}

// TestHeldOfRevokedNode: held events a node signed after its revocation
// cut are dropped, never applied.
func TestHeldOfRevokedNode(t *testing.T) {
	h := newHeldEnvs(t)
	h.write(t, 1)
	h.sClock.set(2 * time.Hour)
	h.write(t, 2)
	h.importInto(t, h.sent(t, 1))
	if _, err := h.r.l.Revoke(ctx, "carmen", h.s.keys.NodeID); err != nil {
		t.Fatal(err)
	}
	h.importInto(t, nil)
	if runs, n := h.held(t), heldDocs(t, h.r); len(runs) != 0 || n != 0 {
		t.Fatalf("a revoked node's events after its cut are still held: %+v (%d)", runs, n)
	}
	h.rClock.set(3 * time.Hour)
	if res := h.importInto(t, h.sent(t, 1)); res.Applied != 0 || res.Held != 0 {
		t.Fatalf("a revoked node's events after its cut: %+v", res)
	}
}

var errFeed = errors.New("feed: the file went away")

// TestImportBatchesAllOrNothing: batches applied by ImportBatches are one
// transaction: an error on the third batch leaves the node exactly as it
// was — events, projections, hold and audit — and the same batches
// without the error apply whole.
func TestImportBatchesAllOrNothing(t *testing.T) {
	h := newHeldEnvs(t)
	h.write(t, 25)
	h.sClock.set(2 * time.Hour)
	h.write(t, 5) // seq 26..30: held
	evs := h.sent(t, 1)
	// The third batch fails after two were applied, the second with events
	// held: all of it must go.
	batches := [][]event.Event{evs[:10], evs[10:], evs[:5]}
	feed := func(failAt int) func(apply func([]event.Event) (ImportResult, error)) error {
		return func(apply func([]event.Event) (ImportResult, error)) error {
			for i, b := range batches {
				if i == failAt {
					return errFeed
				}
				if _, err := apply(b); err != nil {
					return err
				}
			}
			return nil
		}
	}
	before := stateHash(t, h.r.st)
	count := func() int {
		var n int
		h.r.st.View(ctx, func(tx store.ReadTx) error {
			var err error
			n, err = tx.CountEvents(ctx)
			return err
		})
		return n
	}
	beforeCount, beforeAudit := count(), len(auditActions(t, h.r))
	if _, err := h.r.l.ImportBatches(ctx, feed(2)); !errors.Is(err, errFeed) {
		t.Fatalf("ImportBatches with a failing feed: %v", err)
	}
	if got := stateHash(t, h.r.st); got != before {
		t.Fatal("a failed ImportBatches changed the state")
	}
	if got := count(); got != beforeCount {
		t.Fatalf("a failed ImportBatches left %d events, want %d", got, beforeCount)
	}
	if n, a := heldDocs(t, h.r), len(auditActions(t, h.r)); n != 0 || a != beforeAudit {
		t.Fatalf("a failed ImportBatches left %d held events, %d audit entries (want 0, %d)", n, a, beforeAudit)
	}

	res, err := h.r.l.ImportBatches(ctx, feed(-1))
	if err != nil || res.Applied != 25 || res.Held != 5 || res.Known != 5 {
		t.Fatalf("ImportBatches = %+v, %v", res, err)
	}
	if logged, tally := h.applied(t); logged != 25 || tally != 25 {
		t.Fatalf("after ImportBatches r holds %d of s's events, tally %d", logged, tally)
	}
	imports := 0
	for _, a := range auditActions(t, h.r) {
		if a == "sync.import" {
			imports++
		}
	}
	if imports != 1 {
		t.Fatalf("ImportBatches wrote %d import audit entries, want 1", imports)
	}
	// A batch above the bound is refused and undoes the rest.
	big := make([]event.Event, maxImport+1)
	_, err = h.r.l.ImportBatches(ctx, func(apply func([]event.Event) (ImportResult, error)) error {
		_, err := apply(big)
		return err
	})
	if err == nil {
		t.Fatal("a batch above maxImport was accepted")
	}
}
