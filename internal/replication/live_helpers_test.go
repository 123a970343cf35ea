package replication

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// Helpers of the live-sync tests (prefixed "live" so they cannot collide
// with the bundle tests' helpers in this package).

var liveKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const livePass = "correct horse battery staple"

func liveConfig(t testing.TB) node.Config {
	return node.Config{Dir: filepath.Join(t.TempDir(), "node"), Passphrase: livePass, KDF: liveKDF, PasswordKDF: liveKDF}
}

// liveFounder makes an organisation's founding node.
func liveFounder(t testing.TB) *node.Node {
	t.Helper()
	n, err := node.Init(context.Background(), liveConfig(t), node.InitOptions{Name: "front", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// liveMux serves n's sync endpoints as the web server mounts them.
func liveMux(n *node.Node) (*Server, http.Handler) {
	s := NewServer(n, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPull, s.Pull)
	mux.HandleFunc("POST "+PathPush, s.Push)
	mux.HandleFunc("POST "+PathJoin, s.Join)
	return s, mux
}

// liveServe serves n's sync endpoints on loopback.
func liveServe(t testing.TB, n *node.Node) (*Server, *httptest.Server) {
	t.Helper()
	s, h := liveMux(n)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return s, ts
}

// liveInvite writes an invitation on inviter for the server at url.
func liveInvite(t testing.TB, inviter *node.Node, url string, ttl time.Duration) Invitation {
	t.Helper()
	inv, err := NewInvitation(context.Background(), inviter, InviteOptions{URLs: []string{url}, Name: "rear", TTL: ttl, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// liveJoin makes a node that joins inviter's organisation through the
// server at url, as `caravana init --join` does.
func liveJoin(t testing.TB, inviter *node.Node, url string) *node.Node {
	t.Helper()
	inv := liveInvite(t, inviter, url, time.Hour)
	res, err := Join(context.Background(), inv, JoinOptions{Config: liveConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Node.Close() })
	return res.Node
}

// liveRegister registers count people on n.
func liveRegister(t testing.TB, n *node.Node, prefix string, count int) {
	t.Helper()
	op := auth.Operator("test")
	for i := range count {
		if _, err := n.Registry.Register(context.Background(), op, registry.PersonInput{GivenNames: prefix, Surname1: "Prueba",
			Surname2: string(rune('a' + i%26)), Sex: "F", Consent: registry.Consent{Registration: true}}); err != nil {
			t.Fatal(err)
		}
	}
}

// liveState is n's state hash, after checking every event and signature.
func liveState(t testing.TB, n *node.Node) string {
	t.Helper()
	rep, err := n.Ledger.Verify(context.Background(), true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify %s: %+v %v", n.Keys.NodeID, rep, err)
	}
	return rep.StateHash
}

func liveEvents(t testing.TB, n *node.Node) int {
	t.Helper()
	rep, err := n.Ledger.Verify(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Events
}
