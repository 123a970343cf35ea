package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"caravana/internal/store"
)

// lockout counts failed attempts for one key (a username or an address).
// It is stored, so a restart does not reset it (S8).
type lockout struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

// Lockout policy: a few free tries, then waits that double up to an hour.
// An address gets more free tries than a username: a whole shelter may sit
// behind one hotspot, and one person's typos must not lock everyone out.
const (
	freeTries     = 5
	freeAddrTries = 25
	firstWait     = 30 * time.Second
	maxWait       = time.Hour
)

func waitFor(key string, failures int) time.Duration {
	free := freeTries
	if strings.HasPrefix(key, "addr:") {
		free = freeAddrTries
	}
	if failures < free {
		return 0
	}
	d := firstWait << (failures - free)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	return d
}

// Throttle checks and records attempts against a key (login name, address,
// card-code look-ups, PINs). Check refuses while the key is locked.
//
// Keys are stored as keyed hashes, never as typed: a login name is often a
// password typed into the wrong field, and the lockout table may sit in
// plain text on a PostgreSQL hub.
type Throttle struct {
	st  store.Store
	key []byte // MAC key for stored ids; nil means plain SHA-256
	now func() time.Time

	mu    sync.Mutex
	swept bool // records stored under raw keys by older versions are gone
}

// NewThrottle returns a throttle stored in st whose ids are SHA-256 hashes
// of the keys. Prefer NewKeyedThrottle: a plain hash of a short guess can
// be reversed by trying guesses.
func NewThrottle(st store.Store) *Throttle { return &Throttle{st: st, now: time.Now} }

// NewKeyedThrottle returns a throttle stored in st whose ids are HMACs of
// the keys under key (a node secret, such as crypto.SessionKey). The key
// must be the same at every start, or a restart would forget lockouts.
func NewKeyedThrottle(st store.Store, key []byte) *Throttle {
	t := NewThrottle(st)
	t.key = append([]byte(nil), key...)
	return t
}

// id is where key's record is stored: its kind (the part before ":", when
// it is a short word) and a MAC of the whole key ("user:3f…"), or for an
// unkeyed throttle its SHA-256 ("user:sha256:3f…").
func (t *Throttle) id(key string) string {
	kind, _, found := strings.Cut(key, ":")
	if !found || !kindRE.MatchString(kind) {
		kind = "key"
	}
	msg := []byte("caravana lockout\x00" + key)
	if t.key == nil {
		sum := sha256.Sum256(msg)
		return kind + ":sha256:" + hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, t.key)
	m.Write(msg)
	return kind + ":" + hex.EncodeToString(m.Sum(nil))
}

// own reports whether id has the form this throttle stores. Anything else
// in the lockout table was stored under a raw key by an older version, or
// under a plain hash before the throttle had a key, and is deleted.
func (t *Throttle) own(id string) bool {
	if t.key == nil {
		return plainID.MatchString(id)
	}
	return keyedID.MatchString(id)
}

var (
	kindRE  = regexp.MustCompile(`^[a-z]{1,16}$`)
	keyedID = regexp.MustCompile(`^[a-z]{1,16}:[0-9a-f]{64}$`)
	plainID = regexp.MustCompile(`^[a-z]{1,16}:sha256:[0-9a-f]{64}$`)
)

func (t *Throttle) get(ctx context.Context, key string) (lockout, error) {
	var l lockout
	err := t.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		l, err = readLockout(ctx, tx, t.id(key))
		return err
	})
	return l, err
}

func readLockout(ctx context.Context, tx store.ReadTx, id string) (lockout, error) {
	var l lockout
	data, err := tx.LocalGet(ctx, "lockout", id)
	if errors.Is(err, store.ErrNotFound) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("read lockout: %w", err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return lockout{}, fmt.Errorf("read lockout: %w", err)
	}
	return l, nil
}

// update runs fn in a write transaction, first deleting (once per
// throttle) records not stored in its form (see own).
func (t *Throttle) update(ctx context.Context, fn func(tx store.Tx) error) error {
	t.mu.Lock()
	sweep := !t.swept
	t.mu.Unlock()
	err := t.st.Update(ctx, func(tx store.Tx) error {
		if sweep {
			var raw []string
			err := tx.LocalScan(ctx, "lockout", func(id string, _ []byte) error {
				if !t.own(id) {
					raw = append(raw, id)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("scan lockouts: %w", err)
			}
			for _, id := range raw {
				if err := tx.LocalDelete(ctx, "lockout", id); err != nil {
					return fmt.Errorf("delete old lockout: %w", err)
				}
			}
		}
		return fn(tx)
	})
	if err == nil && sweep {
		t.mu.Lock()
		t.swept = true
		t.mu.Unlock()
	}
	return err
}

// Check returns ErrLockedOut (and how long to wait) while key is locked.
func (t *Throttle) Check(ctx context.Context, key string) (time.Duration, error) {
	l, err := t.get(ctx, key)
	if err != nil {
		return 0, err
	}
	if wait := l.Until.Sub(t.now()); wait > 0 {
		return wait, ErrLockedOut
	}
	return 0, nil
}

// Fail records a failed attempt.
func (t *Throttle) Fail(ctx context.Context, key string) error {
	if err := t.update(ctx, func(tx store.Tx) error { return t.count(ctx, tx, key) }); err != nil {
		return fmt.Errorf("record failure: %w", err)
	}
	return nil
}

// take is Check and Fail in one transaction for every key: if any key is
// locked it returns the longest wait and ErrLockedOut and counts nothing;
// else it counts a failure against each key. A caller that then succeeds
// calls Reset. Counting before the slow check means parallel guesses
// cannot all slip through before the first failure is recorded (S8).
func (t *Throttle) take(ctx context.Context, keys ...string) (time.Duration, error) {
	var wait time.Duration
	err := t.update(ctx, func(tx store.Tx) error {
		now := t.now()
		for _, k := range keys {
			l, err := readLockout(ctx, tx, t.id(k))
			if err != nil {
				return err
			}
			wait = max(wait, l.Until.Sub(now))
		}
		if wait > 0 {
			return ErrLockedOut
		}
		for _, k := range keys {
			if err := t.count(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrLockedOut) {
		return wait, err
	}
	if err != nil {
		return 0, fmt.Errorf("record attempt: %w", err)
	}
	return 0, nil
}

// count adds one failure to key inside tx.
func (t *Throttle) count(ctx context.Context, tx store.Tx, key string) error {
	id := t.id(key)
	l, err := readLockout(ctx, tx, id)
	if err != nil {
		return err
	}
	l.Failures++
	if w := waitFor(key, l.Failures); w > 0 {
		l.Until = t.now().Add(w)
	}
	data, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode lockout: %w", err)
	}
	return tx.LocalPut(ctx, "lockout", id, data)
}

// Reset forgets failures after a success.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	l, err := t.get(ctx, key)
	if err != nil || l.Failures == 0 {
		return err
	}
	return t.update(ctx, func(tx store.Tx) error { return tx.LocalDelete(ctx, "lockout", t.id(key)) })
}

// loginKeys are the throttle keys of a login: the name as Login reads it,
// and the client's address.
func loginKeys(username, addr string) []string {
	return []string{"user:" + normalName(username), "addr:" + addr}
}

func normalName(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// LoginWait is how long until a locked-out login may be tried again: the
// longer of the waits on the name and on the address (0 if neither is
// locked).
func (t *Throttle) LoginWait(ctx context.Context, username, addr string) time.Duration {
	var wait time.Duration
	for _, k := range loginKeys(username, addr) {
		if d, err := t.Check(ctx, k); err != nil && d > wait {
			wait = d
		}
	}
	return wait
}
