package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Event kinds for users.
const (
	KindUserAdded    = "user.added"
	KindUserDisabled = "user.disabled"
	KindUserPassword = "user.password_set"
)

var (
	// ErrUserExists means the username is taken.
	ErrUserExists = errors.New("username already taken")
	// ErrUserNotFound means no user has that name or id.
	ErrUserNotFound = errors.New("no such user")
	// ErrBadCredentials means the username or password is wrong (which, is not said).
	ErrBadCredentials = errors.New("wrong username or password")
	// ErrLockedOut means too many failed attempts; try again later.
	ErrLockedOut = errors.New("too many failed attempts; try again later")
	// ErrSessionExpired means the session ended or never existed.
	ErrSessionExpired = errors.New("session expired; log in again")
)

// User is a staff account.
type User struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Role     Role      `json:"role"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
	hash     string
}

type userDoc struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Role     Role      `json:"role"`
	Hash     string    `json:"hash"`
	HashT    event.HLC `json:"hash_t"`
	Disabled bool      `json:"disabled"`
	Created  event.HLC `json:"created"`
}

type userBody struct {
	Username string `json:"username,omitempty"`
	Role     Role   `json:"role,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// Register adds the user projection to p.
func Register(p *ledger.Projector) { p.Handle("user", applyUser) }

func applyUser(ctx context.Context, tx store.Tx, e *event.Event) error {
	userGen.Add(1) // cached sessions may name this user (sessionCache)
	var b userBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	id := strings.TrimPrefix(e.Subject, "user/")
	var d userDoc
	if data, err := tx.Get(ctx, "user", id); err == nil {
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	switch e.Kind {
	case KindUserAdded:
		// Two nodes may add the same username before they sync: both
		// accounts are kept (refusing one would make the state depend on
		// arrival order), and the name belongs to the earlier (userByName).
		key := strings.ToLower(b.Username)
		if d.ID == "" || e.HLC < d.Created {
			d.ID, d.Username, d.Role, d.Created = id, b.Username, b.Role, e.HLC
		}
		if d.HashT < e.HLC {
			d.Hash, d.HashT = b.Hash, e.HLC
		}
		if err := tx.AddIndex(ctx, "username", key, id); err != nil {
			return err
		}
	case KindUserDisabled:
		d.ID = id
		d.Disabled = true // disabling is final: a later re-enable is a new account
	case KindUserPassword:
		if d.HashT < e.HLC {
			d.Hash, d.HashT = b.Hash, e.HLC
		}
	default:
		return nil
	}
	data, _ := json.Marshal(d)
	return tx.Put(ctx, "user", id, data)
}

// Service manages users and sessions.
type Service struct {
	led *ledger.Ledger
	st  store.Store
	// KDF is the Argon2id setting for new password hashes.
	KDF crypto.KDFParams
	now func() time.Time
	// Idle and Absolute bound a session's life.
	Idle, Absolute time.Duration

	sessions sessionCache
	hashes   *hashGate
}

// NewService returns the user service with production settings.
func NewService(led *ledger.Ledger) *Service {
	return &Service{led: led, st: led.Store(), KDF: PasswordKDF, now: time.Now,
		Idle: 30 * time.Minute, Absolute: 12 * time.Hour, hashes: defaultHashGate()}
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,31}$`)

// CheckUsername reports whether username (already lower-cased and trimmed)
// is one AddUser accepts.
func CheckUsername(username string) error {
	if !usernameRE.MatchString(username) {
		return fmt.Errorf("username %q: use 2-32 lowercase letters, digits, dot, dash or underscore", username)
	}
	return nil
}

// AddUser creates a staff account. by is who adds it (a coordinator).
func (s *Service) AddUser(ctx context.Context, by Principal, username string, role Role, password string) (User, error) {
	if err := Check(by, UserManage); err != nil {
		return User{}, err
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if err := CheckUsername(username); err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if _, err := s.userByName(ctx, username); err == nil {
		return User{}, fmt.Errorf("%w: %s", ErrUserExists, username)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := "u" + hex.EncodeToString(b)
	_, err = s.led.Append(ctx, by.Actor(), []ledger.Draft{{Kind: KindUserAdded, Subject: "user/" + id,
		Body: userBody{Username: username, Role: role, Hash: hash}}})
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", username, err)
	}
	return s.User(ctx, id)
}

// SetPassword replaces a user's password and ends the user's sessions: a
// session opened with the old password no longer authenticates (see
// Session.HashPrint), and this node's are deleted at once.
func (s *Service) SetPassword(ctx context.Context, by Principal, username, password string) error {
	if err := Check(by, UserManage); err != nil {
		return err
	}
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	if _, err := s.led.Append(ctx, by.Actor(), []ledger.Draft{{Kind: KindUserPassword, Subject: "user/" + u.ID, Body: userBody{Hash: hash}}}); err != nil {
		return fmt.Errorf("set password of %s: %w", u.ID, err)
	}
	return s.endSessions(ctx, u.ID)
}

// endSessions deletes every stored session of the user.
func (s *Service) endSessions(ctx context.Context, userID string) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var ended []string
		err := tx.LocalScan(ctx, "session", func(key string, data []byte) error {
			var sess Session
			if json.Unmarshal(data, &sess) == nil && sess.UserID == userID {
				ended = append(ended, key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, key := range ended {
			if err := tx.LocalDelete(ctx, "session", key); err != nil {
				return err
			}
		}
		return nil
	})
	userGen.Add(1) // a session read during the scan may have been remembered
	if err != nil {
		return fmt.Errorf("end sessions of %s: %w", userID, err)
	}
	return nil
}

// Disable stops a user from logging in and ends their sessions at once.
// "user/<id>" names one account by id: the later of two accounts two
// nodes added under the same username before they synced.
func (s *Service) Disable(ctx context.Context, by Principal, username string) error {
	if err := Check(by, UserManage); err != nil {
		return err
	}
	var u User
	var err error
	if id, ok := strings.CutPrefix(username, "user/"); ok {
		u, err = s.User(ctx, id)
	} else {
		u, err = s.userByName(ctx, username)
	}
	if err != nil {
		return err
	}
	_, err = s.led.Append(ctx, by.Actor(), []ledger.Draft{{Kind: KindUserDisabled, Subject: "user/" + u.ID, Body: userBody{}}})
	return err
}

func toUser(d userDoc) User {
	return User{ID: d.ID, Username: d.Username, Role: d.Role, Disabled: d.Disabled, Created: d.Created.Time(), hash: d.Hash}
}

// User returns one user by id.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	var d userDoc
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.Get(ctx, "user", id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrUserNotFound
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &d)
	})
	return toUser(d), err
}

func (s *Service) userByName(ctx context.Context, username string) (User, error) {
	var ids []string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		ids, err = tx.Lookup(ctx, "username", strings.ToLower(username))
		return err
	})
	if err != nil {
		return User{}, err
	}
	if len(ids) == 0 {
		return User{}, fmt.Errorf("%w: %s", ErrUserNotFound, username)
	}
	// Added twice on two nodes before they synced: the earlier account
	// owns the name, on every node.
	var owner User
	for _, id := range ids {
		u, err := s.User(ctx, id)
		if err != nil {
			return User{}, err
		}
		if owner.ID == "" || u.Created.Before(owner.Created) || (u.Created.Equal(owner.Created) && u.ID < owner.ID) {
			owner = u
		}
	}
	return owner, nil
}

// Users lists every account by username.
func (s *Service) Users(ctx context.Context, by Principal) ([]User, error) {
	if err := Check(by, UserManage); err != nil {
		return nil, err
	}
	var out []User
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, "user", func(id string, data []byte) error {
			var d userDoc
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			out = append(out, toUser(d))
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, err
}
