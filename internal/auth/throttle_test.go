package auth_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// waitUntil yields until cond holds. It asserts nothing about time: the
// goroutines it waits for are certain to get there.
func waitUntil(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// TestParallelGuessesLock (S8): many wrong passwords for one name, all in
// flight at once, get at most the free tries evaluated; the rest are
// refused as locked out, and the account is locked. Every guess is held at
// the hash slot until all of them are in flight, so none could have been
// counted before the others passed the first lock check.
func TestParallelGuessesLock(t *testing.T) {
	const guesses = 15
	n, _, _ := newNode(t)
	n.Auth.LimitHashes(guesses, 0)
	var arrived sync.WaitGroup
	arrived.Add(guesses)
	auth.SetHashHook(n.Auth, func() {
		arrived.Done()
		arrived.Wait()
	})
	errs := make([]error, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			// One address each: only the name's lockout is in play.
			_, _, _, errs[i] = login(n, "ana", fmt.Sprintf("guess %d", i), fmt.Sprintf("10.9.0.%d", i))
		})
	}
	wg.Wait()
	var bad, locked int
	for i, err := range errs {
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			bad++
		case errors.Is(err, auth.ErrLockedOut):
			locked++
		default:
			t.Errorf("guess %d: %v", i, err)
		}
	}
	if bad != 5 || locked != guesses-5 {
		t.Errorf("%d wrong passwords evaluated and %d refused as locked, want 5 and %d", bad, locked, guesses-5)
	}
	auth.SetHashHook(n.Auth, nil)
	if _, _, _, err := login(n, "ana", adminPW, "10.9.1.1"); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("right password after the burst: %v, want ErrLockedOut", err)
	}
}

// TestHashGate: no more hashes run at once than the gate has slots, a
// full queue is refused at once with ErrBusy (without using up a try), and
// a caller that gives up waiting leaves the queue.
func TestHashGate(t *testing.T) {
	n, _, _ := newNode(t)
	n.Auth.LimitHashes(2, 3)
	hold := make(chan struct{})
	auth.SetHashHook(n.Auth, func() { <-hold })
	stats := func() (int, int, int) { return auth.HashGateStats(n.Auth) }

	var wg sync.WaitGroup
	results := make(chan error, 10)
	try := func(c context.Context, i int) {
		wg.Go(func() {
			_, _, _, err := n.Auth.Login(c, n.Throttle, fmt.Sprintf("user%d", i), "wrong password", fmt.Sprintf("10.8.0.%d", i))
			results <- err
		})
	}
	try(ctx, 0)
	try(ctx, 1)
	waitUntil(func() bool { r, _, _ := stats(); return r == 2 })
	try(ctx, 2)
	try(ctx, 3)
	gaveUp, cancel := context.WithCancel(ctx)
	try(gaveUp, 4)
	waitUntil(func() bool { _, _, w := stats(); return w == 3 })

	// The queue is full: the next caller is refused at once.
	_, _, _, err := login(n, "user5", "wrong password", "10.8.0.5")
	if !errors.Is(err, auth.ErrBusy) {
		t.Fatalf("login with a full queue: %v, want ErrBusy", err)
	}
	if _, err := n.Throttle.Check(ctx, "user:user5"); err != nil {
		t.Errorf("refused as busy: %v", err)
	}
	var stored bool
	n.Store.View(ctx, func(tx store.ReadTx) error {
		_, err := tx.LocalGet(ctx, "lockout", auth.ThrottleID(n.Throttle, "user:user5"))
		stored = err == nil
		return nil
	})
	if stored {
		t.Error("a login refused as busy was counted as a failure")
	}

	cancel()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Errorf("caller that gave up: %v, want context.Canceled", err)
	}
	waitUntil(func() bool { _, _, w := stats(); return w == 2 })

	close(hold)
	wg.Wait()
	close(results)
	for err := range results {
		if !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("queued login: %v, want ErrBadCredentials", err)
		}
	}
	if running, peak, waiting := stats(); running != 0 || peak != 2 || waiting != 0 {
		t.Errorf("gate after the burst: %d running, peak %d, %d waiting; want 0, 2, 0", running, peak, waiting)
	}
}

// TestLockoutKeysHashed: what a user typed as a name (often a password)
// and the client's address never reach the lockout table as typed; a node
// key changes every id; records an older version stored under raw keys are
// deleted.
func TestLockoutKeysHashed(t *testing.T) {
	n, _, _ := newNode(t)
	const typed = "Mi Clave Secreta 77"
	// A record as an older version stored it.
	err := n.Store.Update(ctx, func(tx store.Tx) error {
		return tx.LocalPut(ctx, "lockout", "user:hunter2 typed as a name", []byte(`{"failures":1}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The node's own throttle is keyed (by its data key); this part checks
	// the unkeyed form.
	if id := auth.ThrottleID(n.Throttle, "user:ana"); strings.Contains(id, ":sha256:") {
		t.Errorf("the node's throttle stores plain hashes (%s); want a keyed one", id)
	}
	if _, _, _, err := n.Auth.Login(ctx, auth.NewThrottle(n.Store), typed, "whatever it was", "203.0.113.9"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("login: %v", err)
	}
	var ids []string
	n.Store.View(ctx, func(tx store.ReadTx) error {
		return tx.LocalScan(ctx, "lockout", func(id string, data []byte) error {
			ids = append(ids, id+" "+string(data))
			return nil
		})
	})
	if len(ids) != 2 {
		t.Errorf("lockout records = %q, want one for the name and one for the address", ids)
	}
	for _, rec := range ids {
		if !strings.Contains(rec, ":sha256:") {
			t.Errorf("record %q of an unkeyed throttle is not marked as a plain hash", rec)
		}
		for _, bad := range []string{strings.ToLower(typed), "clave", "203.0.113", "hunter2"} {
			if strings.Contains(strings.ToLower(rec), bad) {
				t.Errorf("lockout record %q holds %q", rec, bad)
			}
		}
	}

	plain := auth.NewThrottle(n.Store)
	k1 := auth.NewKeyedThrottle(n.Store, []byte("node key one"))
	k2 := auth.NewKeyedThrottle(n.Store, []byte("node key two"))
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same key, same throttle", auth.ThrottleID(k1, "user:ana"), auth.ThrottleID(k1, "user:ana"), true},
		{"same key, restarted throttle", auth.ThrottleID(k1, "user:ana"),
			auth.ThrottleID(auth.NewKeyedThrottle(n.Store, []byte("node key one")), "user:ana"), true},
		{"two node keys", auth.ThrottleID(k1, "user:ana"), auth.ThrottleID(k2, "user:ana"), false},
		{"keyed and plain", auth.ThrottleID(k1, "user:ana"), auth.ThrottleID(plain, "user:ana"), false},
		{"two names", auth.ThrottleID(k1, "user:ana"), auth.ThrottleID(k1, "user:anb"), false},
	}
	for _, tc := range tests {
		if got := tc.a == tc.b; got != tc.same {
			t.Errorf("%s: ids %s and %s, same = %v", tc.name, tc.a, tc.b, got)
		}
	}
	for key, prefix := range map[string]string{"user:ana": "user:", "addr:10.0.0.1": "addr:", "no kind here": "key:",
		"Mi Clave: secreta": "key:"} {
		if id := auth.ThrottleID(k1, key); !strings.HasPrefix(id, prefix) || len(id) != len(prefix)+64 {
			t.Errorf("id(%q) = %q, want %s and 64 hex digits", key, id, prefix)
		}
	}
	// A keyed throttle's lockouts hold like a plain one's.
	for range 5 {
		if err := k1.Fail(ctx, "user:ana"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k1.Check(ctx, "user:ana"); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("keyed throttle after 5 failures: %v", err)
	}
	if _, err := auth.NewKeyedThrottle(n.Store, []byte("node key one")).Check(ctx, "user:ana"); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("the same key after a restart: %v", err)
	}
	// Once the throttle has a key, the plain hashes stored before are gone.
	ids = nil
	n.Store.View(ctx, func(tx store.ReadTx) error {
		return tx.LocalScan(ctx, "lockout", func(id string, _ []byte) error {
			ids = append(ids, id)
			return nil
		})
	})
	if want := auth.ThrottleID(k1, "user:ana"); len(ids) != 1 || ids[0] != want {
		t.Errorf("lockout ids after keyed failures = %q, want only %s", ids, want)
	}
}

// TestSetPasswordEndsSessions: a new password ends the user's sessions at
// once, and a change that arrives by sync (no local clean-up) ends them
// too; other users' sessions live on.
func TestSetPasswordEndsSessions(t *testing.T) {
	n, _, _ := newNode(t)
	if _, err := n.Auth.AddUser(ctx, coord, "vero", auth.Volunteer, "first password"); err != nil {
		t.Fatal(err)
	}
	veroTok, _, vero, err := login(n, "vero", "first password", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	anaTok, _, _, err := login(n, "ana", adminPW, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{veroTok, anaTok} { // remembered from here on
		if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Auth.SetPassword(ctx, coord, "vero", "second password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, veroTok); !errors.Is(err, auth.ErrSessionExpired) {
		t.Errorf("session opened with the old password: %v, want ErrSessionExpired", err)
	}
	n.Store.View(ctx, func(tx store.ReadTx) error {
		if _, err := tx.LocalGet(ctx, "session", auth.TokenKey(veroTok)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the old session is still stored: %v", err)
		}
		return nil
	})
	if _, _, err := n.Auth.Authenticate(ctx, anaTok); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	newTok, _, _, err := login(n, "vero", "second password", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, newTok); err != nil {
		t.Errorf("session opened with the new password: %v", err)
	}

	// The same change made on another node arrives as an event only.
	hash, err := auth.HashPassword("third password", testKDF)
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Ledger.Append(ctx, "other-node", []ledger.Draft{{Kind: auth.KindUserPassword, Subject: "user/" + vero.UserID,
		Body: map[string]string{"hash": hash}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, newTok); !errors.Is(err, auth.ErrSessionExpired) {
		t.Errorf("session after a password change by sync: %v, want ErrSessionExpired", err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, anaTok); err != nil {
		t.Errorf("another user's session after the synced change: %v", err)
	}
}
