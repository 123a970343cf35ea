package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3/driver"
	"pgregory.net/rapid"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/store"
)

func stateHash(t testing.TB, s store.Store) string {
	t.Helper()
	var h string
	err := s.View(ctx, func(tx store.ReadTx) error {
		var err error
		h, err = StateHash(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// seed writes a genesis and n tally events.
func seed(t *testing.T, e *env, n int) {
	t.Helper()
	if err := e.l.Genesis(ctx, "init", "test node"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := e.l.Append(ctx, "ana", []Draft{add(fmt.Sprintf("c%d", i%3), i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyAndRebuild(t *testing.T) {
	e := newEnv(t)
	empty := stateHash(t, e.st)
	seed(t, e, 50)

	rep, err := e.l.Verify(ctx, true)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify on a clean log = %+v, %v", rep, err)
	}
	if rep.Events != 51 || rep.Nodes[e.keys.NodeID] != 51 || len(rep.Nodes) != 1 {
		t.Errorf("report = %d events, nodes %v; want 51 for %s", rep.Events, rep.Nodes, e.keys.NodeID)
	}
	if rep.StateHash == empty || rep.StateHash != stateHash(t, e.st) {
		t.Errorf("state hash %s (empty store %s)", rep.StateHash, empty)
	}
	var nodes []NodeInfo
	e.st.View(ctx, func(tx store.ReadTx) error {
		nodes, err = Nodes(ctx, tx)
		return err
	})
	if len(nodes) != 1 || nodes[0].ID != e.keys.NodeID || nodes[0].Name != "test node" ||
		!ed25519.PublicKey(nodes[0].SigningKey).Equal(e.l.PublicKey()) || nodes[0].AgeRecipient != e.keys.AgeRecipient {
		t.Errorf("enrolled nodes = %+v", nodes)
	}

	// Damage the projections: the state hash notices, and rebuild restores it.
	err = e.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put(ctx, "tally", "c1", []byte("999999")); err != nil {
			return err
		}
		return tx.Put(ctx, "stray", "x", []byte("{}"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := stateHash(t, e.st); h == rep.StateHash {
		t.Fatal("state hash did not change with the projections")
	}
	var calls, lastDone, lastTotal int
	if err := e.l.Rebuild(ctx, func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total }); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || lastDone != 51 || lastTotal != 51 {
		t.Errorf("progress: %d calls, last %d/%d", calls, lastDone, lastTotal)
	}
	rep2, err := e.l.Verify(ctx, false)
	if err != nil || !rep2.OK() || rep2.StateHash != rep.StateHash {
		t.Errorf("after Rebuild: state hash %s, want %s (%v, %v)", rep2.StateHash, rep.StateHash, rep2.Problems, err)
	}
	// A rebuild that fails keeps the old projections.
	e.l.proj.Handle("tally", func(context.Context, store.Tx, *event.Event) error { return errRefused })
	if err := e.l.Rebuild(ctx, nil); err == nil {
		t.Fatal("Rebuild with a failing projection succeeded")
	}
	if h := stateHash(t, e.st); h != rep.StateHash {
		t.Errorf("a failed Rebuild changed the state: %s, want %s", h, rep.StateHash)
	}
}

// TestStateHashCoversIndex: the secondary index is part of the state: an
// entry added, removed or moved changes the hash, whatever the documents
// say, and a rebuild brings it back.
func TestStateHashCoversIndex(t *testing.T) {
	tests := []struct {
		name   string
		change func(tx store.Tx) error
	}{
		{"entry added", func(tx store.Tx) error { return tx.AddIndex(ctx, "surname", "garcia", "person/9") }},
		{"entry removed", func(tx store.Tx) error { return tx.RemoveIndex(ctx, "surname", "nunez", "person/1") }},
		{"entry moved to another key", func(tx store.Tx) error {
			if err := tx.RemoveIndex(ctx, "surname", "nunez", "person/1"); err != nil {
				return err
			}
			return tx.AddIndex(ctx, "surname", "nunes", "person/1")
		}},
		{"entry moved to another index", func(tx store.Tx) error {
			if err := tx.RemoveIndex(ctx, "surname", "nunez", "person/1"); err != nil {
				return err
			}
			return tx.AddIndex(ctx, "given", "nunez", "person/1")
		}},
		// The parts are length-prefixed: moving a byte between name, key
		// and id is a different state.
		{"byte moved between key and id", func(tx store.Tx) error {
			if err := tx.RemoveIndex(ctx, "surname", "nunez", "person/1"); err != nil {
				return err
			}
			return tx.AddIndex(ctx, "surname", "nunezp", "erson/1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			seed(t, e, 5)
			// What a projection with an index would have filed.
			if err := e.st.Update(ctx, func(tx store.Tx) error { return tx.AddIndex(ctx, "surname", "nunez", "person/1") }); err != nil {
				t.Fatal(err)
			}
			before := stateHash(t, e.st)
			if err := e.st.Update(ctx, tt.change); err != nil {
				t.Fatal(err)
			}
			if after := stateHash(t, e.st); after == before {
				t.Errorf("state hash %s unchanged after the index changed", after)
			}
		})
	}
	// A rebuild replays the log: the index holds only what projections file.
	e := newEnv(t)
	seed(t, e, 5)
	clean := stateHash(t, e.st)
	if err := e.st.Update(ctx, func(tx store.Tx) error { return tx.AddIndex(ctx, "stray", "k", "x") }); err != nil {
		t.Fatal(err)
	}
	if stateHash(t, e.st) == clean {
		t.Fatal("a stray index entry left the state hash unchanged")
	}
	if err := e.l.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := stateHash(t, e.st); got != clean {
		t.Errorf("after rebuild state hash %s, want %s", got, clean)
	}
}

// rawExec runs statements directly on the node's encrypted database, as
// someone holding the key but bypassing the program would.
func rawExec(t *testing.T, e *env, stmts ...string) {
	t.Helper()
	e.close()
	dsn := "file:" + (&url.URL{Path: e.dbPath()}).EscapedPath() + "?vfs=adiantum&hexkey=" + crypto.DatabaseKeyHex(e.keys)
	db, err := driver.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		res, err := db.Exec(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows, want 1", s, n)
		}
	}
	db.Close()
	e.open(t, false)
}

func TestVerifyDetectsTampering(t *testing.T) {
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name     string
		tamper   func(t *testing.T, e *env)
		lastOnly bool   // whether Verify(false) notices too
		mention  string // a problem mentions this
		passed   int    // events Verify(all signatures) counts as good: those before the damage
	}{
		{"body changed", func(t *testing.T, e *env) {
			rawExec(t, e, `UPDATE events SET body = CAST('{"n":1000}' AS BLOB) WHERE seq = 5`)
		}, true, "/5", 4},
		{"signature of the newest event changed", func(t *testing.T, e *env) {
			rawExec(t, e, `UPDATE events SET sig = randomblob(64) WHERE seq = 11`)
		}, true, "signature", 10},
		{"signature in the middle changed", func(t *testing.T, e *env) {
			rawExec(t, e, `UPDATE events SET sig = randomblob(64) WHERE seq = 6`)
		}, false, "signature", 5},
		{"event deleted", func(t *testing.T, e *env) {
			rawExec(t, e, `DELETE FROM events WHERE seq = 4`)
		}, true, "chain", 3},
		{"sequence number reused with other content, properly signed", func(t *testing.T, e *env) {
			// The node itself (or its stolen key) rewrites seq 6: seq 7 no longer links.
			var forged event.Event
			e.st.View(ctx, func(tx store.ReadTx) error {
				evs, err := tx.Events(ctx, e.keys.NodeID, 5, 1)
				if err != nil || len(evs) != 1 {
					t.Fatalf("read seq 6: %v", err)
				}
				forged = evs[0]
				return nil
			})
			forged.Body = json.RawMessage(`{"n":-1000}`)
			forged.Seal(e.keys.Signing)
			if err := event.VerifyRun(forged.Prev, 5, []event.Event{forged}, e.l.PublicKey(), true); err != nil {
				t.Fatalf("the forged seq 6 is not valid on its own: %v", err)
			}
			rawExec(t, e, fmt.Sprintf(`UPDATE events SET body = x'%x', hash = x'%x', sig = x'%x' WHERE seq = 6`,
				[]byte(forged.Body), forged.Hash, forged.Sig))
		}, true, "chain", 6},
		{"forged event appended with another key", func(t *testing.T, e *env) {
			err := e.st.Update(ctx, func(tx store.Tx) error {
				head, err := tx.Head(ctx, e.keys.NodeID)
				if err != nil {
					return err
				}
				forged := event.Event{Node: e.keys.NodeID, Seq: head.Seq + 1, HLC: head.HLC + 1, Kind: "tally.add",
					Subject: "c0", Body: json.RawMessage(`{"n":5}`), Prev: head.Hash}
				forged.Seal(strangerKey)
				return tx.InsertEvent(ctx, &forged)
			})
			if err != nil {
				t.Fatal(err)
			}
		}, true, "signature", 11},
		{"events from a node never enrolled", func(t *testing.T, e *env) {
			err := e.st.Update(ctx, func(tx store.Tx) error {
				ev := event.Event{Node: "ffffffffffffffff", Seq: 1, HLC: 1, Kind: "tally.add", Subject: "c0", Body: json.RawMessage(`{"n":5}`)}
				ev.Seal(strangerKey)
				return tx.InsertEvent(ctx, &ev)
			})
			if err != nil {
				t.Fatal(err)
			}
		}, true, "not enrolled", 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			seed(t, e, 10) // seq 1..11
			if rep, err := e.l.Verify(ctx, true); err != nil || !rep.OK() {
				t.Fatalf("before tampering: %+v, %v", rep, err)
			}
			tt.tamper(t, e)
			full, err := e.l.Verify(ctx, true)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if full.OK() {
				t.Fatalf("Verify(all signatures) found nothing wrong: %+v", full)
			}
			if !strings.Contains(strings.Join(full.Problems, "\n"), tt.mention) {
				t.Errorf("problems %q do not mention %q", full.Problems, tt.mention)
			}
			// What passed before the damage is counted, not dropped.
			if full.Events != tt.passed || full.Nodes[e.keys.NodeID] != uint64(tt.passed) {
				t.Errorf("Verify(all signatures) counts %d events, node at %d; want %d", full.Events, full.Nodes[e.keys.NodeID], tt.passed)
			}
			quick, err := e.l.Verify(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if quick.OK() == tt.lastOnly {
				t.Errorf("Verify(one signature per run) OK = %v, want %v: %q", quick.OK(), !tt.lastOnly, quick.Problems)
			}
		})
	}
}

// TestProjectionOrderIndependent: for projections built to be order
// independent (LWW by (HLC, node, seq); sums of deltas), the same events
// applied in any order give the same state hash (DESIGN §4).
func TestProjectionOrderIndependent(t *testing.T) {
	e := newEnv(t)
	proj := testProjector()
	apply := func(evs []event.Event) (string, error) {
		err := e.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.ResetProjections(ctx); err != nil {
				return err
			}
			for i := range evs {
				if err := proj.Apply(ctx, tx, &evs[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		var h string
		err = e.st.View(ctx, func(tx store.ReadTx) error {
			h, err = StateHash(ctx, tx)
			return err
		})
		return h, err
	}
	emptyHash, err := apply(nil)
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		nodes := []string{"n1", "n2", "n3"}
		seqs := map[string]uint64{}
		n := rapid.IntRange(1, 40).Draw(t, "n")
		evs := make([]event.Event, n)
		for i := range evs {
			node := rapid.SampledFrom(nodes).Draw(t, "node")
			seqs[node]++
			hlc := event.MakeHLC(rapid.Int64Range(0, 5).Draw(t, "ms"), uint16(rapid.IntRange(0, 1).Draw(t, "logical")))
			subject := rapid.SampledFrom([]string{"s1", "s2", "s3"}).Draw(t, "subject")
			var kind string
			var body []byte
			if rapid.Bool().Draw(t, "lww") {
				kind = "lww.set"
				body, _ = json.Marshal(rapid.SampledFrom([]string{"a", "b", "c", "d"}).Draw(t, "value"))
			} else {
				kind = "tally.add"
				body, _ = json.Marshal(tallyBody{N: rapid.IntRange(-5, 5).Draw(t, "delta")})
			}
			evs[i] = event.Event{Node: node, Seq: seqs[node], HLC: hlc, Kind: kind, Subject: subject, Body: body}
		}
		inOrder, err := apply(evs)
		if err != nil {
			t.Fatal(err)
		}
		shuffled := rapid.Permutation(evs).Draw(t, "order")
		got, err := apply(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if got != inOrder {
			t.Fatalf("state hash in another order %s, in order %s", got, inOrder)
		}
		if inOrder == emptyHash {
			t.Fatalf("%d events left the state hash of an empty store", n)
		}
	})
}

// TestBigRequestSigned: a request big enough to be signed on several cores
// gives events whose every signature and chain link verifies, in order.
func TestBigRequestSigned(t *testing.T) {
	e := newEnv(t)
	if err := e.l.Genesis(ctx, "init", "test node"); err != nil {
		t.Fatal(err)
	}
	drafts := make([]Draft, 4*parallelSignMin+3)
	for i := range drafts {
		drafts[i] = add(fmt.Sprintf("c%d", i%7), i)
	}
	evs, err := e.l.Append(ctx, "ana", drafts)
	if err != nil {
		t.Fatal(err)
	}
	pub := e.l.PublicKey()
	for i := range evs {
		if err := evs[i].CheckSig(pub); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if i > 0 && string(evs[i].Prev) != string(evs[i-1].Hash) {
			t.Fatalf("event %d does not chain to event %d", i, i-1)
		}
	}
	rep, err := e.l.Verify(ctx, true)
	if err != nil || !rep.OK() || rep.Events != len(drafts)+1 {
		t.Fatalf("Verify = %+v, %v; want %d events and no problem", rep, err, len(drafts)+1)
	}
}
