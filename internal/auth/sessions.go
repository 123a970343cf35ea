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
	// HashPrint is a fingerprint of the password hash at login (hashPrint):
	// once the password changes the session no longer authenticates.
	HashPrint string `json:"hash_print"`
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

// Login checks a username and password. It is throttled per username and
// per client address; the answer never says which of the two was wrong.
//
// Each attempt is counted as a failure before the password is checked, in
// one transaction with the lockout check, and forgiven on success: so many
// parallel guesses at one name get at most freeTries answers, the rest
// ErrLockedOut (S8). Hashes run within the service's gate: a flood gets
// ErrBusy instead of a gigabyte of Argon2id memory.
func (s *Service) Login(ctx context.Context, th *Throttle, username, password, addr string) (token string, sess Session, p Principal, err error) {
	username = normalName(username)
	keys := loginKeys(username, addr)
	// A locked name or address is refused before it can queue for a hash.
	for _, k := range keys {
		if _, err := th.Check(ctx, k); err != nil {
			return "", Session{}, Principal{}, err
		}
	}
	u, ok, err := s.checkLogin(ctx, th, keys, username, password)
	if err != nil {
		return "", Session{}, Principal{}, err
	}
	if !ok {
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
		if err := th.Reset(ctx, k); err != nil {
			return "", Session{}, Principal{}, fmt.Errorf("reset lockout: %w", err)
		}
	}
	token = randomToken()
	now := s.now()
	sess = Session{UserID: u.ID, CSRF: randomToken(), Created: now, Seen: now, HashPrint: hashPrint(u.hash)}
	data, _ := json.Marshal(sess)
	if err := s.st.Update(ctx, func(tx store.Tx) error { return tx.LocalPut(ctx, "session", tokenKey(token), data) }); err != nil {
		return "", Session{}, Principal{}, fmt.Errorf("store session: %w", err)
	}
	if err := s.led.Audit(ctx, store.AuditEntry{Actor: u.ID, Action: "login", Record: "user/" + u.ID}); err != nil {
		return "", Session{}, Principal{}, err
	}
	return token, sess, Principal{UserID: u.ID, Username: u.Username, Role: u.Role}, nil
}

// checkLogin takes a hash slot, counts the attempt against keys, and
// checks the password (or spends the same work on an unknown name, so
// timing does not tell). The slot is taken before the count, so a caller
// refused with ErrBusy has not used up a try.
func (s *Service) checkLogin(ctx context.Context, th *Throttle, keys []string, username, password string) (User, bool, error) {
	release, err := s.hashes.acquire(ctx)
	if err != nil {
		return User{}, false, err
	}
	defer release()
	if _, err := th.take(ctx, keys...); err != nil {
		return User{}, false, err
	}
	u, err := s.userByName(ctx, username)
	if err != nil || u.Disabled {
		// Spend the same time on unknown users so timing does not tell.
		HashPassword("timing-equaliser", s.KDF)
		return u, false, nil
	}
	ok, _ := CheckPassword(u.hash, password)
	return u, ok, nil
}

// hashPrint is a short fingerprint of a password hash. A session keeps the
// one it was opened with: a new password ends every older session, here
// and, once the change has synced, on every node.
func hashPrint(hash string) string {
	sum := sha256.Sum256([]byte("caravana session password\x00" + hash))
	return hex.EncodeToString(sum[:8])
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
	if now.Sub(sess.Seen) > s.Idle || now.Sub(sess.Created) > s.Absolute || u.Disabled ||
		subtle.ConstantTimeCompare([]byte(sess.HashPrint), []byte(hashPrint(u.hash))) != 1 {
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
