package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"caravana/internal/event"
	"caravana/internal/store"
)

// Rejection says why some of a node's events were not applied.
type Rejection struct {
	Node   string `json:"node"`
	Seq    uint64 `json:"seq"` // the first event refused (or held)
	Count  int    `json:"count"`
	Reason string `json:"reason"`
}

func (r Rejection) String() string {
	s := fmt.Sprintf("%s from seq %d (%d events): %s", r.Node, r.Seq, r.Count, r.Reason)
	if r.Reason == ReasonFuture {
		s += " ('caravana sync held' lists them)"
	}
	return s
}

// ImportResult says what Import did.
type ImportResult struct {
	Applied int `json:"applied"` // new events stored and projected
	Known   int `json:"known"`   // events already in the log (a repeat delivery)
	// Held counts the delivered events held for review: stamped more than
	// event.MaxDrift in the future, or after one that is (S14). They are
	// also reported in Rejected, with ReasonFuture.
	Held     int         `json:"held"`
	Purged   int         `json:"purged"`   // events of revoked nodes dropped after their cut
	Rejected []Rejection `json:"rejected"` // refused or held, with the reason; never applied
}

// Rejection reasons (stable: they are shown and counted).
const (
	ReasonNotEnrolled = "the node is not enrolled in this organisation"
	ReasonRevoked     = "the node was revoked; events after its cut are refused"
	ReasonGap         = "events are missing before these (they will come with the next sync)"
	ReasonForked      = "the node signed two different events with the same number"
	ReasonBadChain    = "bad hash, chain link or signature"
	ReasonProjection  = "the event cannot be applied"
	// ReasonFuture is not a refusal: the events are kept, not applied, until
	// their time comes or a coordinator releases them (see Held).
	ReasonFuture = "stamped in the future; held for review"
)

// maxImport bounds one Import, and each batch of ImportBatches: a larger
// delivery is split by the caller.
const maxImport = 50_000

// Import verifies events from other nodes and applies those that are new,
// in one transaction. Per node, events must follow the node's chain from
// what is already held: every hash and link is checked and a signature by
// the node's enrolled key on the newest event of each run (which, through
// the chain, authenticates the run). Events of unknown nodes, of revoked
// nodes after their cut, with a bad hash, link or signature, or that no
// projection accepts are refused and reported, never applied; the rest are
// applied. A repeat delivery changes nothing. Enrolments in the batch count
// for the events after them, so a new node's first events can travel with
// its enrolment.
//
// An event stamped more than event.MaxDrift ahead of this node's clock,
// and every later one of its node, is verified and then held for review
// instead of applied (S14; see Held). Held events whose time has come are
// applied first, at the start of every import.
func (l *Ledger) Import(ctx context.Context, evs []event.Event) (ImportResult, error) {
	if len(evs) > maxImport {
		return ImportResult{}, fmt.Errorf("import: %d events in one delivery; at most %d", len(evs), maxImport)
	}
	var res ImportResult
	var newest event.HLC
	err := l.st.Update(ctx, func(tx store.Tx) error {
		im, err := l.beginImport(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := im.batch(ctx, evs); err != nil {
			return err
		}
		if err := im.finish(ctx); err != nil {
			return err
		}
		res, newest = im.res, im.newest
		return im.audit(ctx)
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	l.observe(newest)
	return res, nil
}

// ImportBatches is Import for a delivery too large for one call (a
// bundle), all or nothing (S12): every batch is applied in one
// transaction, so a failure or a crash part-way leaves the node as it was.
// feed hands the batches, one at a time (each at most maxImport events),
// to apply, which checks and applies them as Import would and says what
// each did; feed may hand the same events again (a second pass, for events
// whose enrolment came in a later batch). If feed returns an error —
// it must return apply's — nothing is applied and that error is returned.
// The returned result sums the batches'; revoked nodes' events are purged,
// and the import audited, once at the end.
func (l *Ledger) ImportBatches(ctx context.Context, feed func(apply func([]event.Event) (ImportResult, error)) error) (ImportResult, error) {
	var res ImportResult
	var newest event.HLC
	var feedErr error
	err := l.st.Update(ctx, func(tx store.Tx) error {
		feedErr = nil
		im, err := l.beginImport(ctx, tx)
		if err != nil {
			return err
		}
		apply := func(evs []event.Event) (ImportResult, error) {
			if len(evs) > maxImport {
				return ImportResult{}, fmt.Errorf("import: %d events in one batch; at most %d", len(evs), maxImport)
			}
			return im.batch(ctx, evs)
		}
		if err := feed(apply); err != nil {
			feedErr = err
			return err
		}
		if err := im.finish(ctx); err != nil {
			return err
		}
		res, newest = im.res, im.newest
		return im.audit(ctx)
	})
	if feedErr != nil {
		return ImportResult{}, feedErr
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	l.observe(newest)
	return res, nil
}

// observe moves the clock on to the newest applied remote timestamp. S14:
// a believable remote clock moves ours on; a far-future one does not drag
// it along. Held events never get here, and released ones are left out by
// Release; an applied event can still be refused by the clock if it was
// judged against a clock that was itself moved on by another node.
func (l *Ledger) observe(newest event.HLC) {
	if newest == 0 {
		return
	}
	if err := l.clock.Observe(newest); err != nil {
		l.log.Warn("an imported event is stamped far in the future; the clock ignores it", "hlc", newest.String())
	}
}

// importer is one import transaction: the batches applied in it, and
// what they did.
type importer struct {
	l        *Ledger
	tx       store.Tx
	ref      event.HLC // this node's wall clock when the import began
	res      ImportResult
	newest   event.HLC // newest timestamp applied, for the clock
	released int       // held events applied because their time came
}

// beginImport starts an import in tx: it reads the clock and applies the
// held events whose time has come.
func (l *Ledger) beginImport(ctx context.Context, tx store.Tx) (*importer, error) {
	im := &importer{l: l, tx: tx, ref: l.clock.Wall()}
	if err := im.releaseDue(ctx); err != nil {
		return nil, err
	}
	return im, nil
}

// future says whether h is too far ahead of this node's clock to apply.
func (im *importer) future(h event.HLC) bool {
	return h.Millis() > im.ref.Millis()+event.MaxDrift.Milliseconds()
}

// batch checks and applies one delivery of events, node by node.
func (im *importer) batch(ctx context.Context, evs []event.Event) (ImportResult, error) {
	byNode := map[string][]event.Event{}
	for _, e := range evs {
		byNode[e.Node] = append(byNode[e.Node], e)
	}
	for n, run := range byNode {
		sort.Slice(run, func(i, j int) bool { return run[i].Seq < run[j].Seq })
		byNode[n] = slices.CompactFunc(run, func(a, b event.Event) bool { return a.Seq == b.Seq && bytes.Equal(a.Hash, b.Hash) })
	}
	var res ImportResult
	pending := make(map[string][]event.Event, len(byNode))
	for id, run := range byNode {
		pending[id] = run
	}
	// Passes until nothing more applies: an enrolment applied in one
	// pass makes the enrolled node's events acceptable in the next.
	for progress := true; progress && len(pending) > 0; {
		progress = false
		nodes, err := nodeMap(ctx, im.tx)
		if err != nil {
			return ImportResult{}, err
		}
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			info, ok := nodes[id]
			if !ok || len(info.SigningKey) != ed25519.PublicKeySize {
				continue // perhaps enrolled by an event later in this batch
			}
			delete(pending, id)
			progress = true
			r, hlc, err := im.importRun(ctx, info, byNode[id])
			if err != nil {
				return ImportResult{}, err
			}
			res.Applied += r.Applied
			res.Known += r.Known
			res.Held += r.Held
			res.Rejected = append(res.Rejected, r.Rejected...)
			im.newest = max(im.newest, hlc)
		}
	}
	for id, run := range pending {
		res.Rejected = append(res.Rejected, Rejection{Node: id, Seq: run[0].Seq, Count: len(run), Reason: ReasonNotEnrolled})
	}
	sort.SliceStable(res.Rejected, func(i, j int) bool {
		a, b := res.Rejected[i], res.Rejected[j]
		return a.Node < b.Node || (a.Node == b.Node && a.Seq < b.Seq)
	})
	im.res.Applied += res.Applied
	im.res.Known += res.Known
	im.res.Held += res.Held
	im.res.Rejected = append(im.res.Rejected, res.Rejected...)
	return res, nil
}

// finish ends an import: a revocation may have arrived after some of the
// revoked node's later events: drop those everywhere (and from the hold)
// and replay the projections, so every node ends with the same events and
// state.
func (im *importer) finish(ctx context.Context) error {
	if err := im.tidyHolds(ctx); err != nil {
		return err
	}
	purged, err := im.l.purgeRevoked(ctx, im.tx)
	if err != nil {
		return err
	}
	im.res.Purged += purged
	return nil
}

// audit records the import, if it changed anything.
func (im *importer) audit(ctx context.Context) error {
	if im.res.Applied == 0 && im.res.Held == 0 {
		return nil
	}
	detail := fmt.Sprintf("%d events applied (%d of them held before), %d already in the log, %d held for review, %d refused",
		im.res.Applied, im.released, im.res.Known, im.res.Held, len(im.res.Rejected))
	return im.tx.AppendAudit(ctx, store.AuditEntry{At: time.Now().UnixMilli(), Actor: "sync", Action: "sync.import",
		Record: "log", Detail: detail})
}

// importRun applies one node's events (sorted by seq) after its current
// head, or holds them for review from the first stamped far in the
// future; after events already held, they are held too. The applied part
// is undone if a projection refuses one of its events. It returns what it
// did and the newest timestamp it applied.
func (im *importer) importRun(ctx context.Context, info NodeInfo, run []event.Event) (res ImportResult, newest event.HLC, err error) {
	tx := im.tx
	reject := func(seq uint64, count int, reason string) {
		res.Rejected = append(res.Rejected, Rejection{Node: info.ID, Seq: seq, Count: count, Reason: reason})
	}
	forkOrJunk := func(e *event.Event) string {
		if e.CheckHash() == nil && e.CheckSig(info.SigningKey) == nil {
			return ReasonForked
		}
		return ReasonBadChain
	}
	head, err := tx.Head(ctx, info.ID)
	if err != nil {
		return res, 0, err
	}
	// What the log already holds: must be the very same events.
	i := 0
	for ; i < len(run) && run[i].Seq <= head.Seq; i++ {
		logged, err := tx.Events(ctx, info.ID, run[i].Seq-1, 1)
		if err != nil {
			return res, 0, err
		}
		if len(logged) == 1 && !bytes.Equal(logged[0].Hash, run[i].Hash) {
			reject(run[i].Seq, len(run)-i, forkOrJunk(&run[i]))
			return res, 0, nil
		}
		res.Known++
	}
	run = run[i:]
	if len(run) == 0 {
		return res, 0, nil
	}
	// What the hold already keeps: the very same events again.
	hold, holding, err := readHold(ctx, tx, info.ID)
	if err != nil {
		return res, 0, err
	}
	if holding && hold.First != head.Seq+1 {
		im.l.log.Warn("sync: held events no longer follow their node's log; dropped", "node", info.ID, "first", hold.First, "head", head.Seq)
		if _, err := dropHeld(ctx, tx, hold, hold.First); err != nil {
			return res, 0, err
		}
		holding = false
	}
	prevSeq, prevHash := head.Seq, head.Hash
	again := 0
	if holding {
		for ; again < len(run) && run[again].Seq <= hold.Last; again++ {
			kept, err := getHeld(ctx, tx, info.ID, run[again].Seq)
			if err != nil {
				return res, 0, err
			}
			if !bytes.Equal(kept.Hash, run[again].Hash) {
				if again > 0 {
					reject(run[0].Seq, again, ReasonFuture)
					res.Held = again
				}
				reject(run[again].Seq, len(run)-again, forkOrJunk(&run[again]))
				return res, 0, nil
			}
		}
		prevSeq, prevHash = hold.Last, hold.Tail
	}
	heldFrom := run[0].Seq
	run = run[again:]
	if len(run) > 0 && run[0].Seq != prevSeq+1 {
		reject(run[0].Seq, len(run), ReasonGap)
		run = nil
	}
	// Keep only a contiguous run; anything after a hole waits.
	for k := 1; k < len(run); k++ {
		if run[k].Seq != run[k-1].Seq+1 {
			reject(run[k].Seq, len(run)-k, ReasonGap)
			run = run[:k]
			break
		}
	}
	if info.Revoked {
		for k := range run {
			if !info.Accepts(run[k].Seq) {
				reject(run[k].Seq, len(run)-k, ReasonRevoked)
				run = run[:k]
				break
			}
		}
	}
	if len(run) > 0 {
		// Verified before anything is held: junk never fills the hold.
		if err := event.VerifyRun(prevHash, prevSeq, run, info.SigningKey, false); err != nil {
			reject(run[0].Seq, len(run), ReasonBadChain+": "+err.Error())
			run = nil
		}
	}
	var toHold []event.Event
	if holding {
		toHold = run
	} else {
		k := slices.IndexFunc(run, func(e event.Event) bool { return im.future(e.HLC) })
		if k >= 0 {
			run, toHold = run[:k], run[k:]
			heldFrom = toHold[0].Seq
		}
		if len(run) > 0 {
			rej, err := im.applyRun(ctx, info, run)
			if err != nil {
				return res, 0, err
			}
			if rej != nil {
				rej.Count += len(toHold)
				res.Rejected = append([]Rejection{*rej}, res.Rejected...)
				return res, 0, nil
			}
			res.Applied = len(run)
			for k := range run {
				newest = max(newest, run[k].HLC)
			}
		}
	}
	if len(toHold) > 0 {
		var h *holdRun
		if holding {
			h = &hold
		}
		if err := addHeld(ctx, tx, h, toHold); err != nil {
			return res, 0, err
		}
		im.l.log.Warn("sync: events stamped in the future are held for review", "node", info.ID, "from", toHold[0].Seq,
			"count", len(toHold), "hlc", toHold[len(toHold)-1].HLC.String())
	}
	if n := again + len(toHold); n > 0 {
		res.Held = n
		reject(heldFrom, n, ReasonFuture)
	}
	return res, newest, nil
}

// applyRun stores and projects a verified, contiguous run that follows
// its node's head. If a projection refuses one of its events, the whole
// run is undone and reported.
func (im *importer) applyRun(ctx context.Context, info NodeInfo, run []event.Event) (*Rejection, error) {
	tx := im.tx
	sp := "imp_" + strings.NewReplacer("-", "_").Replace(info.ID)
	if err := tx.Savepoint(ctx, sp); err != nil {
		return nil, err
	}
	// The run's events are stored first, in few statements, then
	// projected one by one (projections read documents, never the log).
	if err := tx.InsertEvents(ctx, run); err != nil {
		return nil, fmt.Errorf("store %s from seq %d: %w", info.ID, run[0].Seq, err)
	}
	for k := range run {
		e := &run[k]
		if err := im.l.proj.Apply(ctx, tx, e); err != nil {
			if rbErr := tx.RollbackTo(ctx, sp); rbErr != nil {
				return nil, rbErr
			}
			if rlErr := tx.Release(ctx, sp); rlErr != nil {
				return nil, rlErr
			}
			im.l.log.Warn("sync: an event from another node cannot be applied", "event", e.ID(), "kind", e.Kind, "err", err)
			return &Rejection{Node: info.ID, Seq: run[0].Seq, Count: len(run), Reason: ReasonProjection}, nil
		}
	}
	if err := tx.Release(ctx, sp); err != nil {
		return nil, err
	}
	return nil, nil
}

// nodeMap reads the enrolled nodes by id, and the trust anchor: the
// organisation's founding node, whose self-enrolment starts the chain of
// enrolments a joining node follows.
func nodeMap(ctx context.Context, tx store.ReadTx) (map[string]NodeInfo, error) {
	nodes, err := Nodes(ctx, tx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]NodeInfo, len(nodes)+1)
	for _, n := range nodes {
		m[n.ID] = n
	}
	if root, ok, err := trustAnchor(ctx, tx); err != nil {
		return nil, err
	} else if ok {
		if n := m[root.ID]; n.SigningKey == nil {
			n.ID, n.Name, n.SigningKey = root.ID, root.Name, root.SigningKey
			m[root.ID] = n
		}
	}
	return m, nil
}

const localTrust, trustRoot = "trust", "root"

func trustAnchor(ctx context.Context, tx store.ReadTx) (NodeInfo, bool, error) {
	data, err := tx.LocalGet(ctx, localTrust, trustRoot)
	if errors.Is(err, store.ErrNotFound) {
		return NodeInfo{}, false, nil
	}
	if err != nil {
		return NodeInfo{}, false, err
	}
	var n NodeInfo
	if err := json.Unmarshal(data, &n); err != nil {
		return NodeInfo{}, false, fmt.Errorf("trust anchor: %w", err)
	}
	return n, true, nil
}

// Trust records the organisation's founding node (id and signing key, from
// the invitation) as this joining node's trust anchor: its self-enrolment
// is accepted, and through it every node it or its enrolees enrolled.
func (l *Ledger) Trust(ctx context.Context, founder NodeInfo) error {
	if len(founder.SigningKey) != ed25519.PublicKeySize || founder.ID == "" {
		return fmt.Errorf("trust: bad founding node key")
	}
	data, err := json.Marshal(NodeInfo{ID: founder.ID, Name: founder.Name, SigningKey: founder.SigningKey})
	if err != nil {
		return err
	}
	return l.st.Update(ctx, func(tx store.Tx) error { return tx.LocalPut(ctx, localTrust, trustRoot, data) })
}

// Founder is the organisation's founding node: the one that enrolled
// itself (the genesis event).
func (l *Ledger) Founder(ctx context.Context) (NodeInfo, error) {
	var out NodeInfo
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		nodes, err := Nodes(ctx, tx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.EnrolledBy == n.ID && n.SigningKey != nil && (out.ID == "" || n.EnrolledAt < out.EnrolledAt) {
				out = n
			}
		}
		if out.ID == "" {
			return fmt.Errorf("founder: %w", ErrUnknownNode)
		}
		return nil
	})
	return out, err
}

// purgeRevoked drops events that revoked nodes signed after their cut and,
// if there were any, replays every projection without them.
func (l *Ledger) purgeRevoked(ctx context.Context, tx store.Tx) (int, error) {
	nodes, err := Nodes(ctx, tx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, n := range nodes {
		// A node never deletes its own events, even revoked: it would sign
		// new events under numbers it already used (the others refuse them
		// anyway, as after its cut).
		if !n.Revoked || n.ID == l.keys.NodeID {
			continue
		}
		head, err := tx.Head(ctx, n.ID)
		if err != nil {
			return 0, err
		}
		if head.Seq <= n.RevokedAfter {
			continue
		}
		k, err := tx.DeleteEventsAfter(ctx, n.ID, n.RevokedAfter)
		if err != nil {
			return 0, fmt.Errorf("purge %s: %w", n.ID, err)
		}
		total += k
	}
	if total > 0 {
		if err := l.replay(ctx, tx, nil); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// ErrUnknownNode means no enrolled node has that id.
var ErrUnknownNode = errors.New("no enrolled node has that id")

// Revoke cuts a node off: its events after the last one this node holds
// are refused everywhere from now on, and it is sent nothing more. A node
// cannot revoke itself.
func (l *Ledger) Revoke(ctx context.Context, actor, nodeID string) (NodeInfo, error) {
	if nodeID == l.keys.NodeID {
		return NodeInfo{}, fmt.Errorf("revoke: a node cannot revoke itself")
	}
	var after uint64
	var info NodeInfo
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		nodes, err := nodeMap(ctx, tx)
		if err != nil {
			return err
		}
		var ok bool
		if info, ok = nodes[nodeID]; !ok || info.SigningKey == nil {
			return fmt.Errorf("revoke %s: %w", nodeID, ErrUnknownNode)
		}
		head, err := tx.Head(ctx, nodeID)
		after = head.Seq
		return err
	})
	if err != nil {
		return NodeInfo{}, err
	}
	if info.Revoked {
		return info, nil
	}
	if _, err := l.Append(ctx, actor, []Draft{{Kind: KindNodeRevoked, Subject: "node/" + nodeID,
		Body: revokeBody{Node: nodeID, After: after}}}); err != nil {
		return NodeInfo{}, fmt.Errorf("revoke: %w", err)
	}
	info.Revoked, info.RevokedAfter, info.RevokedBy = true, after, l.keys.NodeID
	return info, nil
}

// Enrol records another node's keys in the log, so every node accepts its
// events. The caller has checked the invitation it came with.
func (l *Ledger) Enrol(ctx context.Context, actor string, n NodeInfo) error {
	if len(n.SigningKey) != ed25519.PublicKeySize || n.ID == "" {
		return fmt.Errorf("enrol: bad node key")
	}
	_, err := l.Append(ctx, actor, []Draft{{Kind: KindNodeEnrolled, Subject: "node/" + n.ID,
		Body: NodeInfo{ID: n.ID, Name: n.Name, SigningKey: n.SigningKey, AgeRecipient: n.AgeRecipient}}})
	return err
}

// NodeList lists the enrolled (and revoked) nodes.
func (l *Ledger) NodeList(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		nodes, err := Nodes(ctx, tx)
		for _, n := range nodes {
			if n.SigningKey != nil {
				out = append(out, n)
			}
		}
		return err
	})
	return out, err
}

// Vector maps each node to the highest sequence number held here (its
// events are held contiguously from 1).
func (l *Ledger) Vector(ctx context.Context) (map[string]uint64, error) {
	var vec map[string]uint64
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		vec, err = tx.Vector(ctx)
		return err
	})
	return vec, err
}

// Missing returns up to limit events held here that a peer whose vector is
// peer lacks, node by node in sequence order, and whether more remain. A
// revoked node's events are offered only up to its cut; a revoked peer
// gets nothing (the caller checks who asks).
func (l *Ledger) Missing(ctx context.Context, peer map[string]uint64, limit int) ([]event.Event, bool, error) {
	if limit <= 0 {
		limit = 5000
	}
	var out []event.Event
	more := false
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		vec, err := tx.Vector(ctx)
		if err != nil {
			return err
		}
		nodes, err := nodeMap(ctx, tx)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(vec))
		for id := range vec {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			hi := vec[id]
			if n, ok := nodes[id]; ok && n.Revoked {
				hi = min(hi, n.RevokedAfter)
			}
			from := peer[id]
			if from >= hi {
				continue
			}
			if len(out) >= limit {
				more = true
				return nil
			}
			for from < hi && len(out) < limit {
				evs, err := tx.Events(ctx, id, from, min(limit-len(out), int(hi-from)))
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					break
				}
				out = append(out, evs...)
				from = evs[len(evs)-1].Seq
			}
			if from < hi {
				more = true
				return nil
			}
		}
		return nil
	})
	return out, more, err
}

// Signers lists the nodes whose events this node accepts: the enrolled
// ones and, on a node that joined but has received nothing yet, the founder
// it trusts.
func (l *Ledger) Signers(ctx context.Context) (map[string]NodeInfo, error) {
	var m map[string]NodeInfo
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		m, err = nodeMap(ctx, tx)
		return err
	})
	return m, err
}
