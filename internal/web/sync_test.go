package web

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/replication"
)

// TestSyncPage: a coordinator sees this node, its peers (when heard, how
// far behind, the last error) and the enrolled nodes, and revokes a node
// only by ticking the confirmation; a node cannot revoke itself.
func TestSyncPage(t *testing.T) {
	e := newEnv(t)
	spare := withSpareNode(t, e, &fixtures{})["node"]
	heard := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := replication.UpdatePeer(context.Background(), e.n.Store, spare, func(p *replication.Peer) {
		p.URL, p.LastHeard, p.Vector = "http://10.0.0.7:8080", heard, map[string]uint64{e.n.Keys.NodeID: 1}
		p.LastError = "reach the peer: connection refused"
	}); err != nil {
		t.Fatal(err)
	}
	c := e.login(auth.Coordinator)
	checkPages(t, c, "/sync")
	r := c.page("/sync")
	for _, w := range []string{"Sincronización", e.n.Keys.NodeID, spare, "http://10.0.0.7:8080", "2026-03-04 05:06:07",
		"connection refused", `action="/sync/nodes/` + spare + `/revoke"`, `href="/sync" aria-current="page"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the sync page lacks %q", w)
		}
	}
	if strings.Contains(r.body, `action="/sync/nodes/`+e.n.Keys.NodeID+`/revoke"`) {
		t.Error("the page offers to revoke this node itself")
	}
	if r = e.login(auth.Volunteer).page("/"); strings.Contains(r.body, `href="/sync"`) {
		t.Error("a volunteer is offered the sync page")
	}

	revoked := func() bool {
		nodes, err := e.n.Ledger.NodeList(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.ID == spare {
				return n.Revoked
			}
		}
		t.Fatal("spare node not listed")
		return false
	}
	if r = c.form("/sync/nodes/"+spare+"/revoke", url.Values{}); r.status != 400 || revoked() {
		t.Fatalf("revoke without confirming: %d, revoked %v", r.status, revoked())
	}
	if r = c.form("/sync/nodes/"+e.n.Keys.NodeID+"/revoke", url.Values{"confirm": {"1"}}); r.status != 400 {
		t.Fatalf("revoke self: %d", r.status)
	}
	if r = c.form("/sync/nodes/0000000000000000/revoke", url.Values{"confirm": {"1"}}); r.status != 404 {
		t.Fatalf("revoke an unknown node: %d", r.status)
	}
	if r = c.form("/sync/nodes/"+spare+"/revoke", url.Values{"confirm": {"1"}}); r.status != 303 || !revoked() {
		t.Fatalf("revoke: %d, revoked %v", r.status, revoked())
	}
	r = c.page("/sync?done=revoked")
	if !strings.Contains(r.body, "Nodo revocado") || !strings.Contains(r.body, "revocado tras su evento 0") ||
		strings.Contains(r.body, `action="/sync/nodes/`+spare+`/revoke"`) {
		t.Errorf("after revoking:\n%.3000s", r.body)
	}

	var st replication.Status
	if r = c.page("/api/v1/sync"); r.status != 200 || json.Unmarshal([]byte(r.body), &st) != nil {
		t.Fatalf("GET /api/v1/sync: %d %s", r.status, r.body)
	}
	if st.Node != e.n.Keys.NodeID || st.Vector[e.n.Keys.NodeID] == 0 || len(st.Nodes) != 2 || len(st.Peers) != 1 ||
		st.Peers[0].TheyLack == 0 || !st.Peers[0].Revoked {
		t.Errorf("status: %+v", st)
	}
}

// TestSyncProtocolErrors: the node-to-node endpoints answer JSON errors,
// also for a path or method they do not have.
func TestSyncProtocolErrors(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/sync/v1/pull", 401, "unauthenticated"},
		{"POST", "/sync/v1/nope", 404, "not_found"},
		{"GET", "/sync/v1/pull", 405, "method_not_allowed"},
	} {
		r := c.do(tc.method, tc.path, `{}`, nil)
		var eb struct{ Error, Code string }
		if r.status != tc.status || json.Unmarshal([]byte(r.body), &eb) != nil || eb.Code != tc.code {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
}

// TestSyncPageHeld: events of a node whose clock runs two hours ahead
// show on the coordinator's sync page as held for review, with how far
// ahead they are and the command that releases them; once released they
// are gone from it.
func TestSyncPageHeld(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c := e.login(auth.Coordinator)
	if r := c.page("/sync"); strings.Contains(r.body, "Eventos retenidos") {
		t.Fatal("the sync page shows held events when there are none")
	}
	k, at := holdFuture(t, e)
	checkPages(t, c, "/sync")
	r := c.page("/sync")
	for _, w := range []string{"Eventos retenidos para revisión", "reloj adelantado", k.NodeID, "caravana sync release " + k.NodeID,
		"5 minutos", at.UTC().Format("2006-01-02 15:04")} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the sync page lacks %q", w)
		}
	}
	// Two hours, give or take the test's own time.
	if !strings.Contains(r.body, "2h 00m") && !strings.Contains(r.body, "1h 59m") {
		t.Error("the sync page does not say how far ahead the held events are")
	}
	if r := e.login(auth.Volunteer).page("/sync"); r.status != 403 || strings.Contains(r.body, k.NodeID) {
		t.Errorf("a volunteer at /sync: %d", r.status)
	}
	release := "/sync/held/" + k.NodeID + "/release"
	if !strings.Contains(r.body, `action="`+release+`"`) {
		t.Error("the sync page has no release button")
	}
	if r := c.form(release, url.Values{}); r.status != 400 {
		t.Errorf("release without confirming: %d", r.status)
	}
	if r := e.login(auth.Volunteer).form(release, url.Values{"confirm": {"1"}}); r.status != 403 {
		t.Errorf("a volunteer releasing: %d", r.status)
	}
	if r := c.form(release, url.Values{"confirm": {"1"}}); r.status != 303 {
		t.Fatalf("release: %d", r.status)
	}
	if r := c.page("/sync?done=released"); strings.Contains(r.body, "Eventos retenidos para") || !strings.Contains(r.body, "Eventos retenidos aplicados") {
		t.Errorf("after releasing:\n%.3000s", r.body)
	}
	if held, err := e.n.Ledger.Held(ctx); err != nil || len(held) != 0 {
		t.Errorf("held after release: %+v %v", held, err)
	}
	if r := c.form(release, url.Values{"confirm": {"1"}}); r.status != 404 {
		t.Errorf("releasing again: %d", r.status)
	}
}

// holdFuture enrols a node whose clock runs two hours ahead and imports
// three of its events, which are held for review. It returns the node's
// keys and the events' time.
func holdFuture(t testing.TB, e *env) (*crypto.Keys, time.Time) {
	t.Helper()
	ctx := context.Background()
	k, err := crypto.NewKeys(crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.n.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: k.NodeID, Name: "reloj adelantado",
		SigningKey: k.Signing.Public().(ed25519.PublicKey), AgeRecipient: k.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(2 * time.Hour)
	var prev []byte
	evs := make([]event.Event, 3)
	for i := range evs {
		evs[i] = event.Event{Node: k.NodeID, Seq: uint64(i + 1), HLC: event.MakeHLC(at.UnixMilli(), uint16(i)), Actor: "test",
			Kind: "test.future", Subject: "test/1", Body: json.RawMessage(`{}`), Prev: prev}
		evs[i].Seal(k.Signing)
		prev = evs[i].Hash
	}
	if res, err := e.n.Ledger.Import(ctx, evs); err != nil || res.Held != 3 {
		t.Fatalf("import: %+v %v", res, err)
	}
	return k, at
}
