package event

import (
	"fmt"
	"sync"
	"time"
)

// HLC is a hybrid logical clock timestamp: milliseconds since the Unix epoch
// in the high 48 bits, a logical counter in the low 16. It orders events
// causally across nodes while staying close to wall time.
type HLC uint64

// MakeHLC builds a timestamp from wall time and a counter.
func MakeHLC(ms int64, logical uint16) HLC { return HLC(uint64(ms)<<16 | uint64(logical)) }

// Millis is the wall-clock part.
func (h HLC) Millis() int64 { return int64(h >> 16) }

// Time is the wall-clock part as a time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Millis()).UTC() }

func (h HLC) String() string {
	return fmt.Sprintf("%s+%d", h.Time().Format("2006-01-02T15:04:05.000Z"), uint16(h))
}

// MaxDrift is how far in the future a remote timestamp may be before it is
// held for review instead of moving our clock (S14: clocks lie).
const MaxDrift = 5 * time.Minute

// Clock issues strictly increasing HLC timestamps. It never goes backwards,
// even across restarts, as long as it is seeded with Observe(last persisted).
type Clock struct {
	mu   sync.Mutex
	last HLC
	now  func() time.Time
}

// NewClock returns a clock reading wall time from now (time.Now when nil).
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// Now returns a timestamp greater than every one issued or observed.
func (c *Clock) Now() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := MakeHLC(c.now().UnixMilli(), 0)
	if wall > c.last {
		c.last = wall
	} else {
		c.last++
	}
	return c.last
}

// Wall returns the wall clock as a timestamp, without ticking the clock:
// what S14 judges a remote timestamp against (the clock itself may run up
// to MaxDrift ahead of the wall, moved on by believable remote clocks).
func (c *Clock) Wall() HLC { return MakeHLC(c.now().UnixMilli(), 0) }

// ErrFuture means a timestamp is too far ahead of our wall clock to trust.
var ErrFuture = fmt.Errorf("timestamp more than %s in the future", MaxDrift)

// Observe folds a timestamp seen elsewhere (a persisted event or a remote
// one) into the clock. A timestamp beyond MaxDrift is refused and does not
// drag the clock forward.
func (c *Clock) Observe(h HLC) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.Millis() > c.now().Add(MaxDrift).UnixMilli() {
		return ErrFuture
	}
	if h > c.last {
		c.last = h
	}
	return nil
}

// Restore seeds the clock from the newest timestamp this node persisted,
// however far ahead it is: our own past must never be re-issued.
func (c *Clock) Restore(h HLC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h > c.last {
		c.last = h
	}
}
