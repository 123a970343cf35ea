package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/replication"
	"caravana/internal/web"
)

// TestNodeAndSyncCommands: a coordinator invites a device, it joins with
// init --join while the founder serves, both list the nodes, the new node
// syncs and shows its status; a used invitation and a revoked node are
// refused with exit 1, mistakes in the call with exit 2.
func TestNodeAndSyncCommands(t *testing.T) {
	ctx := context.Background()
	front := newCLIEnv(t)
	a, err := node.Open(ctx, node.Config{Dir: front.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv, err := web.New(a, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	inv := filepath.Join(t.TempDir(), "rear.invite")

	if code, _, errs := front.run(t, "node", "invite", "--out", inv); code != 2 || !strings.Contains(errs, "--url") {
		t.Fatalf("invite without --url: %d %s", code, errs)
	}
	code, out, errs := front.run(t, "node", "invite", "--out", inv, "--url", ts.URL, "--name", "rear guard", "--expires", "2h")
	if code != 0 || !strings.Contains(out, "caravana init --data DIR --join "+inv) {
		t.Fatalf("invite: %d %s %s", code, out, errs)
	}
	if st, err := os.Stat(inv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("invitation file: %v %v", st, err)
	}
	if code, _, _ := front.run(t, "node", "invite", "--out", inv, "--url", ts.URL); code != 2 {
		t.Fatalf("invite over an existing file: %d", code)
	}

	rear := &cliEnv{dir: filepath.Join(t.TempDir(), "rear"), passFile: front.passFile}
	if code, _, _ := rear.run(t, "init", "--join", inv, "--admin", "x"); code != 2 {
		t.Fatalf("init --join --admin: %d", code)
	}
	code, out, errs = rear.run(t, "init", "--join", inv)
	if code != 0 || !strings.Contains(out, "Joined organisation "+a.Keys.OrgID()) {
		t.Fatalf("init --join: %d %s %s", code, out, errs)
	}
	again := &cliEnv{dir: filepath.Join(t.TempDir(), "again"), passFile: front.passFile}
	if code, _, errs := again.run(t, "init", "--join", inv); code != 1 || !strings.Contains(errs, "invite_used") {
		t.Fatalf("a used invitation: %d %s", code, errs)
	}
	if _, err := os.Stat(again.dir); err == nil {
		t.Error("a refused join left a folder behind")
	}

	rearID, rcpt, _, err := crypto.PublicInfo(rear.dir)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := rear.run(t, "node", "id"); code != 0 || out != rearID+"\n"+rcpt+"\n" {
		t.Fatalf("node id: %d %q", code, out)
	}
	var nodes []ledger.NodeInfo
	code, out, _ = rear.run(t, "node", "list", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &nodes) != nil || len(nodes) != 2 {
		t.Fatalf("node list: %d %s", code, out)
	}
	if code, out, _ := front.run(t, "node", "list"); code != 0 || !strings.Contains(out, "rear guard") || !strings.Contains(out, "(this node)") {
		t.Fatalf("node list (table): %d %s", code, out)
	}

	// Something new on the founder; the rear syncs with the peer it knows.
	if code, _, errs := front.run(t, "person", "add", "--given-names", "Nueva", "--surname1", "Persona", "--sex", "F", "--consent"); code != 0 {
		t.Fatalf("person add: %s", errs)
	}
	var reps []replication.Report
	code, out, errs = rear.run(t, "sync", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &reps) != nil || len(reps) != 1 || reps[0].Pulled == 0 || reps[0].Peer != a.Keys.NodeID {
		t.Fatalf("sync: %d %s %s", code, out, errs)
	}
	var st replication.Status
	code, out, _ = rear.run(t, "sync", "status", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Peers) != 1 || st.Peers[0].URL != ts.URL || st.Peers[0].TheyLack != 0 || st.Peers[0].WeLack != 0 {
		t.Fatalf("sync status: %d %s", code, out)
	}
	if code, out, _ := rear.run(t, "sync", "status"); code != 0 || !strings.Contains(out, ts.URL) {
		t.Fatalf("sync status (table): %d %s", code, out)
	}

	if code, _, _ := front.run(t, "node", "revoke", "0000000000000000"); code != 2 {
		t.Fatalf("revoke an unknown node: %d", code)
	}
	if code, out, errs := front.run(t, "node", "revoke", rearID); code != 0 || !strings.Contains(out, "Revoked "+rearID) {
		t.Fatalf("revoke: %d %s %s", code, out, errs)
	}
	if code, _, errs := rear.run(t, "sync", "--peer", ts.URL); code != 1 || !strings.Contains(errs, "revoked") {
		t.Fatalf("a revoked node's sync: %d %s", code, errs)
	}
}

// cliHoldFuture delivers to e's node count events, from seq from after
// the one whose hash is prev, of a device whose clock runs two hours ahead
// (enrolling it first, with from 1): they are held for review. It returns
// the hash of the last one, for the next call.
func cliHoldFuture(t *testing.T, e *cliEnv, keys *crypto.Keys, from uint64, prev []byte, count int) []byte {
	t.Helper()
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{Dir: e.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if from == 1 {
		if err := n.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: "clock ahead",
			SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(2 * time.Hour).UnixMilli()
	evs := make([]event.Event, count)
	for i := range evs {
		evs[i] = event.Event{Node: keys.NodeID, Seq: from + uint64(i), HLC: event.MakeHLC(at, uint16(i)), Actor: "test",
			Kind: "test.future", Subject: "test/1", Body: json.RawMessage(`{}`), Prev: prev}
		evs[i].Seal(keys.Signing)
		prev = evs[i].Hash
	}
	res, err := n.Ledger.Import(ctx, evs)
	if err != nil || res.Held != count {
		t.Fatalf("import of future events: %+v %v", res, err)
	}
	return prev
}

// TestSyncHeldCommands: events stamped two hours ahead show in 'sync
// held' and 'sync status'; 'sync release' applies them, 'sync discard'
// drops them; naming a node with nothing held is a mistake in the call.
func TestSyncHeldCommands(t *testing.T) {
	e := newCLIEnv(t)
	keys, err := crypto.NewKeys(testKDF)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := e.run(t, "sync", "held"); code != 0 || !strings.Contains(out, "No events are held") {
		t.Fatalf("sync held with none: %d %s %s", code, out, errs)
	}
	tail := cliHoldFuture(t, e, keys, 1, nil, 3)

	code, out, errs := e.run(t, "sync", "held")
	if code != 0 || !strings.Contains(out, keys.NodeID) || !strings.Contains(out, "clock ahead") || !strings.Contains(out, "caravana sync release NODE") {
		t.Fatalf("sync held: %d %s %s", code, out, errs)
	}
	var rows []heldRow
	code, out, _ = e.run(t, "sync", "held", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Node != keys.NodeID ||
		rows[0].First != 1 || rows[0].Count != 3 || rows[0].AheadSeconds < 7000 {
		t.Fatalf("sync held --json: %d %s", code, out)
	}
	code, out, _ = e.run(t, "sync", "status")
	if code != 0 || !strings.Contains(out, "Held for review: 3 events of node "+keys.NodeID) || !strings.Contains(out, "caravana sync release "+keys.NodeID) {
		t.Fatalf("sync status: %d %s", code, out)
	}
	var st struct {
		replication.Status
		Held []heldRow `json:"held"`
	}
	code, out, _ = e.run(t, "sync", "status", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Node == "" || len(st.Held) != 1 || st.Held[0].Count != 3 {
		t.Fatalf("sync status --json: %d %s", code, out)
	}

	before := e.events(t)
	if code, out, errs := e.run(t, "sync", "release", keys.NodeID); code != 0 || !strings.Contains(out, "3 applied") {
		t.Fatalf("sync release: %d %s %s", code, out, errs)
	}
	if after := e.events(t); after != before+3 {
		t.Fatalf("after release the log holds %d events, want %d", after, before+3)
	}
	if code, _, errs := e.run(t, "sync", "release", keys.NodeID); code != 2 || !strings.Contains(errs, "no events of node") {
		t.Fatalf("sync release with nothing held: %d %s", code, errs)
	}
	if code, _, _ := e.run(t, "sync", "release"); code != 2 {
		t.Fatalf("sync release without a node: %d", code)
	}

	cliHoldFuture(t, e, keys, 4, tail, 2)
	before = e.events(t)
	if code, out, errs := e.run(t, "sync", "discard", keys.NodeID); code != 0 || !strings.Contains(out, "Discarded 2 held events") {
		t.Fatalf("sync discard: %d %s %s", code, out, errs)
	}
	if code, out, _ := e.run(t, "sync", "held"); code != 0 || !strings.Contains(out, "No events are held") || e.events(t) != before {
		t.Fatalf("after discard: %d %s", code, out)
	}
	if code, _, _ := e.run(t, "sync", "discard", keys.NodeID); code != 2 {
		t.Fatalf("sync discard with nothing held: %d", code)
	}
}
