package event_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"caravana/internal/event"
)

// fakeWall is a settable wall clock.
type fakeWall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *fakeWall) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *fakeWall) set(t time.Time) {
	w.mu.Lock()
	w.t = t
	w.mu.Unlock()
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestHLCParts(t *testing.T) {
	h := event.MakeHLC(epoch.UnixMilli(), 7)
	if h.Millis() != epoch.UnixMilli() || uint16(h) != 7 || !h.Time().Equal(epoch) {
		t.Errorf("MakeHLC parts = %d, %d, %v", h.Millis(), uint16(h), h.Time())
	}
	if got, want := h.String(), "2026-03-01T12:00:00.000Z+7"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if event.MakeHLC(1, 0) <= event.MakeHLC(0, 0xffff) {
		t.Error("a later millisecond does not order after the largest counter of the one before")
	}
}

// issue calls c.Now n times and fails unless every timestamp is above the one before.
func issue(t *testing.T, c *event.Clock, n int, after event.HLC) event.HLC {
	t.Helper()
	last := after
	for i := range n {
		h := c.Now()
		if h <= last {
			t.Fatalf("call %d: Now = %v, not after %v", i, h, last)
		}
		last = h
	}
	return last
}

func TestNowStrictlyIncreasing(t *testing.T) {
	c := event.NewClock(nil)
	before := event.MakeHLC(time.Now().UnixMilli(), 0)
	last := issue(t, c, 200_000, 0)
	if first := c.Now(); first.Millis() < before.Millis() {
		t.Errorf("real clock: Now %v is behind the wall clock %v", first, before)
	}

	// The wall clock stands still: the logical counter carries on, and past 65535 it spills
	// into the millisecond without ever repeating.
	w := &fakeWall{t: epoch}
	c = event.NewClock(w.now)
	last = issue(t, c, 70_000, 0)
	if last.Millis() < epoch.UnixMilli()+1 {
		t.Errorf("after 70000 calls in one millisecond Now = %v; the counter did not spill over", last)
	}

	// The wall clock jumps back an hour, then creeps forward: no timestamp repeats.
	for _, step := range []time.Duration{-time.Hour, time.Millisecond, -time.Minute, 30 * time.Minute, -24 * time.Hour} {
		w.set(w.now().Add(step))
		last = issue(t, c, 100, last)
	}
	// Once wall time passes the clock again, timestamps follow it.
	w.set(epoch.Add(48 * time.Hour))
	if h := c.Now(); h != event.MakeHLC(epoch.Add(48*time.Hour).UnixMilli(), 0) {
		t.Errorf("wall clock ahead again: Now = %v, want the wall time", h)
	}
}

func TestNowConcurrentDistinct(t *testing.T) {
	c := event.NewClock(nil)
	const workers, each = 8, 5000
	results := make([][]event.HLC, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			prev := event.HLC(0)
			for range each {
				h := c.Now()
				if h <= prev {
					t.Errorf("worker %d: %v after %v", i, h, prev)
				}
				prev = h
				results[i] = append(results[i], h)
			}
		})
	}
	wg.Wait()
	seen := map[event.HLC]bool{}
	for _, r := range results {
		for _, h := range r {
			if seen[h] {
				t.Fatalf("timestamp %v issued twice", h)
			}
			seen[h] = true
		}
	}
}

func TestRestoreNeverGoesBackwards(t *testing.T) {
	w := &fakeWall{t: epoch}
	c := event.NewClock(w.now)
	persisted := issue(t, c, 1000, 0)

	// Restart with the wall clock an hour behind: the new clock must continue after the
	// persisted timestamp, however far ahead of wall time it is.
	w2 := &fakeWall{t: epoch.Add(-time.Hour)}
	c2 := event.NewClock(w2.now)
	c2.Restore(persisted)
	if h := c2.Now(); h <= persisted {
		t.Fatalf("after Restore(%v) with the wall clock behind, Now = %v", persisted, h)
	}
	// Restore accepts a value beyond MaxDrift (our own past), unlike Observe.
	far := event.MakeHLC(epoch.Add(24*time.Hour).UnixMilli(), 5)
	c2.Restore(far)
	if h := c2.Now(); h <= far {
		t.Fatalf("after Restore(far future) Now = %v, want > %v", h, far)
	}
	// An older value never pulls it back.
	last := c2.Now()
	c2.Restore(persisted)
	c2.Restore(0)
	if h := c2.Now(); h <= last {
		t.Fatalf("Restore(older) moved the clock back: %v after %v", h, last)
	}
}

func TestObserveDrift(t *testing.T) {
	wallMs := epoch.UnixMilli()
	at := func(d time.Duration, logical uint16) event.HLC {
		return event.MakeHLC(wallMs+d.Milliseconds(), logical)
	}
	tests := []struct {
		name string
		h    event.HLC
		err  error
	}{
		{"past", at(-time.Hour, 0), nil},
		{"now", at(0, 9), nil},
		{"just inside drift", at(event.MaxDrift-time.Millisecond, 0), nil},
		{"at the drift limit", at(event.MaxDrift, 0xffff), nil},
		{"one millisecond beyond", at(event.MaxDrift+time.Millisecond, 0), event.ErrFuture},
		{"an hour ahead", at(time.Hour, 0), event.ErrFuture},
		{"a year ahead", at(365*24*time.Hour, 0), event.ErrFuture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &fakeWall{t: epoch}
			c := event.NewClock(w.now)
			err := c.Observe(tt.h)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Observe(%v) = %v, want %v", tt.h, err, tt.err)
			}
			got := c.Now()
			if tt.err == nil {
				if got <= tt.h {
					t.Errorf("after accepting %v, Now = %v", tt.h, got)
				}
				return
			}
			// Refused: the clock is where it would have been without it.
			if want := event.MakeHLC(wallMs, 0); got != want {
				t.Errorf("after refusing %v, Now = %v, want %v (wall time)", tt.h, got, want)
			}
		})
	}
}

// TestClockProperty drives a clock and a twin with random interleavings of Now,
// Observe and wall-clock jumps. Every Now is above every earlier Now and every
// accepted Observe; Observe refuses exactly what is beyond MaxDrift; and a refused
// Observe leaves no trace (the twin, which never sees it, issues the same stamps).
func TestClockProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := &fakeWall{t: epoch}
		c, twin := event.NewClock(w.now), event.NewClock(w.now)
		var floor event.HLC // every Now must be above this
		t.Repeat(map[string]func(*rapid.T){
			"now": func(t *rapid.T) {
				h, ht := c.Now(), twin.Now()
				if h <= floor {
					t.Fatalf("Now = %v, not above %v", h, floor)
				}
				if h != ht {
					t.Fatalf("clock %v and twin %v diverged", h, ht)
				}
				if wall := event.MakeHLC(w.now().UnixMilli(), 0); h < wall {
					t.Fatalf("Now = %v is behind the wall clock %v", h, wall)
				}
				floor = h
			},
			"observe": func(t *rapid.T) {
				off := time.Duration(rapid.Int64Range(-int64(time.Hour/time.Millisecond), int64(2*event.MaxDrift/time.Millisecond)).Draw(t, "offset_ms")) * time.Millisecond
				logical := rapid.Uint16().Draw(t, "logical")
				h := event.MakeHLC(w.now().Add(off).UnixMilli(), logical)
				err := c.Observe(h)
				if refuse := off > event.MaxDrift; refuse != errors.Is(err, event.ErrFuture) {
					t.Fatalf("Observe(now%+v) = %v", off, err)
				}
				if err == nil {
					if err := twin.Observe(h); err != nil {
						t.Fatalf("twin refused %v: %v", h, err)
					}
					floor = max(floor, h)
				}
			},
			"wall": func(t *rapid.T) {
				step := time.Duration(rapid.Int64Range(-int64(2*time.Hour/time.Millisecond), int64(time.Hour/time.Millisecond)).Draw(t, "step_ms")) * time.Millisecond
				w.set(w.now().Add(step))
			},
		})
	})
}
