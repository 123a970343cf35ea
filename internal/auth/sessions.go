package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"caravana/internal/store"
)

// Session is a logged-in user's session. Only the hash of its token is
// stored, so a copy of the database does not hand out live sessions.
type Session struct {
	UserID  string    `json:"user_id"`
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("random source failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

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
type Throttle struct {
	st  store.Store
	now func() time.Time
}

// NewThrottle returns a throttle stored in st.
func NewThrottle(st store.Store) *Throttle { return &Throttle{st: st, now: time.Now} }

func (t *Throttle) get(ctx context.Context, key string) (lockout, error) {
	var l lockout
	err := t.st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.LocalGet(ctx, "lockout", key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &l)
	})
	return l, err
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
	return t.st.Update(ctx, func(tx store.Tx) error {
		var l lockout
		if data, err := tx.LocalGet(ctx, "lockout", key); err == nil {
			json.Unmarshal(data, &l)
		}
		l.Failures++
		if w := waitFor(key, l.Failures); w > 0 {
			l.Until = t.now().Add(w)
		}
		data, _ := json.Marshal(l)
		return tx.LocalPut(ctx, "lockout", key, data)
	})
}

// Reset forgets failures after a success.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	l, err := t.get(ctx, key)
	if err != nil || l.Failures == 0 {
		return err
	}
	return t.st.Update(ctx, func(tx store.Tx) error { return tx.LocalDelete(ctx, "lockout", key) })
}

// Login checks a username and password. It is throttled per username and
// per client address; the answer never says which of the two was wrong.
func (s *Service) Login(ctx context.Context, th *Throttle, username, password, addr string) (token string, sess Session, p Principal, err error) {
	username = strings.ToLower(strings.TrimSpace(username))
	keys := []string{"user:" + username, "addr:" + addr}
	for _, k := range keys {
		if _, err := th.Check(ctx, k); err != nil {
			return "", Session{}, Principal{}, err
		}
	}
	u, err := s.userByName(ctx, username)
	ok := false
	if err == nil && !u.Disabled {
		ok, _ = CheckPassword(u.hash, password)
	} else {
		// Spend the same time on unknown users so timing does not tell.
		HashPassword("timing-equaliser", s.KDF)
	}
	if !ok {
		for _, k := range keys {
			if err := th.Fail(ctx, k); err != nil {
				return "", Session{}, Principal{}, err
			}
		}
		// The actor is the account, never the typed name: a mistyped
		// username is often a password.
		actor := "unknown-user"
		if u.ID != "" {
			actor = u.ID
		}
		if err := s.led.Audit(ctx, store.AuditEntry{Actor: actor, Action: "login.failed", Record: "user/" + u.ID}); err != nil {
			return "", Session{}, Principal{}, err
		}
		return "", Session{}, Principal{}, ErrBadCredentials
	}
	for _, k := range keys {
		th.Reset(ctx, k)
	}
	token = randomToken()
	now := s.now()
	sess = Session{UserID: u.ID, CSRF: randomToken(), Created: now, Seen: now}
	data, _ := json.Marshal(sess)
	if err := s.st.Update(ctx, func(tx store.Tx) error { return tx.LocalPut(ctx, "session", tokenKey(token), data) }); err != nil {
		return "", Session{}, Principal{}, fmt.Errorf("store session: %w", err)
	}
	if err := s.led.Audit(ctx, store.AuditEntry{Actor: u.ID, Action: "login", Record: "user/" + u.ID}); err != nil {
		return "", Session{}, Principal{}, err
	}
	return token, sess, Principal{UserID: u.ID, Username: u.Username, Role: u.Role}, nil
}

// Authenticate resolves a session token to its principal, enforcing the idle
// and absolute timeouts and the user's current role and status. The session
// and its user are read in one snapshot and kept for a moment (see
// sessionCache): a logout or a change to any user in this process takes
// effect at once; a change made by another process (the CLI while the
// server runs) within sessionTTL.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, Session, error) {
	if token == "" {
		return Principal{}, Session{}, ErrSessionExpired
	}
	key := tokenKey(token)
	now := s.now()
	sess, u, ok := s.sessions.get(key, now)
	if !ok {
		gen := userGen.Load()
		var userErr error
		err := s.st.View(ctx, func(tx store.ReadTx) error {
			data, err := tx.LocalGet(ctx, "session", key)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &sess); err != nil {
				return err
			}
			data, err = tx.Get(ctx, "user", sess.UserID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				userErr = ErrUserNotFound
				return nil
			case err != nil:
				return err
			}
			var d userDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			u = toUser(d)
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, Session{}, ErrSessionExpired
		}
		if err != nil {
			return Principal{}, Session{}, err
		}
		if userErr != nil {
			u.Disabled = true
		}
		s.sessions.put(key, sess, u, gen, now)
	}
	if now.Sub(sess.Seen) > s.Idle || now.Sub(sess.Created) > s.Absolute || u.Disabled {
		s.Logout(ctx, token)
		return Principal{}, Session{}, ErrSessionExpired
	}
	// Touch at most once a minute: a write per request would cap throughput.
	if now.Sub(sess.Seen) > time.Minute {
		sess.Seen = now
		data, _ := json.Marshal(sess)
		if err := s.st.Update(ctx, func(tx store.Tx) error { return tx.LocalPut(ctx, "session", key, data) }); err != nil {
			return Principal{}, Session{}, err
		}
		s.sessions.touch(key, now)
	}
	return Principal{UserID: u.ID, Username: u.Username, Role: u.Role}, sess, nil
}

// CheckCSRF compares a submitted token with the session's, in constant time.
func CheckCSRF(sess Session, submitted string) bool {
	return sess.CSRF != "" && subtle.ConstantTimeCompare([]byte(sess.CSRF), []byte(submitted)) == 1
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, token string) error {
	s.sessions.drop(tokenKey(token))
	err := s.st.Update(ctx, func(tx store.Tx) error { return tx.LocalDelete(ctx, "session", tokenKey(token)) })
	s.sessions.drop(tokenKey(token)) // a read between the two would have kept it
	return err
}
