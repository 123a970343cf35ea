package replication_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/replication"
	"caravana/internal/testenv"
	"caravana/internal/web"

	"github.com/jackc/pgx/v5"
)

// Helpers of the end-to-end tests, prefixed "e2e" so they stay apart
// from the other tests of this package.

var e2eKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const e2ePass = "correct horse battery staple"

func e2eConfig(t testing.TB, db string) node.Config {
	return node.Config{Dir: filepath.Join(t.TempDir(), "node"), DB: db, Passphrase: e2ePass, KDF: e2eKDF, PasswordKDF: e2eKDF}
}

func e2eFounder(t testing.TB) *node.Node {
	t.Helper()
	n, err := node.Init(context.Background(), e2eConfig(t, ""), node.InitOptions{Name: "front", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// e2eServe serves n's whole web handler (UI, API and sync) on loopback.
func e2eServe(t testing.TB, n *node.Node, tls bool) *httptest.Server {
	t.Helper()
	srv, err := web.New(n, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ts *httptest.Server
	if tls {
		ts = httptest.NewTLSServer(srv.Handler())
	} else {
		ts = httptest.NewServer(srv.Handler())
	}
	t.Cleanup(ts.Close)
	return ts
}

// e2eJoin makes a node that joins through inviter's server at url.
func e2eJoin(t testing.TB, inviter *node.Node, url, db string, c *replication.Client) *node.Node {
	t.Helper()
	ctx := context.Background()
	inv, err := replication.NewInvitation(ctx, inviter, replication.InviteOptions{URLs: []string{url}, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node.invite")
	if err := replication.WriteInvitation(path, inv); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("invitation file mode: %v %v", st, err)
	}
	if inv, err = replication.ReadInvitation(path); err != nil {
		t.Fatal(err)
	}
	res, err := replication.Join(ctx, inv, replication.JoinOptions{Config: e2eConfig(t, db), Client: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Node.Close() })
	return res.Node
}

func e2eRegister(t testing.TB, n *node.Node, name string, count int) {
	t.Helper()
	op := auth.Operator("test")
	for i := range count {
		if _, err := n.Registry.Register(context.Background(), op, registry.PersonInput{GivenNames: name, Surname1: "Prueba",
			Surname2: string(rune('a' + i%26)), Sex: "M", Consent: registry.Consent{Registration: true}}); err != nil {
			t.Fatal(err)
		}
	}
}

func e2eState(t testing.TB, n *node.Node) ledger.Report {
	t.Helper()
	rep, err := n.Ledger.Verify(context.Background(), true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify %s: %+v %v", n.Keys.NodeID, rep, err)
	}
	return rep
}

func e2eSync(t testing.TB, c *replication.Client, n *node.Node, url string) replication.Report {
	t.Helper()
	rep, err := c.Sync(context.Background(), n, url, nil)
	if err != nil {
		t.Fatalf("sync %s with %s: %v", n.Keys.NodeID, url, err)
	}
	return rep
}

func e2eCode(err error) (int, string) {
	var pe *replication.ProtocolError
	if errors.As(err, &pe) {
		return pe.Status, pe.Code
	}
	return 0, ""
}

// TestSyncEndToEnd: three nodes, each behind the real web handler on
// loopback (one over HTTPS): the second joins by the founder's invitation,
// the third by the second's; each writes, they sync pairwise and converge
// to the same state hash. Then the third is revoked: its later events are
// refused and purged everywhere, it gets 403 from both, and the others
// refuse to talk to it.
func TestSyncEndToEnd(t *testing.T) {
	ctx := context.Background()
	a := e2eFounder(t)
	srvA := e2eServe(t, a, false)
	plain := &replication.Client{Batch: 40}
	b := e2eJoin(t, a, srvA.URL, "", plain)
	srvB := e2eServe(t, b, true)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvB.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hc, err := replication.NewHTTPClient(caFile)
	if err != nil {
		t.Fatal(err)
	}
	// Over HTTPS, with big uncompressed batches: a push far above the API's 64 KiB body limit.
	tlsc := &replication.Client{HTTP: hc, Batch: 1000, Plain: true}
	c := e2eJoin(t, b, srvB.URL, "", tlsc)
	srvC := e2eServe(t, c, false)

	e2eRegister(t, a, "Alba", 120)
	e2eRegister(t, b, "Bruno", 80)
	e2eRegister(t, c, "Celia", 250)
	rep := e2eSync(t, tlsc, c, srvB.URL)
	if rep.Pushed < 250 || rep.BytesSent < 64<<10 {
		t.Fatalf("c to b: %+v", rep)
	}
	e2eSync(t, plain, b, srvA.URL)
	e2eSync(t, tlsc, c, srvB.URL)
	ha, hb, hc2 := e2eState(t, a), e2eState(t, b), e2eState(t, c)
	if ha.StateHash != hb.StateHash || hb.StateHash != hc2.StateHash {
		t.Fatalf("no convergence: %s %s %s", ha.StateHash, hb.StateHash, hc2.StateHash)
	}
	for _, n := range []*node.Node{a, b, c} {
		if _, total, err := n.Registry.List(ctx, auth.Operator("test"), 0, 1); err != nil || total != 450 {
			t.Fatalf("people on %s: %d %v", n.Keys.NodeID, total, err)
		}
	}
	// A repeat sync moves nothing.
	if rep := e2eSync(t, plain, b, srvA.URL); rep.Pulled+rep.Pushed+rep.Known+rep.PushedKnown != 0 {
		t.Fatalf("a repeat sync moved events: %+v", rep)
	}
	// The server side keeps peer state too.
	st, err := replication.ReadStatus(ctx, a)
	if err != nil || len(st.Peers) != 1 || st.Peers[0].Node != b.Keys.NodeID || st.Peers[0].TheyLack != 0 || st.Peers[0].LastHeard.IsZero() {
		t.Fatalf("a's status: %+v %v", st, err)
	}

	// Revocation: a cuts c off at the last event of c it holds.
	cut := e2eState(t, a).Nodes[c.Keys.NodeID]
	if _, err := a.Ledger.Revoke(ctx, "test", c.Keys.NodeID); err != nil {
		t.Fatal(err)
	}
	e2eRegister(t, c, "Tarde", 5) // signed after the cut
	// b has not heard of the revocation yet and takes them...
	if rep := e2eSync(t, tlsc, c, srvB.URL); rep.Pushed != 5 {
		t.Fatalf("c to b before b hears of the revocation: %+v", rep)
	}
	// ...and drops them when the revocation arrives (a sync pulls before
	// it pushes, so they never travel on)...
	vecA, err := a.Ledger.Vector(ctx)
	if err != nil {
		t.Fatal(err)
	}
	late, _, err := b.Ledger.Missing(ctx, vecA, 100)
	if err != nil || len(late) != 5 {
		t.Fatalf("b's copy of c's late events: %d %v", len(late), err)
	}
	rep = e2eSync(t, plain, b, srvA.URL)
	if rep.Purged != 5 || rep.Pushed != 0 || len(rep.PeerRejected) != 0 {
		t.Fatalf("b with a after the revocation: %+v", rep)
	}
	// ...and a, offered them anyway, refuses them.
	if res, err := a.Ledger.Import(ctx, late); err != nil || res.Applied != 0 || len(res.Rejected) != 1 || res.Rejected[0].Reason != ledger.ReasonRevoked {
		t.Fatalf("a offered c's late events: %+v %v", res, err)
	}
	// c is sent nothing more, by either.
	for _, url := range []string{srvA.URL, srvB.URL} {
		cl := plain
		if url == srvB.URL {
			cl = tlsc
		}
		before, _ := c.Ledger.Vector(ctx)
		_, err := cl.Sync(ctx, c, url, nil)
		if status, code := e2eCode(err); status != 403 || code != "revoked" {
			t.Fatalf("revoked c syncing with %s: %v", url, err)
		}
		after, _ := c.Ledger.Vector(ctx)
		if replication.Behind(after, before) != 0 {
			t.Fatal("the revoked node received events")
		}
	}
	// The refusal is on c's record of b, the peer it knew at that URL.
	if p, found, err := replication.GetPeer(ctx, c.Store, b.Keys.NodeID); !found || err != nil || p.LastError == "" || p.LastErrorAt.IsZero() {
		t.Fatalf("c's record of the refusal: %+v %v %v", p, found, err)
	}
	// And nobody talks to it.
	if _, err := plain.Sync(ctx, a, srvC.URL, nil); !errors.Is(err, replication.ErrPeerRevoked) {
		t.Fatalf("a syncing with the revoked c: %v", err)
	}
	ha, hb = e2eState(t, a), e2eState(t, b)
	if ha.StateHash != hb.StateHash || ha.Nodes[c.Keys.NodeID] != cut || hb.Nodes[c.Keys.NodeID] != cut {
		t.Fatalf("after the revocation: a %s (%d of c), b %s (%d of c), cut at %d", ha.StateHash, ha.Nodes[c.Keys.NodeID],
			hb.StateHash, hb.Nodes[c.Keys.NodeID], cut)
	}
	if _, total, _ := a.Registry.List(ctx, auth.Operator("test"), 0, 1); total != 450 {
		t.Fatalf("people on a after the revocation: %d", total)
	}
}

// TestSyncNeedsAKnownPeer: a node refuses to sync with a server that is
// not an enrolled node of its organisation (here: another organisation's).
func TestSyncNeedsAKnownPeer(t *testing.T) {
	a, other := e2eFounder(t), e2eFounder(t)
	srv := e2eServe(t, other, false)
	_, err := (&replication.Client{}).Sync(context.Background(), a, srv.URL, nil)
	// The other organisation's server cannot check a's signature (other
	// org id, unknown node): it refuses first.
	if status, code := e2eCode(err); status != 403 || code != "unknown_node" {
		t.Fatalf("err = %v", err)
	}
}

// TestSyncHubPostgres: the same binary on PostgreSQL is a hub. It joins
// by the founder's invitation, invites two more nodes itself, and every
// node syncs only with it: all converge, and the hub holds the sealed
// fields as the nodes sealed them (no name in its tables).
func TestSyncHubPostgres(t *testing.T) {
	db := testenv.PostgresDB(t)
	ctx := context.Background()
	a := e2eFounder(t)
	srvA := e2eServe(t, a, false)
	c := &replication.Client{Batch: 100}
	hub := e2eJoin(t, a, srvA.URL, db, c)
	if hub.Store.Dialect() != "postgres" {
		t.Fatalf("hub store: %s", hub.Store.Dialect())
	}
	srvHub := e2eServe(t, hub, false)
	b := e2eJoin(t, hub, srvHub.URL, "", c)
	d := e2eJoin(t, hub, srvHub.URL, "", c)
	e2eRegister(t, a, "Qzhubcanary", 150)
	e2eRegister(t, b, "Bruno", 90)
	e2eRegister(t, d, "Dora", 60)
	for range 2 {
		for _, n := range []*node.Node{a, b, d} {
			e2eSync(t, c, n, srvHub.URL)
		}
	}
	want := e2eState(t, hub).StateHash
	for _, n := range []*node.Node{a, b, d} {
		if got := e2eState(t, n).StateHash; got != want {
			t.Fatalf("%s: state %s, hub %s", n.Keys.NodeID, got, want)
		}
	}
	if _, total, err := hub.Registry.List(ctx, auth.Operator("test"), 0, 1); err != nil || total != 300 {
		t.Fatalf("people on the hub: %d %v", total, err)
	}
	// The hub's tables hold what the nodes sealed, not names.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(s string) int {
		var hits int
		if err := conn.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM events WHERE position($1 in convert_from(body, 'UTF8')) > 0)
			+ (SELECT COUNT(*) FROM docs WHERE position($1 in convert_from(data, 'UTF8')) > 0)`, s).Scan(&hits); err != nil {
			t.Fatal(err)
		}
		return hits
	}
	if count(a.Keys.NodeID) == 0 {
		t.Fatal("the scan finds nothing at all: it is broken")
	}
	if hits := count("Qzhubcanary"); hits != 0 {
		t.Fatalf("%d rows on the hub hold a name in the clear", hits)
	}
}
