package auth_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
)

func TestAddUser(t *testing.T) {
	n, _, _ := newNode(t)
	bad := []string{"", " ", "a", "-ana", ".ana", "_ana", "ana maria", "ana/x", "ana@example", "ñandu", "josé",
		strings.Repeat("a", 33), "ana\x00", "an\na"}
	for _, name := range bad {
		before := countEvents(t, n.Store)
		_, err := n.Auth.AddUser(ctx, coord, name, auth.Volunteer, "long enough pw")
		if err == nil || errors.Is(err, auth.ErrUserExists) {
			t.Errorf("AddUser(%q) = %v, want a bad-username error", name, err)
		}
		if auth.ValidUsername(name) {
			t.Errorf("ValidUsername(%q) = true", name)
		}
		if got := countEvents(t, n.Store); got != before {
			t.Errorf("AddUser(%q) wrote %d events", name, got-before)
		}
	}
	good := map[string]string{"  Bea.Lopez ": "bea.lopez", "b2": "b2", strings.Repeat("z", 32): strings.Repeat("z", 32),
		"0_x-y": "0_x-y"}
	for in, want := range good {
		if !auth.ValidUsername(in) {
			t.Errorf("ValidUsername(%q) = false", in)
		}
		u, err := n.Auth.AddUser(ctx, coord, in, auth.Legal, "long enough pw")
		if err != nil || u.Username != want || u.Role != auth.Legal || u.ID == "" || u.Disabled || u.Created.IsZero() {
			t.Errorf("AddUser(%q) = %+v, %v", in, u, err)
		}
	}
	// Usernames are unique whatever their case ("ana" was made at init).
	for _, dup := range []string{"ana", "ANA", " Ana ", "BEA.LOPEZ"} {
		before := countEvents(t, n.Store)
		if _, err := n.Auth.AddUser(ctx, coord, dup, auth.Medic, "another long pw"); !errors.Is(err, auth.ErrUserExists) {
			t.Errorf("AddUser(%q) = %v, want ErrUserExists", dup, err)
		}
		if got := countEvents(t, n.Store); got != before {
			t.Errorf("duplicate %q wrote %d events", dup, got-before)
		}
	}
	before := countEvents(t, n.Store)
	if _, err := n.Auth.AddUser(ctx, coord, "newbie", auth.Medic, "short"); !errors.Is(err, auth.ErrWeakPassword) {
		t.Errorf("short password: %v, want ErrWeakPassword", err)
	}
	if _, err := n.Auth.AddUser(ctx, coord, "newbie", "member", "long enough pw"); err == nil {
		t.Error("AddUser with role member succeeded")
	}
	if _, err := n.Auth.AddUser(ctx, auth.Principal{UserID: "v", Role: auth.Volunteer}, "newbie", auth.Medic, "long enough pw"); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("volunteer adding a user: %v, want ErrForbidden", err)
	}
	if got := countEvents(t, n.Store); got != before {
		t.Errorf("refused AddUser calls wrote %d events", got-before)
	}

	users, err := n.Auth.Users(ctx, coord)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if want := []string{"0_x-y", "ana", "b2", "bea.lopez", strings.Repeat("z", 32)}; !slices.Equal(names, want) {
		t.Errorf("Users = %v, want %v", names, want)
	}
	// The password hash never leaves the package.
	data, _ := json.Marshal(users)
	if strings.Contains(string(data), "argon2") {
		t.Errorf("user JSON carries the hash: %s", data)
	}
	if _, err := n.Auth.Users(ctx, auth.Principal{Role: auth.Legal}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("legal listing users: %v", err)
	}
	if _, err := n.Auth.User(ctx, "u-nope"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("User(unknown) = %v", err)
	}
}

func TestSetPasswordAndDisable(t *testing.T) {
	n, _, _ := newNode(t)
	if _, err := n.Auth.AddUser(ctx, coord, "vero", auth.Volunteer, "first password"); err != nil {
		t.Fatal(err)
	}
	vol := auth.Principal{UserID: "x", Role: auth.Volunteer}
	if err := n.Auth.SetPassword(ctx, vol, "vero", "second password"); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("volunteer setting a password: %v", err)
	}
	if err := n.Auth.SetPassword(ctx, coord, "vero", "short"); !errors.Is(err, auth.ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	if err := n.Auth.SetPassword(ctx, coord, "nobody", "second password"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if err := n.Auth.SetPassword(ctx, coord, "VERO", "second password"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := login(n, "vero", "first password", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("old password after change: %v", err)
	}
	tok, _, p, err := login(n, "vero", "second password", "10.0.0.1")
	if err != nil || p.Role != auth.Volunteer || p.Username != "vero" {
		t.Fatalf("new password: %+v %v", p, err)
	}

	// The session is in use (and so remembered for a moment) when the user
	// is disabled.
	for range 2 {
		if _, _, err := n.Auth.Authenticate(ctx, tok); err != nil {
			t.Fatalf("live session: %v", err)
		}
	}
	if err := n.Auth.Disable(ctx, vol, "vero"); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("volunteer disabling: %v", err)
	}
	if err := n.Auth.Disable(ctx, coord, "vero"); err != nil {
		t.Fatal(err)
	}
	// Disabling ends the live session at once and stops new logins.
	if _, _, err := n.Auth.Authenticate(ctx, tok); !errors.Is(err, auth.ErrSessionExpired) {
		t.Errorf("session of a disabled user: %v", err)
	}
	if _, _, _, err := login(n, "vero", "second password", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("disabled user logging in: %v", err)
	}
	u, err := n.Auth.User(ctx, p.UserID)
	if err != nil || !u.Disabled {
		t.Errorf("User after disable = %+v, %v", u, err)
	}
	// The name stays taken: re-enabling is a new account with a new name.
	if _, err := n.Auth.AddUser(ctx, coord, "vero", auth.Volunteer, "third password"); !errors.Is(err, auth.ErrUserExists) {
		t.Errorf("re-adding a disabled name: %v", err)
	}
	// A rebuild from the log gives the same users.
	if err := n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if u, err := n.Auth.User(ctx, p.UserID); err != nil || !u.Disabled || u.Username != "vero" {
		t.Errorf("after rebuild = %+v, %v", u, err)
	}
	if _, _, p, err := login(n, "ana", adminPW, "10.0.0.2"); err != nil || p.Role != auth.Coordinator {
		t.Errorf("admin after rebuild: %+v %v", p, err)
	}
}
