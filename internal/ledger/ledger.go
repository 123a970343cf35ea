// Package ledger appends this node's events and keeps the projections in
// step with them. Appends from concurrent requests share one durable commit
// (group commit): throughput is bounded by commits, not by requests.
package ledger

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/store"
)

// Draft is a change not yet in the log.
type Draft struct {
	Kind    string
	Subject string
	Body    any // marshalled to JSON; PII fields already sealed
}

// ApplyFunc updates the projections for one event. For events made on this
// node it may refuse (the request then fails and nothing is written); it
// must be deterministic, and for the same set of events give the same state
// whatever the order they arrive in.
type ApplyFunc func(ctx context.Context, tx store.Tx, e *event.Event) error

// Projector routes events to the ApplyFunc registered for their kind's
// prefix (the part before the first dot: "person", "household", ...).
type Projector struct {
	byPrefix map[string]ApplyFunc
}

// NewProjector returns an empty projector.
func NewProjector() *Projector { return &Projector{byPrefix: map[string]ApplyFunc{}} }

// Handle registers fn for events whose kind starts with prefix + ".".
func (p *Projector) Handle(prefix string, fn ApplyFunc) { p.byPrefix[prefix] = fn }

// Apply projects one event. Unknown kinds are kept in the log and ignored
// here, so an older node can carry a newer node's events.
func (p *Projector) Apply(ctx context.Context, tx store.Tx, e *event.Event) error {
	prefix, _, _ := strings.Cut(e.Kind, ".")
	if fn, ok := p.byPrefix[prefix]; ok {
		return fn(ctx, tx, e)
	}
	return nil
}

// ErrClosed means the ledger has been closed.
var ErrClosed = errors.New("ledger closed")

// Ledger is the write side of a node.
type Ledger struct {
	st    store.Store
	keys  *crypto.Keys
	clock *event.Clock
	proj  *Projector
	log   *slog.Logger

	reqs chan *request
	done chan struct{}
	// closing holds Close back while an Append is queueing, so nothing is
	// queued after the writer's final drain (it would wait forever).
	closing sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
}

type request struct {
	ctx    context.Context
	actor  string
	drafts []Draft
	audit  []store.AuditEntry
	result []event.Event
	err    error
	done   chan struct{}
}

// Open starts the ledger's writer. The clock is restored from the newest
// persisted timestamp so it never goes backwards across restarts (S14).
func Open(ctx context.Context, st store.Store, keys *crypto.Keys, proj *Projector, log *slog.Logger) (*Ledger, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &Ledger{st: st, keys: keys, clock: event.NewClock(nil), proj: proj, log: log,
		reqs: make(chan *request, 1024), done: make(chan struct{})}
	err := st.View(ctx, func(tx store.ReadTx) error {
		// Our own newest timestamp, however far ahead, must never be
		// re-issued; other nodes' timestamps move the clock only when they
		// are believable (S14: a far-future event must not drag it along).
		head, err := tx.Head(ctx, keys.NodeID)
		if err != nil {
			return err
		}
		l.clock.Restore(head.HLC)
		all, err := tx.MaxHLC(ctx)
		if err == nil && all > head.HLC {
			if l.clock.Observe(all) != nil {
				log.Warn("an event in the log is stamped far in the future; the clock ignores it", "hlc", all.String())
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	l.wg.Add(1)
	go l.loop()
	return l, nil
}

// NodeID is this node's id.
func (l *Ledger) NodeID() string { return l.keys.NodeID }

// Store is the underlying store, for reads.
func (l *Ledger) Store() store.Store { return l.st }

// Close stops the writer after the requests already queued.
func (l *Ledger) Close() {
	l.closing.Lock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	l.closing.Unlock()
	l.wg.Wait()
}

// Append writes drafts as events by actor, durably and atomically: all of
// them or none. Audit entries are written in the same commit.
func (l *Ledger) Append(ctx context.Context, actor string, drafts []Draft, audit ...store.AuditEntry) ([]event.Event, error) {
	r := &request{ctx: ctx, actor: actor, drafts: drafts, audit: audit, done: make(chan struct{})}
	l.closing.RLock()
	if l.closed {
		l.closing.RUnlock()
		return nil, ErrClosed
	}
	select {
	case l.reqs <- r:
		l.closing.RUnlock()
	case <-ctx.Done():
		l.closing.RUnlock()
		return nil, ctx.Err()
	}
	// Once queued the request is committed or refused as a whole; waiting
	// for it even if ctx ends keeps "acknowledged" and "durable" the same.
	<-r.done
	return r.result, r.err
}

// Audit records reads (or other non-changes) in the audit trail, durably.
func (l *Ledger) Audit(ctx context.Context, entries ...store.AuditEntry) error {
	_, err := l.Append(ctx, "", nil, entries...)
	return err
}

const maxBatch = 512

// commitDelay is how long the writer waits before gathering a batch when
// the last commit carried more than one request (PostgreSQL's commit_delay,
// for the same reason). Under concurrent load, such as a crossing's
// scanners, most requests are still reading when the writer comes round,
// so a batch taken at once holds few of them; every commit then pays its
// sync and its WAL writes, and every reader's page cache is emptied by it.
// Waiting two milliseconds gathers several times more requests a commit
// and saves a sixth of a check-in's CPU, which shortens the queue more
// than the wait adds (p99 at 2,000 check-ins/s: about 25 ms, against 40 to
// 100 ms with 1 ms). A lone writer (the CLI, a bulk load) sees batches of
// one and never waits.
const commitDelay = 2 * time.Millisecond

func (l *Ledger) loop() {
	defer l.wg.Done()
	last := 0 // requests in the last commit
	for {
		var first *request
		select {
		case first = <-l.reqs:
		case <-l.done:
			// Drain what was queued before close so no caller hangs.
			for {
				select {
				case r := <-l.reqs:
					l.commit([]*request{r})
				default:
					return
				}
			}
		}
		batch := []*request{first}
		if last > 1 {
			time.Sleep(commitDelay)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		l.commit(batch)
		last = len(batch)
	}
}

func (l *Ledger) commit(batch []*request) {
	ctx := context.Background()
	err := l.st.Update(ctx, func(tx store.Tx) error {
		head, err := tx.Head(ctx, l.keys.NodeID)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		l.clock.Restore(head.HLC)
		for i, r := range batch {
			r.result, r.err = nil, nil
			if len(batch) > 1 {
				if err := tx.Savepoint(ctx, fmt.Sprintf("r%d", i)); err != nil {
					return err
				}
			}
			saved := head
			evs, err := l.write(ctx, tx, &head, r)
			if err != nil {
				if len(batch) == 1 {
					return err
				}
				if rbErr := tx.RollbackTo(ctx, fmt.Sprintf("r%d", i)); rbErr != nil {
					return rbErr
				}
				head = saved
				r.err = err
			} else {
				r.result = evs
			}
			if len(batch) > 1 {
				if err := tx.Release(ctx, fmt.Sprintf("r%d", i)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, r := range batch {
		if err != nil {
			r.result, r.err = nil, err
		}
		close(r.done)
	}
}

// write turns one request's drafts into events, inserts and projects them.
func (l *Ledger) write(ctx context.Context, tx store.Tx, head *store.Head, r *request) ([]event.Event, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	evs := make([]event.Event, 0, len(r.drafts))
	audit := make([]store.AuditEntry, 0, len(r.drafts)+len(r.audit))
	// Hashes first, in order (each names the one before), then the
	// signatures, which are independent: a big request signs on every core.
	seq, prev := head.Seq, head.Hash
	for _, d := range r.drafts {
		body, err := json.Marshal(d.Body)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", d.Kind, err)
		}
		seq++
		e := event.Event{Node: l.keys.NodeID, Seq: seq, HLC: l.clock.Now(), Actor: r.actor,
			Kind: d.Kind, Subject: d.Subject, Body: body, Prev: prev}
		e.Hash = e.ComputeHash()
		prev = e.Hash
		evs = append(evs, e)
	}
	l.sign(evs)
	for i := range evs {
		e := &evs[i]
		if err := tx.InsertEvent(ctx, e); err != nil {
			return nil, fmt.Errorf("store event %d: %w", e.Seq, err)
		}
		if err := l.proj.Apply(ctx, tx, e); err != nil {
			return nil, err
		}
		head.Seq, head.Hash, head.HLC = e.Seq, e.Hash, e.HLC
		audit = append(audit, store.AuditEntry{At: now, Actor: r.actor, Action: e.Kind, Record: e.Subject, Detail: e.ID()})
	}
	for _, a := range r.audit {
		if a.At == 0 {
			a.At = now
		}
		audit = append(audit, a)
	}
	if len(audit) > 0 {
		if err := tx.AppendAudit(ctx, audit...); err != nil {
			return nil, fmt.Errorf("write audit: %w", err)
		}
	}
	return evs, nil
}

// parallelSignMin is the smallest request signed on several cores: below
// it, starting goroutines costs more than the signatures.
const parallelSignMin = 256

// sign signs evs (hashed already) with the node key.
func (l *Ledger) sign(evs []event.Event) {
	workers := min(runtime.GOMAXPROCS(0), len(evs)/parallelSignMin)
	if workers < 2 {
		for i := range evs {
			evs[i].Sig = ed25519.Sign(l.keys.Signing, evs[i].Hash)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(evs); i += workers {
				evs[i].Sig = ed25519.Sign(l.keys.Signing, evs[i].Hash)
			}
		})
	}
	wg.Wait()
}

// PublicKey is this node's signing public key.
func (l *Ledger) PublicKey() ed25519.PublicKey { return l.keys.Signing.Public().(ed25519.PublicKey) }
