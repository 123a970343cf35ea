package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"caravana/internal/event"
	"caravana/internal/store"
)

// zeroSignature replaces the signature of the node's own event seq with
// zeros, as damage on disk would, through the store.
func zeroSignature(t *testing.T, e *cliEnv, seq uint64) {
	t.Helper()
	ctx := context.Background()
	n := e.open(t)
	defer n.Close()
	id := n.Keys.NodeID
	err := n.Store.Update(ctx, func(tx store.Tx) error {
		evs, err := tx.Events(ctx, id, seq-1, 100000)
		if err != nil {
			return err
		}
		if len(evs) < 2 || evs[0].Seq != seq {
			t.Fatalf("node has events %d.. after %d: want seq %d with more after it", len(evs), seq-1, seq)
		}
		if _, err := tx.DeleteEventsAfter(ctx, id, seq-1); err != nil {
			return err
		}
		evs[0].Sig = make([]byte, len(evs[0].Sig))
		return tx.InsertEvents(ctx, evs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type verifyReport struct {
	Events    int      `json:"events"`
	StateHash string   `json:"state_hash"`
	Problems  []string `json:"problems"`
}

// TestVerifyChecksEverySignature: a signature damaged in the middle of a
// run fails `caravana verify` by default; --quick (one signature per run)
// does not see it; the old --all-signatures still parses. The events
// before the damaged one are counted.
func TestVerifyChecksEverySignature(t *testing.T) {
	e := newCLIEnv(t)
	total := e.events(t)
	if code, out, stderr := e.run(t, "verify"); code != 0 || !strings.Contains(out, "state hash") {
		t.Fatalf("verify on a sound log: exit %d\n%s%s", code, out, stderr)
	}
	const damaged = 3
	if total < damaged+2 {
		t.Fatalf("only %d events", total)
	}
	zeroSignature(t, e, damaged)
	tests := []struct {
		name   string
		args   []string
		code   int
		events int
	}{
		{"default", []string{"verify"}, 1, damaged - 1},
		{"old flag", []string{"verify", "--all-signatures"}, 1, damaged - 1},
		{"quick", []string{"verify", "--quick"}, 0, total},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := e.run(t, append([]string{"--json"}, tt.args...)...)
			var rep verifyReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("output is not a report: %v\n%s%s", err, out, stderr)
			}
			if code != tt.code || rep.Events != tt.events {
				t.Errorf("exit %d with %d events, want exit %d with %d\n%s%s", code, rep.Events, tt.code, tt.events, out, stderr)
			}
			if tt.code != 0 && !strings.Contains(strings.Join(rep.Problems, "\n"), event.ErrBadSignature.Error()) {
				t.Errorf("problems %q do not name the signature", rep.Problems)
			}
		})
	}
	if code, out, stderr := e.run(t, "verify", "--quick", "--all-signatures"); code != 2 {
		t.Errorf("--quick with --all-signatures: exit %d, want 2\n%s%s", code, out, stderr)
	}
}
