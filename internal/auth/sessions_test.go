package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/node"
	"caravana/internal/store"
)

func TestLogin(t *testing.T) {
	n, _, _ := newNode(t)
	tests := []struct {
		user, pw string
		err      error
	}{
		{"ana", "wrong password", auth.ErrBadCredentials},
		{"ana", "", auth.ErrBadCredentials},
		{"nobody", adminPW, auth.ErrBadCredentials}, // unknown user: the same answer
		{"", "", auth.ErrBadCredentials},
		{"ana", adminPW, nil},
		{"  ANA ", adminPW, nil},
	}
	for i, tc := range tests {
		addr := fmt.Sprintf("10.0.0.%d", i) // one address each: no lockout here
		tok, sess, p, err := login(n, tc.user, tc.pw, addr)
		if !errors.Is(err, tc.err) {
			t.Errorf("Login(%q, %q) = %v, want %v", tc.user, tc.pw, err, tc.err)
			continue
		}
		if err != nil {
			if err.Error() != auth.ErrBadCredentials.Error() || tok != "" {
				t.Errorf("Login(%q) failure says %q, token %q", tc.user, err, tok)
			}
			continue
		}
		if tok == "" || sess.CSRF == "" || sess.UserID != p.UserID || p.Username != "ana" || p.Role != auth.Coordinator {
			t.Errorf("Login(%q) = %q %+v %+v", tc.user, tok, sess, p)
		}
		// Only a hash of the token is stored: a copy of the database opens no session.
		sum := sha256.Sum256([]byte(tok))
		err = n.Store.View(ctx, func(tx store.ReadTx) error {
			if _, err := tx.LocalGet(ctx, "session", tok); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session stored under the raw token: %v", err)
			}
			_, err := tx.LocalGet(ctx, "session", hex.EncodeToString(sum[:]))
			return err
		})
		if err != nil {
			t.Errorf("session not stored under the token's hash: %v", err)
		}
		got, gs, err := n.Auth.Authenticate(ctx, tok)
		if err != nil || got != p || gs.CSRF != sess.CSRF {
			t.Errorf("Authenticate = %+v %+v %v", got, gs, err)
		}
	}
	// Failures and logins are audited.
	var failed, ok int
	n.Store.View(ctx, func(tx store.ReadTx) error {
		rows, err := tx.Audit(ctx, store.AuditFilter{Limit: 1000})
		for _, r := range rows {
			switch r.Action {
			case "login.failed":
				failed++
			case "login":
				ok++
			}
		}
		return err
	})
	if failed != 4 || ok != 2 {
		t.Errorf("audit: %d failed logins and %d logins, want 4 and 2", failed, ok)
	}
	// Two logins give two different tokens.
	t1, _, _, _ := login(n, "ana", adminPW, "10.1.0.1")
	t2, _, _, _ := login(n, "ana", adminPW, "10.1.0.1")
	if t1 == "" || t1 == t2 {
		t.Errorf("tokens %q %q", t1, t2)
	}
}

// TestLockoutSurvivesRestart (S8): five failures lock the name, even the
// right password is refused, and closing and reopening the node does not
// unlock it; time does.
func TestLockoutSurvivesRestart(t *testing.T) {
	n, cfg, clk := newNode(t)
	for i := range 5 {
		if _, _, _, err := login(n, "ana", fmt.Sprintf("guess %d", i), "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, _, _, err := login(n, "ana", adminPW, "10.0.0.2"); !errors.Is(err, auth.ErrLockedOut) {
		t.Fatalf("right password after 5 failures: %v, want ErrLockedOut", err)
	}
	if wait, err := n.Throttle.Check(ctx, "user:ana"); !errors.Is(err, auth.ErrLockedOut) || wait <= 0 || wait > 30*time.Second {
		t.Errorf("Check = %v, %v; want locked for up to 30s", wait, err)
	}
	n.Close()

	n2, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n2.Close() })
	useClock(n2, clk)
	if _, _, _, err := login(n2, "ana", adminPW, "10.0.0.3"); !errors.Is(err, auth.ErrLockedOut) {
		t.Fatalf("after restart: %v, want ErrLockedOut", err)
	}
	// The lock lifts after its wait...
	clk.Advance(31 * time.Second)
	if _, _, _, err := login(n2, "ana", "guess 6", "10.0.0.3"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("after the wait: %v, want ErrBadCredentials", err)
	}
	// ... and the next failure locks for twice as long.
	if wait, err := n2.Throttle.Check(ctx, "user:ana"); !errors.Is(err, auth.ErrLockedOut) || wait != 60*time.Second {
		t.Errorf("after the sixth failure Check = %v, %v; want 60s", wait, err)
	}
	clk.Advance(61 * time.Second)
	if _, _, _, err := login(n2, "ana", adminPW, "10.0.0.3"); err != nil {
		t.Fatalf("right password after the second wait: %v", err)
	}
	// Success reset the count: four more failures do not lock.
	for range 4 {
		login(n2, "ana", "wrong again", "10.0.0.4")
	}
	if _, _, _, err := login(n2, "ana", adminPW, "10.0.0.4"); err != nil {
		t.Errorf("after a success and four failures: %v", err)
	}
}

// TestLockoutPerAddress: one address guessing many names is locked out
// too, for every name, while other addresses are not. An address gets more
// free tries than a name (a shelter shares one hotspot), but not unlimited.
func TestLockoutPerAddress(t *testing.T) {
	n, _, _ := newNode(t)
	for i := range 24 {
		login(n, fmt.Sprintf("user%d", i), "some guess", "192.0.2.7")
	}
	if _, _, _, err := login(n, "ana", adminPW, "192.0.2.7"); err != nil {
		t.Errorf("24 failures from a shared address locked it already: %v", err)
	}
	for i := range 25 {
		login(n, fmt.Sprintf("user%d", i), "some guess", "192.0.2.7")
	}
	if _, _, _, err := login(n, "ana", adminPW, "192.0.2.7"); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("from the guessing address: %v, want ErrLockedOut", err)
	}
	if _, _, _, err := login(n, "ana", adminPW, "192.0.2.8"); err != nil {
		t.Errorf("from another address: %v", err)
	}
	if _, err := n.Throttle.Check(ctx, "addr:192.0.2.7"); !errors.Is(err, auth.ErrLockedOut) {
		t.Errorf("the address is not locked: %v", err)
	}
}

func TestThrottleBackoff(t *testing.T) {
	n, _, clk := newNode(t)
	th := n.Throttle
	const key = "pin:ABCDE"
	if wait, err := th.Check(ctx, key); wait != 0 || err != nil {
		t.Fatalf("fresh key: %v %v", wait, err)
	}
	want := []time.Duration{0, 0, 0, 0, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if err := th.Fail(ctx, key); err != nil {
			t.Fatal(err)
		}
		wait, err := th.Check(ctx, key)
		if wait != w || (w > 0) != errors.Is(err, auth.ErrLockedOut) {
			t.Errorf("after %d failures: wait %v, %v; want %v", i+1, wait, err, w)
		}
		clk.Advance(w) // serve the wait before the next try
	}
	if err := th.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := th.Fail(ctx, key); err != nil {
		t.Fatal(err)
	}
	if wait, err := th.Check(ctx, key); wait != 0 || err != nil {
		t.Errorf("one failure after a reset: %v %v", wait, err)
	}
	// Keys are independent.
	for range 5 {
		th.Fail(ctx, "other")
	}
	if _, err := th.Check(ctx, key); err != nil {
		t.Errorf("a lock on one key spilled onto another: %v", err)
	}
}

func TestSessionTimeouts(t *testing.T) {
	n, _, clk := newNode(t)
	if n.Auth.Idle != 30*time.Minute || n.Auth.Absolute != 12*time.Hour {
		t.Fatalf("timeouts idle %v absolute %v, want 30m and 12h", n.Auth.Idle, n.Auth.Absolute)
	}
	t.Run("idle", func(t *testing.T) {
		tok, _, _, err := login(n, "ana", adminPW, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(29 * time.Minute)
		if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
			t.Fatalf("after 29 idle minutes: %v", err)
		}
		clk.Advance(29 * time.Minute) // activity at 29' moved the idle clock
		if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
			t.Fatalf("29 minutes after the last request: %v", err)
		}
		clk.Advance(31 * time.Minute)
		if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
			t.Fatalf("after 31 idle minutes: %v, want ErrSessionExpired", err)
		}
		// Expired means gone, even if the clock were set back.
		clk.Advance(-31 * time.Minute)
		if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
			t.Fatalf("expired session came back: %v", err)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		tok, _, _, err := login(n, "ana", adminPW, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for elapsed := 20 * time.Minute; elapsed <= 12*time.Hour; elapsed += 20 * time.Minute {
			clk.Advance(20 * time.Minute)
			if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
				t.Fatalf("active session at %v: %v", elapsed, err)
			}
		}
		clk.Advance(20 * time.Minute) // 12h20m since login, 20m since the last request
		if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
			t.Fatalf("past the absolute timeout: %v, want ErrSessionExpired", err)
		}
	})
	t.Run("unknown tokens", func(t *testing.T) {
		for _, tok := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
				t.Errorf("Authenticate(%q) = %v", tok, err)
			}
		}
	})
}

func TestLogoutAndCSRF(t *testing.T) {
	n, _, _ := newNode(t)
	tok, sess, _, err := login(n, "ana", adminPW, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, otherSess, _, err := login(n, "ana", adminPW, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sess      auth.Session
		submitted string
		want      bool
	}{
		{sess, sess.CSRF, true},
		{sess, "", false},
		{sess, otherSess.CSRF, false},
		{sess, sess.CSRF[:len(sess.CSRF)-1], false},
		{sess, sess.CSRF + "x", false},
		{auth.Session{}, "", false},
		{auth.Session{}, "anything", false},
	} {
		if got := auth.CheckCSRF(tc.sess, tc.submitted); got != tc.want {
			t.Errorf("CheckCSRF(%q, %q) = %v, want %v", tc.sess.CSRF, tc.submitted, got, tc.want)
		}
	}
	if sess.CSRF == otherSess.CSRF {
		t.Error("two sessions share a CSRF token")
	}
	if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil { // remembered from here on
		t.Fatal(err)
	}
	if err := n.Auth.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
		t.Errorf("after logout: %v", err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, other); err != nil {
		t.Errorf("logging out one session ended another: %v", err)
	}
	if err := n.Auth.Logout(ctx, "never issued"); err != nil {
		t.Errorf("Logout of an unknown token: %v", err)
	}
}

// TestSessionEndedElsewhere: a session ended by another process sharing the
// database (here: its row deleted behind the service's back) stops working
// within a couple of seconds, the most a session read is remembered.
func TestSessionEndedElsewhere(t *testing.T) {
	n, _, c := newNode(t)
	tok, _, _, err := login(n, "ana", adminPW, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// The other process deletes the row; this one hears nothing of it.
	err = n.Ledger.Store().Update(ctx, func(tx store.Tx) error { return tx.LocalDelete(ctx, "session", auth.TokenKey(tok)) })
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(3 * time.Second)
	if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
		t.Errorf("3 s after a logout elsewhere: %v", err)
	}
}
