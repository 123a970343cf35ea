package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/store"
)

// testKDF is a cheap Argon2id setting, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

var ctx = context.Background()

const adminPW = "long enough pw"

var coord = auth.Principal{UserID: "u-coord", Username: "carmen", Role: auth.Coordinator}

// clock is a settable time source shared by a service and its throttle.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newNode makes a node whose first coordinator is "ana" / adminPW, with a
// settable clock for sessions and lockouts.
func newNode(t *testing.T) (*node.Node, node.Config, *clock) {
	t.Helper()
	cfg := node.Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "test", AdminUser: "ana", AdminPassword: adminPW})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c := &clock{t: time.Date(2018, 10, 20, 9, 0, 0, 0, time.UTC)}
	useClock(n, c)
	return n, cfg, c
}

func useClock(n *node.Node, c *clock) {
	auth.SetNow(n.Auth, c.Now)
	auth.SetThrottleNow(n.Throttle, c.Now)
}

func countEvents(t *testing.T, st store.Store) int {
	t.Helper()
	var c int
	if err := st.View(ctx, func(tx store.ReadTx) error {
		var err error
		c, err = tx.CountEvents(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func login(n *node.Node, user, pw, addr string) (string, auth.Session, auth.Principal, error) {
	return n.Auth.Login(ctx, n.Throttle, user, pw, addr)
}
