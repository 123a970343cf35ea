package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caravana/internal/crypto"
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
