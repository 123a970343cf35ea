package auth

import (
	"testing"
	"time"

	"caravana/internal/crypto"
)

// SetNow sets the clock the service uses for session timeouts.
func SetNow(s *Service, now func() time.Time) { s.now = now }

// SetThrottleNow sets the clock a throttle uses for lockouts.
func SetThrottleNow(t *Throttle, now func() time.Time) { t.now = now }

// LimitHashCost lowers the highest Argon2id cost CheckPassword accepts from
// a stored hash, for the duration of a test (fuzzing would otherwise spend
// its time hashing with a gigabyte of memory).
func LimitHashCost(tb testing.TB, p crypto.KDFParams) {
	old := maxHashKDF
	maxHashKDF = p
	tb.Cleanup(func() { maxHashKDF = old })
}

// MaxHashCost is the production bound.
func MaxHashCost() crypto.KDFParams { return maxHashKDF }

// TokenKey is the key a session token is stored under.
func TokenKey(token string) string { return tokenKey(token) }

// HashGateStats reports the hashes running now, the most that ever ran at
// once, and the callers waiting for a slot.
func HashGateStats(s *Service) (running, peak, waiting int) {
	g := s.hashes
	return int(g.running.Load()), int(g.peak.Load()), int(g.waiting.Load())
}

// SetHashHook makes every hash slot, once taken, call fn before hashing.
// Call it after LimitHashes (which makes a new gate).
func SetHashHook(s *Service, fn func()) { s.hashes.hook = fn }

// ThrottleID is where a throttle stores key's record.
func ThrottleID(t *Throttle, key string) string { return t.id(key) }
