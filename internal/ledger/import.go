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
	Seq    uint64 `json:"seq"` // the first event refused
	Count  int    `json:"count"`
	Reason string `json:"reason"`
}

func (r Rejection) String() string {
	return fmt.Sprintf("%s from seq %d (%d events): %s", r.Node, r.Seq, r.Count, r.Reason)
}

// ImportResult says what Import did.
type ImportResult struct {
	Applied  int         `json:"applied"`  // new events stored and projected
	Known    int         `json:"known"`    // events already held (a repeat delivery)
	Purged   int         `json:"purged"`   // events of revoked nodes dropped after their cut
	Rejected []Rejection `json:"rejected"` // refused, with the reason; never applied
}

// Rejection reasons (stable: they are shown and counted).
const (
	ReasonNotEnrolled = "the node is not enrolled in this organisation"
	ReasonRevoked     = "the node was revoked; events after its cut are refused"
	ReasonGap         = "events are missing before these (they will come with the next sync)"
	ReasonForked      = "the node signed two different events with the same number"
	ReasonBadChain    = "bad hash, chain link or signature"
	ReasonProjection  = "the event cannot be applied"
)

// maxImport bounds one Import: a larger delivery is split by the caller.
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
func (l *Ledger) Import(ctx context.Context, evs []event.Event) (ImportResult, error) {
	var res ImportResult
	if len(evs) > maxImport {
		return res, fmt.Errorf("import: %d events in one delivery; at most %d", len(evs), maxImport)
	}
	byNode := map[string][]event.Event{}
	for _, e := range evs {
		byNode[e.Node] = append(byNode[e.Node], e)
	}
	for n, run := range byNode {
		sort.Slice(run, func(i, j int) bool { return run[i].Seq < run[j].Seq })
		byNode[n] = slices.CompactFunc(run, func(a, b event.Event) bool { return a.Seq == b.Seq && bytes.Equal(a.Hash, b.Hash) })
	}
	var newest event.HLC
	err := l.st.Update(ctx, func(tx store.Tx) error {
		res = ImportResult{}
		pending := make(map[string][]event.Event, len(byNode))
		for id, run := range byNode {
			pending[id] = run
		}
		// Passes until nothing more applies: an enrolment applied in one
		// pass makes the enrolled node's events acceptable in the next.
		for progress := true; progress && len(pending) > 0; {
			progress = false
			nodes, err := nodeMap(ctx, tx)
			if err != nil {
				return err
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
				applied, known, rej, hlc, err := l.importRun(ctx, tx, info, byNode[id])
				if err != nil {
					return err
				}
				res.Applied += applied
				res.Known += known
				if rej != nil {
					res.Rejected = append(res.Rejected, *rej)
				}
				newest = max(newest, hlc)
			}
		}
		for id, run := range pending {
			res.Rejected = append(res.Rejected, Rejection{Node: id, Seq: run[0].Seq, Count: len(run), Reason: ReasonNotEnrolled})
		}
		sort.Slice(res.Rejected, func(i, j int) bool { return res.Rejected[i].Node < res.Rejected[j].Node })
		// A revocation may have arrived after some of the revoked node's
		// later events: drop those everywhere and replay the projections,
		// so every node ends with the same events and state.
		purged, err := l.purgeRevoked(ctx, tx)
		if err != nil {
			return err
		}
		res.Purged = purged
		if res.Applied > 0 {
			detail := fmt.Sprintf("%d events applied, %d already held, %d refused", res.Applied, res.Known, len(res.Rejected))
			return tx.AppendAudit(ctx, store.AuditEntry{At: time.Now().UnixMilli(), Actor: "sync", Action: "sync.import",
				Record: "log", Detail: detail})
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if newest != 0 {
		// S14: a believable remote clock moves ours on; a far-future one
		// does not drag it along (the event is kept, the clock ignores it).
		if err := l.clock.Observe(newest); err != nil {
			l.log.Warn("an imported event is stamped far in the future; the clock ignores it", "hlc", newest.String())
		}
	}
	return res, nil
}

// importRun applies one node's events (sorted by seq) after its current head.
// The whole run is undone if a projection refuses one of its events.
func (l *Ledger) importRun(ctx context.Context, tx store.Tx, info NodeInfo, run []event.Event) (applied, known int, rej *Rejection, newest event.HLC, err error) {
	head, err := tx.Head(ctx, info.ID)
	if err != nil {
		return 0, 0, nil, 0, err
	}
	// What we already hold: must be the very same events.
	i := 0
	for ; i < len(run) && run[i].Seq <= head.Seq; i++ {
		held, err := tx.Events(ctx, info.ID, run[i].Seq-1, 1)
		if err != nil {
			return 0, 0, nil, 0, err
		}
		if len(held) == 1 && !bytes.Equal(held[0].Hash, run[i].Hash) {
			if run[i].CheckHash() == nil && run[i].CheckSig(info.SigningKey) == nil {
				return 0, known, &Rejection{Node: info.ID, Seq: run[i].Seq, Count: len(run) - i, Reason: ReasonForked}, 0, nil
			}
			return 0, known, &Rejection{Node: info.ID, Seq: run[i].Seq, Count: len(run) - i, Reason: ReasonBadChain}, 0, nil
		}
		known++
	}
	run = run[i:]
	if len(run) == 0 {
		return 0, known, nil, 0, nil
	}
	if run[0].Seq != head.Seq+1 {
		return 0, known, &Rejection{Node: info.ID, Seq: run[0].Seq, Count: len(run), Reason: ReasonGap}, 0, nil
	}
	// Keep only a contiguous run; anything after a hole waits.
	var gap *Rejection
	for k := 1; k < len(run); k++ {
		if run[k].Seq != run[k-1].Seq+1 {
			gap = &Rejection{Node: info.ID, Seq: run[k].Seq, Count: len(run) - k, Reason: ReasonGap}
			run = run[:k]
			break
		}
	}
	var revoked *Rejection
	if info.Revoked {
		cut := len(run)
		for k := range run {
			if !info.Accepts(run[k].Seq) {
				cut = k
				break
			}
		}
		if cut < len(run) {
			revoked = &Rejection{Node: info.ID, Seq: run[cut].Seq, Count: len(run) - cut, Reason: ReasonRevoked}
			run = run[:cut]
		}
	}
	if len(run) > 0 {
		if err := event.VerifyRun(head.Hash, head.Seq, run, info.SigningKey, false); err != nil {
			return 0, known, &Rejection{Node: info.ID, Seq: run[0].Seq, Count: len(run), Reason: ReasonBadChain + ": " + err.Error()}, 0, nil
		}
		sp := "imp_" + strings.NewReplacer("-", "_").Replace(info.ID)
		if err := tx.Savepoint(ctx, sp); err != nil {
			return 0, 0, nil, 0, err
		}
		for k := range run {
			e := &run[k]
			if err := tx.InsertEvent(ctx, e); err != nil {
				return 0, 0, nil, 0, fmt.Errorf("store %s: %w", e.ID(), err)
			}
			if err := l.proj.Apply(ctx, tx, e); err != nil {
				if rbErr := tx.RollbackTo(ctx, sp); rbErr != nil {
					return 0, 0, nil, 0, rbErr
				}
				if rlErr := tx.Release(ctx, sp); rlErr != nil {
					return 0, 0, nil, 0, rlErr
				}
				l.log.Warn("sync: an event from another node cannot be applied", "event", e.ID(), "kind", e.Kind, "err", err)
				return 0, known, &Rejection{Node: info.ID, Seq: run[0].Seq, Count: len(run), Reason: ReasonProjection}, 0, nil
			}
			newest = max(newest, e.HLC)
		}
		if err := tx.Release(ctx, sp); err != nil {
			return 0, 0, nil, 0, err
		}
		applied = len(run)
	}
	switch {
	case revoked != nil:
		rej = revoked
	case gap != nil:
		rej = gap
	}
	return applied, known, rej, newest, nil
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
