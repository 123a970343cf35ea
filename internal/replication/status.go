package replication

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"caravana/internal/ledger"
	"caravana/internal/node"
)

// PeerStatus is one peer as `caravana sync status` and the /sync page show it.
type PeerStatus struct {
	Peer
	// Name is the peer's node name, from its enrolment.
	Name string `json:"name,omitempty"`
	// Revoked says the peer is a revoked node (nothing is sent to it).
	Revoked bool `json:"revoked,omitempty"`
	// TheyLack counts events held here that the peer lacked when last
	// heard from; WeLack events it held then that are not here.
	TheyLack int64 `json:"they_lack"`
	WeLack   int64 `json:"we_lack"`
}

// Status is this node's view of its organisation's sync.
type Status struct {
	Node   string            `json:"node"`
	Org    string            `json:"org"`
	Vector map[string]uint64 `json:"vector"`
	Events int64             `json:"events"`
	Peers  []PeerStatus      `json:"peers"`
	Nodes  []ledger.NodeInfo `json:"nodes"`
}

// ReadStatus reads the sync status of n.
func ReadStatus(ctx context.Context, n *node.Node) (Status, error) {
	st := Status{Node: n.Keys.NodeID, Org: n.Keys.OrgID(), Peers: []PeerStatus{}, Nodes: []ledger.NodeInfo{}}
	var err error
	if st.Vector, err = n.Ledger.Vector(ctx); err != nil {
		return st, fmt.Errorf("sync status: %w", err)
	}
	if st.Vector == nil {
		st.Vector = map[string]uint64{}
	}
	for _, seq := range st.Vector {
		st.Events += int64(seq)
	}
	nodes, err := n.Ledger.NodeList(ctx)
	if err != nil {
		return st, fmt.Errorf("sync status: %w", err)
	}
	byID := map[string]ledger.NodeInfo{}
	for _, x := range nodes {
		byID[x.ID] = x
		st.Nodes = append(st.Nodes, x)
	}
	peers, err := Peers(ctx, n.Store)
	if err != nil {
		return st, fmt.Errorf("sync status: %w", err)
	}
	for _, p := range peers {
		ps := PeerStatus{Peer: p, Name: byID[p.Node].Name, Revoked: byID[p.Node].Revoked}
		if p.Vector != nil {
			ps.TheyLack = Behind(st.Vector, p.Vector)
			ps.WeLack = Behind(p.Vector, st.Vector)
		}
		st.Peers = append(st.Peers, ps)
	}
	return st, nil
}

// Background syncs a node with its peers at an interval.
type Background struct {
	Client *Client
	URLs   []string
	Every  time.Duration
	Log    *slog.Logger
}

// Run syncs with every peer at once and then every b.Every, until ctx
// ends. Failures are logged (peer id, URL and error code: no PII) and
// retried at the next round; serving goes on regardless.
func (b *Background) Run(ctx context.Context, n *node.Node) {
	log := b.Log
	if log == nil {
		log = slog.Default()
	}
	c := b.Client
	if c == nil {
		c = &Client{}
	}
	t := time.NewTicker(b.Every)
	defer t.Stop()
	for {
		for _, u := range b.URLs {
			if ctx.Err() != nil {
				return
			}
			rep, err := c.Sync(ctx, n, u, nil)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("background sync failed", "url", u, "peer", rep.Peer, "err", err)
			case rep.Pulled+rep.Pushed+len(rep.Rejected)+len(rep.PeerRejected) > 0:
				log.Info("background sync", "url", u, "peer", rep.Peer, "pulled", rep.Pulled, "pushed", rep.Pushed,
					"refused_here", len(rep.Rejected), "refused_there", len(rep.PeerRejected), "took", rep.Took.Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
