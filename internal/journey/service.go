package journey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// ErrNotFound means no such person, stage, incident or hazard. It is the
// registry's sentinel, so callers map both the same way (404).
var ErrNotFound = registry.ErrNotFound

// Service is the journey's domain API, shared by the CLI, the JSON API and
// the web pages. Every method checks the principal's role.
type Service struct {
	led  *ledger.Ledger
	st   store.Store
	reg  *registry.Service
	now  func() time.Time
	rand io.Reader
	// stripes serialise check-ins of the same (person, stage) on this node,
	// so two scans racing each other append one event, not two.
	stripes [64]sync.Mutex
	// appended tells a check-in that read its snapshot before taking its
	// stripes whether the same pair was appended in between.
	appended appendLog
	// routeCache keeps the last route decoded, by its stored bytes: every
	// check-in reads the route, and it changes once in weeks.
	routeCache struct {
		sync.Mutex
		raw []byte
		r   Route
	}
}

// NewService builds the journey service over a ledger and the registry.
func NewService(led *ledger.Ledger, reg *registry.Service) *Service {
	return &Service{led: led, st: led.Store(), reg: reg, now: time.Now, rand: rand.Reader}
}

func (s *Service) newID() string {
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("random source failed: %v", err))
	}
	return hex.EncodeToString(b)
}

// lockPairs locks the stripes of the given (person, stage) keys in a fixed
// order (no deadlock between batches) and returns the unlock.
func (s *Service) lockPairs(keys []string) func() {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k))
		idx = append(idx, int(h.Sum32()%uint32(len(s.stripes))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.stripes[i].Lock()
	}
	return func() {
		for _, i := range idx {
			s.stripes[i].Unlock()
		}
	}
}

// appendWindow is how long appendLog remembers a pair. A check-in whose
// snapshot is older than half of it when it holds its stripes reads again.
const appendWindow = 10 * time.Second

// appendLog remembers the (person, stage) pairs this node appended
// check-ins for lately, each with the generation of its append. A check-in
// reads everything it needs in one snapshot and only then locks its pairs'
// stripes (it learns the person ids from the snapshot), so another scan of
// the same pair may have been appended between the two. Every append of a
// pair is recorded here, under the pair's stripe, once it is durable and
// visible to new snapshots; a check-in notes the generation before its
// snapshot, and after locking asks which of its pairs were recorded at a
// later one: those it reads again. Anything recorded at or before the
// generation it noted was visible to its snapshot.
type appendLog struct {
	mu    sync.Mutex
	gen   uint64
	pairs map[string]appendMark
	swept time.Time
}

type appendMark struct {
	gen uint64
	at  time.Time
}

// generation returns the current generation: appends recorded so far are
// visible to any snapshot started after this call.
func (l *appendLog) generation() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

// record notes that keys were appended (durably, visible to new snapshots).
// The caller holds their stripes.
func (l *appendLog) record(keys []string, now time.Time) {
	if len(keys) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	if l.pairs == nil {
		l.pairs = map[string]appendMark{}
	}
	for _, k := range keys {
		l.pairs[k] = appendMark{gen: l.gen, at: now}
	}
	if now.Sub(l.swept) > appendWindow {
		for k, m := range l.pairs {
			if now.Sub(m.at) > appendWindow {
				delete(l.pairs, k)
			}
		}
		l.swept = now
	}
}

// since returns which of keys were recorded after generation gen.
func (l *appendLog) since(keys []string, gen uint64) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, k := range keys {
		if m, ok := l.pairs[k]; ok && m.gen > gen {
			out = append(out, k)
		}
	}
	return out
}

func invalid(field, code, msg string) registry.ValidationError {
	return registry.ValidationError{{Field: field, Code: code, Message: msg}}
}

// readRoute returns the current route: the latest route.set, else the
// shipped default.
func (s *Service) readRoute(ctx context.Context, tx store.ReadTx) (Route, error) {
	r, err := s.readRouteShared(ctx, tx)
	r.Stages = slices.Clone(r.Stages)
	return r, err
}

// readRouteShared is readRoute without the copy: its stages are shared
// with the cache (or the default route), and the caller must not change
// them.
func (s *Service) readRouteShared(ctx context.Context, tx store.ReadTx) (Route, error) {
	raw, err := tx.Get(ctx, docRoute, docRouteID)
	if err == store.ErrNotFound {
		return defaultRoute, nil
	}
	if err != nil {
		return Route{}, err
	}
	s.routeCache.Lock()
	defer s.routeCache.Unlock()
	if !bytes.Equal(raw, s.routeCache.raw) {
		var d routeDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return Route{}, err
		}
		if len(d.Stages) == 0 {
			return defaultRoute, nil
		}
		s.routeCache.raw = bytes.Clone(raw)
		s.routeCache.r = Route{Stages: d.Stages, SetBy: d.By, SetAt: d.T.Time()}
	}
	return s.routeCache.r, nil
}

func (s *Service) route(ctx context.Context) (Route, error) {
	var r Route
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		r, err = s.readRoute(ctx, tx)
		return err
	})
	return r, err
}

// Route returns the current route.
func (s *Service) Route(ctx context.Context, p auth.Principal) (Route, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return Route{}, err
	}
	return s.route(ctx)
}

// SetRoute replaces the route with stages, after validating them as a file
// would be (a *RouteError lists every problem; nothing is changed). Setting
// the route it already has appends nothing.
func (s *Service) SetRoute(ctx context.Context, p auth.Principal, stages []Stage) (Route, error) {
	if err := auth.Check(p, auth.RouteWrite); err != nil {
		return Route{}, err
	}
	r, err := ValidateRoute(stages)
	if err != nil {
		return Route{}, err
	}
	return s.setRoute(ctx, p, r)
}

// ImportRoute parses a route file (JSON or CSV) and makes it the route.
// A bad file gets a *RouteError naming file, line and field, and changes
// nothing.
func (s *Service) ImportRoute(ctx context.Context, p auth.Principal, file string, data []byte) (Route, error) {
	if err := auth.Check(p, auth.RouteWrite); err != nil {
		return Route{}, err
	}
	r, err := ParseRoute(file, data)
	if err != nil {
		return Route{}, err
	}
	return s.setRoute(ctx, p, r)
}

func (s *Service) setRoute(ctx context.Context, p auth.Principal, r Route) (Route, error) {
	cur, err := s.route(ctx)
	if err != nil {
		return Route{}, err
	}
	if !cur.Default && slices.Equal(cur.Stages, r.Stages) {
		return cur, nil
	}
	d := ledger.Draft{Kind: KindRouteSet, Subject: routeSubject, Body: routeBody{Stages: r.Stages}}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{d}); err != nil {
		return Route{}, fmt.Errorf("set route: %w", err)
	}
	return s.route(ctx)
}

// seenStages lists the ids of every stage anyone was checked in at, with
// the number of distinct people seen there.
func seenStages(ctx context.Context, tx store.ReadTx) (map[string]int, error) {
	ids, err := tx.Range(ctx, idxStages, false, 0, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(ids))
	for _, id := range ids {
		if out[id], err = tx.Count(ctx, checkinKind(id)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Unrouted lists stages that have check-ins but are not on the current
// route (after a route change, or from another node's newer route).
func (s *Service) Unrouted(ctx context.Context, p auth.Principal) ([]string, error) {
	if err := auth.Check(p, auth.JourneyRead); err != nil {
		return nil, err
	}
	var out []string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		seen, err := seenStages(ctx, tx)
		if err != nil {
			return err
		}
		for id := range seen {
			if r.Index(id) < 0 {
				out = append(out, id)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// stageOrLatest resolves a stage id given by a user: "" means the latest
// checkpoint. It reports a validation error for an unknown stage.
func (s *Service) stageOrLatest(ctx context.Context, tx store.ReadTx, r Route, field, stage string) (int, error) {
	if stage == "" {
		seen, err := seenStages(ctx, tx)
		if err != nil {
			return -1, err
		}
		cps := checkpoints(r, seen)
		if len(cps) == 0 {
			return -1, invalid(field, "no_checkpoint", "nobody has been checked in at any stage yet")
		}
		return cps[len(cps)-1], nil
	}
	i := r.Index(stage)
	if i < 0 {
		return -1, invalid(field, "unknown_stage", "is not a stage of the route (see 'caravana route show')")
	}
	return i, nil
}

// checkpoints are the route positions of the stages where someone was
// checked in, in route order.
func checkpoints(r Route, seen map[string]int) []int {
	var out []int
	for i, st := range r.Stages {
		if seen[st.ID] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// isValidation reports whether err is a validation error (bad input).
func isValidation(err error) bool {
	var v registry.ValidationError
	return errors.As(err, &v)
}
