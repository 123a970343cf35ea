// Package replication moves events between the nodes of an organisation:
// live, over HTTP between peers or through a hub, and by hand, as
// encrypted bundle files. Every node applies what it receives with
// ledger.Import, which checks enrolment, revocation, hash chains and
// signatures before anything is applied, so a delivery can be cut,
// repeated or reordered and the nodes still converge.
//
// (The package is not called sync: that would shadow the standard
// library's sync package wherever both are used.)
package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"caravana/internal/store"
)

// localPeer is the local-document kind that holds what this node knows of
// each peer. It is node-local state, not an event: it is not synced.
const localPeer = "peer"

// Peer is what this node last heard from, and sent to, another node.
type Peer struct {
	// Node is the peer's node id.
	Node string `json:"node"`
	// URL is where it is reached live ("" for a peer known only through
	// bundles).
	URL string `json:"url,omitempty"`
	// Vector is the peer's version vector as last heard (live sync, or a
	// bundle it sent): what it is known to hold. Bundles for it carry
	// what it lacks by this vector.
	Vector map[string]uint64 `json:"vector,omitempty"`
	// Key is the peer's signing key when it is known before its enrolment
	// reaches this node's log: the inviter's, from the invitation. Once
	// the log knows the node, the log's key and revocation state win.
	Key []byte `json:"key,omitempty"`
	// LastHeard is when the peer last answered or a bundle of its arrived.
	LastHeard time.Time `json:"last_heard,omitzero"`
	// LastSync is when the last successful sync with it ended.
	LastSync time.Time `json:"last_sync,omitzero"`
	// Pulled and Pushed count the events received from and sent to it.
	Pulled int64 `json:"pulled,omitempty"`
	Pushed int64 `json:"pushed,omitempty"`
	// LastError is the last failure talking to it, if the last attempt
	// failed ("" after a success).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Peers lists what this node knows of its peers, by node id.
func Peers(ctx context.Context, st store.Store) ([]Peer, error) {
	var out []Peer
	err := st.View(ctx, func(tx store.ReadTx) error {
		return tx.LocalScan(ctx, localPeer, func(id string, data []byte) error {
			var p Peer
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("peer %s: %w", id, err)
			}
			out = append(out, p)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, err
}

// GetPeer reads one peer's state; a peer never heard of is returned empty
// (with its id) and found false.
func GetPeer(ctx context.Context, st store.Store, node string) (Peer, bool, error) {
	p := Peer{Node: node}
	var found bool
	err := st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.LocalGet(ctx, localPeer, node)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(data, &p)
	})
	return p, found, err
}

// UpdatePeer changes one peer's state with fn, atomically.
func UpdatePeer(ctx context.Context, st store.Store, node string, fn func(*Peer)) error {
	return st.Update(ctx, func(tx store.Tx) error {
		p := Peer{Node: node}
		data, err := tx.LocalGet(ctx, localPeer, node)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("peer %s: %w", node, err)
			}
		}
		fn(&p)
		p.Node = node
		out, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return tx.LocalPut(ctx, localPeer, node, out)
	})
}

// Behind counts the events in have that a holder of vector lacks.
func Behind(have, vector map[string]uint64) int64 {
	var n int64
	for node, seq := range have {
		if seq > vector[node] {
			n += int64(seq - vector[node])
		}
	}
	return n
}
