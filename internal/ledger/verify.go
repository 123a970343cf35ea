package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"sort"

	"caravana/internal/event"
	"caravana/internal/store"
)

// NodeInfo is a node known to the organisation: the projection of its
// enrolment event. Only enrolled nodes' events are accepted.
type NodeInfo struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SigningKey   []byte `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	EnrolledBy   string `json:"enrolled_by"`
	EnrolledAt   int64  `json:"enrolled_at"`
	// Revoked says the node is cut off; RevokedAfter is its last sequence
	// number that is still accepted (S13: revocation cuts at a sequence
	// number, so every node keeps exactly the same events of it).
	Revoked      bool   `json:"revoked,omitempty"`
	RevokedAfter uint64 `json:"revoked_after,omitempty"`
	RevokedBy    string `json:"revoked_by,omitempty"`
}

// Accepts reports whether an event of this node with seq is accepted.
func (n NodeInfo) Accepts(seq uint64) bool { return !n.Revoked || seq <= n.RevokedAfter }

// Node event kinds.
const (
	// KindNodeEnrolled records a node's signing and age keys in the log.
	KindNodeEnrolled = "node.enrolled"
	// KindNodeRevoked cuts a node off after a sequence number.
	KindNodeRevoked = "node.revoked"
)

// revokeBody is the body of node.revoked.
type revokeBody struct {
	Node  string `json:"node"`
	After uint64 `json:"after"`
}

// applyNode projects node events. The same set of events gives the same
// document in any order: the earliest enrolment wins, and of several
// revocations the lowest cut.
func applyNode(ctx context.Context, tx store.Tx, e *event.Event) error {
	var cur NodeInfo
	var id string
	var next NodeInfo
	switch e.Kind {
	case KindNodeEnrolled:
		if err := json.Unmarshal(e.Body, &next); err != nil {
			return fmt.Errorf("%s: %w", e.Kind, err)
		}
		if len(next.SigningKey) != ed25519.PublicKeySize || next.ID == "" {
			return fmt.Errorf("%s: bad node key", e.Kind)
		}
		id = next.ID
	case KindNodeRevoked:
		var b revokeBody
		if err := json.Unmarshal(e.Body, &b); err != nil || b.Node == "" {
			return fmt.Errorf("%s: bad body", e.Kind)
		}
		id = b.Node
		next = NodeInfo{Revoked: true, RevokedAfter: b.After, RevokedBy: e.Node}
	default:
		return nil
	}
	found, err := store.GetJSON(ctx, tx, "node", id, &cur)
	if err != nil {
		return err
	}
	if !found {
		cur = NodeInfo{ID: id}
	}
	if e.Kind == KindNodeEnrolled {
		// Enrolled twice (e.g. by two coordinators): keep the earliest
		// enrolment so the result does not depend on arrival order.
		at := e.HLC.Millis()
		if cur.SigningKey == nil || at < cur.EnrolledAt || (at == cur.EnrolledAt && e.Node < cur.EnrolledBy) {
			cur.Name, cur.SigningKey, cur.AgeRecipient, cur.EnrolledBy, cur.EnrolledAt = next.Name, next.SigningKey, next.AgeRecipient, e.Node, at
		}
	} else if !cur.Revoked || next.RevokedAfter < cur.RevokedAfter || (next.RevokedAfter == cur.RevokedAfter && next.RevokedBy < cur.RevokedBy) {
		cur.Revoked, cur.RevokedAfter, cur.RevokedBy = true, next.RevokedAfter, next.RevokedBy
	}
	return store.PutJSON(ctx, tx, "node", id, cur)
}

// Register adds the ledger's own projections (nodes) to p.
func Register(p *Projector) { p.Handle("node", applyNode) }

// Genesis is the first event of a founding node: it enrols itself.
func (l *Ledger) Genesis(ctx context.Context, actor, name string) error {
	n := NodeInfo{ID: l.keys.NodeID, Name: name, SigningKey: l.PublicKey(), AgeRecipient: l.keys.AgeRecipient}
	_, err := l.Append(ctx, actor, []Draft{{Kind: KindNodeEnrolled, Subject: "node/" + n.ID, Body: n}})
	return err
}

// Nodes lists the enrolled nodes.
func Nodes(ctx context.Context, tx store.ReadTx) ([]NodeInfo, error) {
	var out []NodeInfo
	err := tx.Scan(ctx, "node", func(id string, data []byte) error {
		var n NodeInfo
		if err := json.Unmarshal(data, &n); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

// Report is the outcome of Verify.
type Report struct {
	Events    int               `json:"events"`
	Nodes     map[string]uint64 `json:"nodes"`
	StateHash string            `json:"state_hash"`
	Problems  []string          `json:"problems"`
}

// OK reports whether nothing was wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks every event's hash and chain link and its node's signature
// (every signature when allSigs, else one per run of up to 2,000 events,
// which authenticates the run through the chain but lets a damaged
// signature inside it pass), and computes the state hash of the
// projections. Report.Events counts the events that passed; Report.Nodes
// holds each node's last one.
func (l *Ledger) Verify(ctx context.Context, allSigs bool) (Report, error) {
	rep := Report{Nodes: map[string]uint64{}, Problems: []string{}}
	err := l.st.View(ctx, func(tx store.ReadTx) error {
		vec, err := tx.Vector(ctx)
		if err != nil {
			return err
		}
		keys := map[string]ed25519.PublicKey{l.keys.NodeID: l.PublicKey()}
		nodes, err := Nodes(ctx, tx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if _, own := keys[n.ID]; !own {
				keys[n.ID] = n.SigningKey
			}
		}
		ids := make([]string, 0, len(vec))
		for id := range vec {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			pub, ok := keys[id]
			if !ok {
				rep.Problems = append(rep.Problems, fmt.Sprintf("node %s: events from a node that is not enrolled", id))
				continue
			}
			var prev []byte
			var seq uint64
			for {
				run, err := tx.Events(ctx, id, seq, 2000)
				if err != nil {
					return err
				}
				if len(run) == 0 {
					break
				}
				if err := event.VerifyRun(prev, seq, run, pub, allSigs); err != nil {
					rep.Problems = append(rep.Problems, err.Error())
					// Count the events before the bad one: each links, hashes
					// and is signed right.
					good := passing(prev, seq, run, pub)
					rep.Events += good
					if good > 0 {
						seq = run[good-1].Seq
					}
					break
				}
				rep.Events += len(run)
				last := run[len(run)-1]
				prev, seq = last.Hash, last.Seq
			}
			rep.Nodes[id] = seq
		}
		rep.StateHash, err = StateHash(ctx, tx)
		return err
	})
	return rep, err
}

// passing returns how many events at the start of run each pass every
// check on their own, signature included.
func passing(prev []byte, prevSeq uint64, run []event.Event, pub ed25519.PublicKey) int {
	for i := range run {
		if event.VerifyRun(prev, prevSeq, run[i:i+1], pub, true) != nil {
			return i
		}
		prev, prevSeq = run[i].Hash, run[i].Seq
	}
	return len(run)
}

// StateHash is a digest of the projections: every document in (kind, id)
// order and every secondary index entry in (name, key, id) order. Two nodes
// with the same events have the same state hash; an index that files an id
// under the wrong key (a person found by a name they no longer have) shows
// as a different one.
func StateHash(ctx context.Context, tx store.ReadTx) (string, error) {
	docs := sha256.New()
	err := tx.EachDoc(ctx, func(kind, id string, data []byte) error {
		writeParts(docs, []byte(kind), []byte(id), data)
		return nil
	})
	if err != nil {
		return "", err
	}
	index := sha256.New()
	err = tx.EachIndex(ctx, func(name, key, id string) error {
		writeParts(index, []byte(name), []byte(key), []byte(id))
		return nil
	})
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte("caravana state v2\x00"))
	h.Write(docs.Sum(nil))
	h.Write(index.Sum(nil))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeParts writes each part with its length first, so no two different
// sequences of parts hash alike.
func writeParts(h hash.Hash, parts ...[]byte) {
	for _, part := range parts {
		writeLen(h, len(part))
		h.Write(part)
	}
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

// Rebuild drops every projection and replays the log, in one transaction:
// on any error the old projections stay. progress, if set, is called with
// the number of events applied so far.
func (l *Ledger) Rebuild(ctx context.Context, progress func(done, total int)) error {
	return l.st.Update(ctx, func(tx store.Tx) error { return l.replay(ctx, tx, progress) })
}

// replay drops every projection and applies the whole log again inside tx.
func (l *Ledger) replay(ctx context.Context, tx store.Tx, progress func(done, total int)) error {
	total, err := tx.CountEvents(ctx)
	if err != nil {
		return err
	}
	if err := tx.ResetProjections(ctx); err != nil {
		return fmt.Errorf("rebuild: reset: %w", err)
	}
	n := 0
	return tx.EachEvent(ctx, func(e *event.Event) error {
		if err := l.proj.Apply(ctx, tx, e); err != nil {
			return fmt.Errorf("rebuild: event %s (%s): %w", e.ID(), e.Kind, err)
		}
		n++
		if progress != nil && (n%1000 == 0 || n == total) {
			progress(n, total)
		}
		return nil
	})
}
