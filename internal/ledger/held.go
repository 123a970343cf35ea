package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"caravana/internal/event"
	"caravana/internal/store"
)

// S14: clocks lie. An event from another node stamped more than
// event.MaxDrift ahead of this node's clock is not applied: it would win
// every last-writer-wins field for as long as its clock is ahead, and
// would drag the clock of every node that applied it. It and every later
// event of its node (which chain to it) are kept here instead — verified
// like any import, so nothing unsigned can fill the hold — in local
// documents that survive restarts and never travel by sync:
//
//	kind "held",     id node/seq (seq zero-padded): one held event
//	kind "held-run", id node: where that node's held run starts and ends
//
// A node's held events are one contiguous run that starts right after the
// last of its events in the log. They are applied when their time is no
// longer far ahead (at the start of the next import), or at once when a
// coordinator releases them; a coordinator may also discard them. The
// version vector does not count them, so peers offer them again, and
// a repeat delivery finds them already held.

const (
	localHeld    = "held"
	localHeldRun = "held-run"
)

// ErrNotHeld means no events of that node are held for review.
var ErrNotHeld = errors.New("no events of that node are held for review")

// holdRun is the summary of one node's held run (kind "held-run").
type holdRun struct {
	Node     string    `json:"node"`
	First    uint64    `json:"first"`
	Last     uint64    `json:"last"`
	Tail     []byte    `json:"tail"` // hash of the last held event: what the next one links to
	FirstHLC event.HLC `json:"first_hlc"`
	Newest   event.HLC `json:"newest"`
}

func (h holdRun) count() int { return int(h.Last - h.First + 1) }

func heldID(node string, seq uint64) string { return fmt.Sprintf("%s/%020d", node, seq) }

// HeldRun describes one node's events held for review.
type HeldRun struct {
	Node  string `json:"node"`
	First uint64 `json:"first"` // sequence number of the first held event
	Count int    `json:"count"`
	// Newest is the newest held timestamp, Stamped its wall-clock time,
	// AheadSeconds how far that is ahead of this node's clock.
	Newest       event.HLC `json:"newest"`
	Stamped      time.Time `json:"stamped"`
	AheadSeconds int64     `json:"ahead_seconds"`
	// Due is when the first held event stops being far in the future: the
	// first import after it applies the events whose time has come.
	Due time.Time `json:"due"`
}

// Ahead is how far the newest held event is ahead of this node's clock.
func (h HeldRun) Ahead() time.Duration { return time.Duration(h.AheadSeconds) * time.Second }

func readHold(ctx context.Context, tx store.ReadTx, node string) (holdRun, bool, error) {
	data, err := tx.LocalGet(ctx, localHeldRun, node)
	if errors.Is(err, store.ErrNotFound) {
		return holdRun{}, false, nil
	}
	if err != nil {
		return holdRun{}, false, fmt.Errorf("read held run of %s: %w", node, err)
	}
	var h holdRun
	if err := json.Unmarshal(data, &h); err != nil {
		return holdRun{}, false, fmt.Errorf("read held run of %s: %w", node, err)
	}
	return h, true, nil
}

func allHolds(ctx context.Context, tx store.ReadTx) ([]holdRun, error) {
	var out []holdRun
	err := tx.LocalScan(ctx, localHeldRun, func(id string, data []byte) error {
		var h holdRun
		if err := json.Unmarshal(data, &h); err != nil {
			return fmt.Errorf("read held run of %s: %w", id, err)
		}
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list held events: %w", err)
	}
	return out, nil
}

func getHeld(ctx context.Context, tx store.ReadTx, node string, seq uint64) (event.Event, error) {
	var e event.Event
	data, err := tx.LocalGet(ctx, localHeld, heldID(node, seq))
	if err != nil {
		return e, fmt.Errorf("read held event %s/%d: %w", node, seq, err)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("read held event %s/%d: %w", node, seq, err)
	}
	return e, nil
}

// addHeld appends verified events (contiguous, after h's tail if h is
// not nil) to their node's hold. Writing an event already held rewrites
// the same bytes, so a repeat delivery adds nothing.
func addHeld(ctx context.Context, tx store.Tx, h *holdRun, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	run := holdRun{Node: evs[0].Node, First: evs[0].Seq, FirstHLC: evs[0].HLC}
	if h != nil {
		run = *h
	}
	for i := range evs {
		e := &evs[i]
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("hold %s: %w", e.ID(), err)
		}
		if err := tx.LocalPut(ctx, localHeld, heldID(e.Node, e.Seq), data); err != nil {
			return fmt.Errorf("hold %s: %w", e.ID(), err)
		}
		run.Last, run.Tail, run.Newest = e.Seq, e.Hash, max(run.Newest, e.HLC)
	}
	return writeHold(ctx, tx, run)
}

func writeHold(ctx context.Context, tx store.Tx, h holdRun) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := tx.LocalPut(ctx, localHeldRun, h.Node, data); err != nil {
		return fmt.Errorf("write held run of %s: %w", h.Node, err)
	}
	return nil
}

// dropHeld removes h's events from seq from on (all of them when from <=
// h.First), and returns how many it removed.
func dropHeld(ctx context.Context, tx store.Tx, h holdRun, from uint64) (int, error) {
	from = max(from, h.First)
	if from > h.Last {
		return 0, nil
	}
	for seq := from; seq <= h.Last; seq++ {
		if err := tx.LocalDelete(ctx, localHeld, heldID(h.Node, seq)); err != nil {
			return 0, fmt.Errorf("drop held event %s/%d: %w", h.Node, seq, err)
		}
	}
	n := int(h.Last - from + 1)
	if from == h.First {
		if err := tx.LocalDelete(ctx, localHeldRun, h.Node); err != nil {
			return 0, fmt.Errorf("drop held run of %s: %w", h.Node, err)
		}
		return n, nil
	}
	last, err := getHeld(ctx, tx, h.Node, from-1)
	if err != nil {
		return 0, err
	}
	h.Last, h.Tail, h.Newest = last.Seq, last.Hash, 0
	for seq := h.First; seq <= h.Last; seq++ {
		e, err := getHeld(ctx, tx, h.Node, seq)
		if err != nil {
			return 0, err
		}
		h.Newest = max(h.Newest, e.HLC)
	}
	return n, writeHold(ctx, tx, h)
}

// takeHeld removes h's first events, up to and including seq upTo, from
// the hold (they are about to be applied).
func takeHeld(ctx context.Context, tx store.Tx, h holdRun, upTo uint64) error {
	if upTo >= h.Last {
		_, err := dropHeld(ctx, tx, h, h.First)
		return err
	}
	for seq := h.First; seq <= upTo; seq++ {
		if err := tx.LocalDelete(ctx, localHeld, heldID(h.Node, seq)); err != nil {
			return fmt.Errorf("take held event %s/%d: %w", h.Node, seq, err)
		}
	}
	next, err := getHeld(ctx, tx, h.Node, upTo+1)
	if err != nil {
		return err
	}
	h.First, h.FirstHLC = next.Seq, next.HLC
	return writeHold(ctx, tx, h)
}

// release applies h's events that are no longer far in the future (all of
// them with force) through the import path: checked again from the node's
// current head, then stored and projected. What cannot be applied — a
// broken chain (a damaged store), a projection that refuses, a revoked
// node's events after its cut — leaves the hold with the reason; those
// events come again with the next sync and are judged again.
func (im *importer) release(ctx context.Context, info NodeInfo, h holdRun, force bool) (applied int, rej *Rejection, newest event.HLC, err error) {
	tx, l := im.tx, im.l
	head, err := tx.Head(ctx, info.ID)
	if err != nil {
		return 0, nil, 0, err
	}
	if h.First != head.Seq+1 {
		// Not the continuation of the log (only a revocation's purge moves
		// a head back): nothing held can apply any more.
		l.log.Warn("sync: held events no longer follow their node's log; dropped", "node", info.ID, "first", h.First, "head", head.Seq)
		_, err := dropHeld(ctx, tx, h, h.First)
		return 0, nil, 0, err
	}
	var run []event.Event
	for seq := h.First; seq <= h.Last && info.Accepts(seq); seq++ {
		e, err := getHeld(ctx, tx, info.ID, seq)
		if err != nil {
			return 0, nil, 0, err
		}
		if !force && im.future(e.HLC) {
			break
		}
		run = append(run, e)
	}
	if len(run) == 0 {
		return 0, nil, 0, nil
	}
	if err := event.VerifyRun(head.Hash, head.Seq, run, info.SigningKey, false); err != nil {
		if _, err := dropHeld(ctx, tx, h, h.First); err != nil {
			return 0, nil, 0, err
		}
		return 0, &Rejection{Node: info.ID, Seq: h.First, Count: h.count(), Reason: ReasonBadChain + ": " + err.Error()}, 0, nil
	}
	if err := takeHeld(ctx, tx, h, run[len(run)-1].Seq); err != nil {
		return 0, nil, 0, err
	}
	if rej, err := im.applyRun(ctx, info, run); err != nil || rej != nil {
		if err == nil {
			// What waited behind the refused events no longer follows the log.
			rest := h
			rest.First = run[len(run)-1].Seq + 1
			if rest.First <= rest.Last {
				_, err = dropHeld(ctx, tx, rest, rest.First)
			}
		}
		return 0, rej, 0, err
	}
	for i := range run {
		newest = max(newest, run[i].HLC)
	}
	return len(run), nil, newest, nil
}

// releaseDue applies, at the start of an import, the held events whose
// time has come, node by node in sequence order.
func (im *importer) releaseDue(ctx context.Context) error {
	holds, err := allHolds(ctx, im.tx)
	if err != nil || len(holds) == 0 {
		return err
	}
	nodes, err := nodeMap(ctx, im.tx)
	if err != nil {
		return err
	}
	for _, h := range holds {
		if im.future(h.FirstHLC) {
			continue
		}
		info, ok := nodes[h.Node]
		if !ok {
			continue
		}
		applied, rej, newest, err := im.release(ctx, info, h, false)
		if err != nil {
			return fmt.Errorf("release held events of %s: %w", h.Node, err)
		}
		im.res.Applied += applied
		im.released += applied
		im.newest = max(im.newest, newest)
		if rej != nil {
			im.res.Rejected = append(im.res.Rejected, *rej)
		}
	}
	return nil
}

// tidyHolds drops held events that revoked nodes signed after their cut:
// every node refuses them.
func (im *importer) tidyHolds(ctx context.Context) error {
	holds, err := allHolds(ctx, im.tx)
	if err != nil || len(holds) == 0 {
		return err
	}
	nodes, err := Nodes(ctx, im.tx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !n.Revoked {
			continue
		}
		for _, h := range holds {
			if h.Node == n.ID && h.Last > n.RevokedAfter {
				if _, err := dropHeld(ctx, im.tx, h, n.RevokedAfter+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Held lists the events held for review, one run per node: events stamped
// more than event.MaxDrift ahead of this node's clock, and those after
// them. They apply by themselves once their time comes, or at once by
// Release.
func (l *Ledger) Held(ctx context.Context) ([]HeldRun, error) {
	var holds []holdRun
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		holds, err = allHolds(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := l.clock.Wall()
	out := make([]HeldRun, 0, len(holds))
	for _, h := range holds {
		out = append(out, HeldRun{Node: h.Node, First: h.First, Count: h.count(), Newest: h.Newest, Stamped: h.Newest.Time(),
			AheadSeconds: (h.Newest.Millis() - now.Millis()) / 1000,
			Due:          h.FirstHLC.Time().Add(-event.MaxDrift)})
	}
	return out, nil
}

// Release applies node's held events now, although they are stamped in
// the future: a coordinator has judged them sound (say, the device's clock
// was wrong but its work is real). They go through the import path —
// chain, signature and projections checked — and are audited; the clock
// still ignores their timestamps (S14). ErrNotHeld if none are held.
func (l *Ledger) Release(ctx context.Context, actor, node string) (ImportResult, error) {
	var res ImportResult
	var newest event.HLC
	err := l.st.Update(ctx, func(tx store.Tx) error {
		h, ok, err := readHold(ctx, tx, node)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %w", node, ErrNotHeld)
		}
		im, err := l.beginImport(ctx, tx)
		if err != nil {
			return err
		}
		// The start of the import may have applied some (their time came).
		rest, ok, err := readHold(ctx, tx, node)
		if err != nil {
			return err
		}
		var rej *Rejection
		if ok {
			nodes, err := nodeMap(ctx, tx)
			if err != nil {
				return err
			}
			info, known := nodes[node]
			if !known {
				return fmt.Errorf("%s: %w", node, ErrUnknownNode)
			}
			// Not counted in im.newest: the clock must not follow them.
			var applied int
			applied, rej, _, err = im.release(ctx, info, rest, true)
			if err != nil {
				return err
			}
			im.res.Applied += applied
			if rej != nil {
				im.res.Rejected = append(im.res.Rejected, *rej)
			}
		}
		if err := im.finish(ctx); err != nil {
			return err
		}
		res, newest = im.res, im.newest
		detail := fmt.Sprintf("%d held events of node %s from seq %d released, stamped up to %s; %d applied", h.count(), node, h.First, h.Newest, im.res.Applied)
		if rej != nil {
			detail += "; refused: " + rej.Reason
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: time.Now().UnixMilli(), Actor: actor, Action: "sync.release",
			Record: "node/" + node, Detail: detail})
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("release: %w", err)
	}
	l.observe(newest)
	return res, nil
}

// Discard drops node's held events, audited. It does not refuse them for
// good: peers still hold them and offer them at the next sync, when they
// are held again if still stamped in the future (to be rid of a node's
// events, revoke the node). It returns how many were dropped; ErrNotHeld
// if none were held.
func (l *Ledger) Discard(ctx context.Context, actor, node string) (int, error) {
	n := 0
	err := l.st.Update(ctx, func(tx store.Tx) error {
		h, ok, err := readHold(ctx, tx, node)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %w", node, ErrNotHeld)
		}
		if n, err = dropHeld(ctx, tx, h, h.First); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: time.Now().UnixMilli(), Actor: actor, Action: "sync.discard",
			Record: "node/" + node, Detail: fmt.Sprintf("%d held events of node %s from seq %d discarded, stamped up to %s", n, node, h.First, h.Newest)})
	})
	if err != nil {
		return 0, fmt.Errorf("discard: %w", err)
	}
	return n, nil
}
