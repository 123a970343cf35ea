package replication

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"caravana/internal/auth"
)

// cutter sits in front of a node's sync endpoints and breaks the
// connection of chosen requests: a pull's answer half sent, a push after
// the server has applied it but before it answers.
type cutter struct {
	h     http.Handler
	mu    sync.Mutex
	seen  map[string]int
	cutAt map[string]int // path -> which request (1-based) to cut
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.seen[r.URL.Path]++
	cut := c.cutAt[r.URL.Path] != 0 && c.seen[r.URL.Path] == c.cutAt[r.URL.Path]
	c.mu.Unlock()
	if !cut {
		c.h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r) // the server does all its work...
	if r.URL.Path == PathPull {
		// ...and half of its answer goes out before the line drops.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
	}
	panic(http.ErrAbortHandler) // drop the connection
}

func (c *cutter) set(path string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen, c.cutAt = map[string]int{}, map[string]int{path: n}
}

// TestSyncResumesAfterCut: a sync whose connection drops mid-pull, or
// after the server applied a push but before it answered, fails; the next
// sync carries on from the vectors. Only whole batches are ever applied,
// nothing is lost and nothing is applied or sent twice.
func TestSyncResumesAfterCut(t *testing.T) {
	for _, plain := range []bool{true, false} {
		name := "gzip"
		if plain {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := liveFounder(t)
			_, h := liveMux(a)
			cut := &cutter{h: h, seen: map[string]int{}, cutAt: map[string]int{}}
			ts := httptest.NewServer(cut)
			t.Cleanup(ts.Close)
			b := liveJoin(t, a, ts.URL)
			liveRegister(t, a, "Ana", 300)
			liveRegister(t, b, "Beto", 120)
			c := &Client{Batch: 50, Plain: plain}
			ofA := func() uint64 {
				v, err := b.Ledger.Vector(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return v[a.Keys.NodeID]
			}
			ofB := func() uint64 {
				v, err := a.Ledger.Vector(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return v[b.Keys.NodeID]
			}
			startA, startB := ofA(), ofB()

			// The third pull's answer is cut half way: two whole batches are in.
			cut.set(PathPull, 3)
			if _, err := c.Sync(ctx, b, ts.URL, nil); err == nil {
				t.Fatal("a sync whose answer was cut succeeded")
			}
			if got := ofA(); got != startA+100 {
				t.Fatalf("after the cut pull b holds %d of a's events, want %d", got, startA+100)
			}
			p, _, _ := GetPeer(ctx, b.Store, a.Keys.NodeID)
			if p.LastError == "" {
				t.Error("the failed sync is not recorded")
			}

			// The first push is applied by a, but its answer is lost.
			cut.set(PathPush, 1)
			if _, err := c.Sync(ctx, b, ts.URL, nil); err == nil {
				t.Fatal("a sync whose push answer was lost succeeded")
			}
			if got := ofB(); got != startB+50 {
				t.Fatalf("after the cut push a holds %d of b's events, want %d", got, startB+50)
			}

			cut.set("", 0)
			rep, err := c.Sync(ctx, b, ts.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing is sent twice: a's vector says it has the cut push.
			if rep.Pushed != 70 || rep.PushedKnown != 0 || rep.Known != 0 || rep.Pulled != 0 {
				t.Fatalf("resumed sync: %+v", rep)
			}
			if liveState(t, a) != liveState(t, b) || liveEvents(t, a) != liveEvents(t, b) {
				t.Fatal("a and b differ after the resumed sync")
			}
			_, total, err := b.Registry.List(ctx, auth.Operator("test"), 0, 1)
			if err != nil || total != 420 {
				t.Fatalf("people on b: %d %v", total, err)
			}
			_, total, err = a.Registry.List(ctx, auth.Operator("test"), 0, 1)
			if err != nil || total != 420 {
				t.Fatalf("people on a: %d %v", total, err)
			}
		})
	}
}
