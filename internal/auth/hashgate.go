package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"unicode/utf8"
)

// ErrBusy means too many password checks are already running or waiting;
// the client should try again in a moment.
var ErrBusy = errors.New("too many logins at once; try again in a moment")

// hashQueuePerSlot is how many callers may wait for each hash slot before
// more are refused with ErrBusy: a caller at the back waits about that
// many hashes (a second or two), and a flood is answered at once instead
// of piling up.
const hashQueuePerSlot = 8

// hashGate bounds the password hashes running at once. Each Argon2id hash
// takes PasswordKDF.MemoryKiB (64 MiB): without a bound, a few dozen
// parallel logins run a small node out of memory (S8).
type hashGate struct {
	slots    chan struct{}
	maxQueue int32
	waiting  atomic.Int32
	// running and peak count hashes in progress, so tests can see the bound.
	running, peak atomic.Int32
	// hook, when set (by tests only), runs while a slot is held.
	hook func()
}

func newHashGate(slots, queue int) *hashGate {
	return &hashGate{slots: make(chan struct{}, max(slots, 1)), maxQueue: int32(max(queue, 0))}
}

func defaultHashGate() *hashGate {
	n := runtime.NumCPU()
	return newHashGate(n, n*hashQueuePerSlot)
}

// acquire waits for a slot, honouring ctx, and returns its release. When
// the queue is full it returns ErrBusy at once.
func (g *hashGate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.maxQueue {
			g.waiting.Add(-1)
			return nil, ErrBusy
		}
		select {
		case g.slots <- struct{}{}:
			g.waiting.Add(-1)
		case <-ctx.Done():
			g.waiting.Add(-1)
			return nil, fmt.Errorf("wait for a password check: %w", ctx.Err())
		}
	}
	n := g.running.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if g.hook != nil {
		g.hook()
	}
	return func() {
		g.running.Add(-1)
		<-g.slots
	}, nil
}

// LimitHashes sets how many password hashes may run at once (slots) and
// how many callers may wait for one (queue) before ErrBusy. The default is
// one slot per CPU and hashQueuePerSlot waiting per slot. Call it before
// the service is used.
func (s *Service) LimitHashes(slots, queue int) { s.hashes = newHashGate(slots, queue) }

// hash runs HashPassword within the gate.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return "", ErrWeakPassword // no need to queue for that
	}
	release, err := s.hashes.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(pw, s.KDF)
}
