package web

import (
	"sync"
	"time"
)

// limiter is an in-memory token bucket per key. Card codes are random, but
// a look-up endpoint without a limit would still let an insider sweep the
// code space or confirm lists of codes (S9). It lives in memory: a restart
// refills the buckets, which costs an attacker a restart they cannot cause.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter allows perMinute look-ups a minute with bursts of burst.
func newLimiter(perMinute, burst int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}, now: time.Now}
}

// Check-ins get a budget of their own, twenty times the look-up budget.
// A volunteer at a crossing scans a card every second or two, and a phone
// that queued scans while offline sends up to journey.MaxBatch at once: the
// card-code budget (30 a minute) would stop both within seconds, so it does
// not apply. Check-ins still reveal a name for a valid code, so they are
// not unlimited (S9, S10): 600 a minute sustained is faster than any person
// scans, a burst of 600 lets a full queued batch through, and a sweep of
// the code space stays below 900,000 guesses a day against codes of 40+
// random bits, each attempt audited. A user who runs out is logged (by id).
const (
	checkinsPerMinute = 600
	checkinBurst      = 600
)

func newCheckinLimiter() *limiter { return newLimiter(checkinsPerMinute, checkinBurst) }

// allow takes a token for key, or says how long until one is free.
func (l *limiter) allow(key string) (bool, time.Duration) { return l.allowN(key, 1) }

// allowN takes n tokens for key at once, or none and says how long until
// n are free. n is capped at the burst, so any request can pass in time.
func (l *limiter) allowN(key string, n int) (bool, time.Duration) {
	need := min(float64(max(n, 1)), l.burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > 10000 {
		l.prune(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= need {
		b.tokens -= need
		return true, 0
	}
	wait := time.Duration((need - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// prune drops buckets that have refilled: forgetting them changes nothing.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
