// Package projtest is shared by the projection convergence tests of the
// domain packages: it stamps events as nodes would, and applies a set of
// events, in a given order, to a fresh encrypted SQLite store. It is
// imported by tests only.
package projtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"pgregory.net/rapid"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
	"caravana/internal/store/sqlite"
)

// Fataler is what Apply needs of *testing.T and *rapid.T.
type Fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Gen hands out events the way nodes make them: per node, gap-free
// sequence numbers and strictly increasing HLCs. Steps are small, so events
// of different nodes often share an HLC and the node id breaks the tie.
type Gen struct {
	nodes, actors []string
	seq           map[string]uint64
	ms            map[string]int64
}

// NewGen stamps events of the given nodes; actors, if any, are drawn for
// the events' actor (else "u-<node>").
func NewGen(nodes, actors []string) *Gen {
	return &Gen{nodes: nodes, actors: actors, seq: map[string]uint64{}, ms: map[string]int64{}}
}

// Next makes an event of a node drawn by t.
func (g *Gen) Next(t *rapid.T, kind, subject string, body any) *event.Event {
	node := rapid.SampledFrom(g.nodes).Draw(t, "node")
	g.seq[node]++
	g.ms[node] += int64(rapid.IntRange(1, 3).Draw(t, "step"))
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	actor := "u-" + node
	if len(g.actors) > 0 {
		actor = rapid.SampledFrom(g.actors).Draw(t, "actor")
	}
	return &event.Event{Node: node, Seq: g.seq[node], HLC: event.MakeHLC(1_540_000_000_000+g.ms[node], 0),
		Actor: actor, Kind: kind, Subject: subject, Body: data}
}

var storeSeq atomic.Int64

// Apply applies evs, in that order, to a fresh store under dir with the
// projections register adds, then calls read on the result; the store is
// removed afterwards. It returns the state hash.
func Apply(t Fataler, dir string, register func(*ledger.Projector), evs []*event.Event, read func(ctx context.Context, tx store.ReadTx) error) string {
	ctx := context.Background()
	path := filepath.Join(dir, fmt.Sprintf("s%d", storeSeq.Add(1)))
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(path)
	st, err := sqlite.Open(ctx, filepath.Join(path, sqlite.FileName), strings.Repeat("6b", 32), true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proj := ledger.NewProjector()
	register(proj)
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, e := range evs {
			if err := proj.Apply(ctx, tx, e); err != nil {
				return fmt.Errorf("apply %s %s: %w", e.ID(), e.Kind, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if hash, err = ledger.StateHash(ctx, tx); err != nil {
			return err
		}
		if read != nil {
			return read(ctx, tx)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return hash
}

// Docs reads every projection document as "kind/id" -> data.
func Docs(ctx context.Context, tx store.ReadTx, into map[string]string) error {
	return tx.EachDoc(ctx, func(kind, id string, data []byte) error {
		into[kind+"/"+id] = string(data)
		return nil
	})
}
