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
	// RevokedAfter, when non-zero, is the last sequence number of the node
	// that is still accepted (S13: revocation cuts at a sequence number).
	RevokedAfter uint64 `json:"revoked_after,omitempty"`
}

// KindNodeEnrolled records a node's signing and age keys in the log.
const KindNodeEnrolled = "node.enrolled"

// applyNode projects node events.
func applyNode(ctx context.Context, tx store.Tx, e *event.Event) error {
	switch e.Kind {
	case KindNodeEnrolled:
		var n NodeInfo
		if err := json.Unmarshal(e.Body, &n); err != nil {
			return fmt.Errorf("%s: %w", e.Kind, err)
		}
		if len(n.SigningKey) != ed25519.PublicKeySize || n.ID == "" {
			return fmt.Errorf("%s: bad node key", e.Kind)
		}
		n.EnrolledBy, n.EnrolledAt = e.Node, e.HLC.Millis()
		if old, err := tx.Get(ctx, "node", n.ID); err == nil {
			// Enrolled twice (e.g. by two coordinators): keep the earliest
			// enrolment so the result does not depend on arrival order.
			var prev NodeInfo
			if json.Unmarshal(old, &prev) == nil && prev.EnrolledAt <= n.EnrolledAt {
				return nil
			}
		}
		data, _ := json.Marshal(n)
		return tx.Put(ctx, "node", n.ID, data)
	}
	return nil
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
// (every signature when allSigs, else one per run), and computes the state
// hash of the projections.
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

// StateHash is a digest of every projection document, in (kind, id) order:
// two nodes with the same events have the same state hash.
func StateHash(ctx context.Context, tx store.ReadTx) (string, error) {
	h := sha256.New()
	err := tx.EachDoc(ctx, func(kind, id string, data []byte) error {
		for _, part := range [][]byte{[]byte(kind), []byte(id), data} {
			writeLen(h, len(part))
			h.Write(part)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
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
	return l.st.Update(ctx, func(tx store.Tx) error {
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
	})
}
