package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
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
	"caravana/internal/store"
)

// bundleCLIJoin makes a second node folder in front's organisation,
// enrolled by front, that has received nothing yet; it returns it and
// its node id.
func bundleCLIJoin(t *testing.T, front *cliEnv) (*cliEnv, string) {
	t.Helper()
	ctx := context.Background()
	a, err := node.Open(ctx, node.Config{Dir: front.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	keys, err := crypto.NewKeys(testKDF)
	if err != nil {
		t.Fatal(err)
	}
	rear := &cliEnv{dir: filepath.Join(t.TempDir(), "rear"), passFile: front.passFile}
	b, err := node.Join(ctx, node.Config{Dir: rear.dir, KDF: testKDF, PasswordKDF: testKDF}, keys, testPassphrase, a.Keys.KeyID, a.Keys.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	founder, err := a.Ledger.Founder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ledger.Trust(ctx, founder); err != nil {
		t.Fatal(err)
	}
	if err := a.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: "rear",
		SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	return rear, keys.NodeID
}

// bundleRun runs a command line like cliEnv.run, through the root
// command; until the sync group offers export and import, they are
// added to it here.
func bundleRun(t *testing.T, e *cliEnv, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, KDF: testKDF, PasswordKDF: testKDF}
	root := NewRootCommand(app)
	for _, c := range root.Commands() {
		if c.Name() != "sync" {
			continue
		}
		if sub, _, err := c.Find([]string{"export"}); err != nil || sub == c {
			c.AddCommand(newSyncExport(app), newSyncImport(app))
		}
	}
	root.SetArgs(append([]string{"--data", e.dir, "--passphrase-file", e.passFile}, args...))
	root.SetIn(app.Stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0, out.String(), errb.String()
	}
	return exitCode(err), out.String(), errb.String() + err.Error()
}

func bundleStateHash(t *testing.T, e *cliEnv) string {
	t.Helper()
	code, out, errs := bundleRun(t, e, "verify", "--json")
	var rep ledger.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.StateHash == "" {
		t.Fatalf("verify: %d %s %s", code, out, errs)
	}
	return rep.StateHash
}

// TestSyncBundleCommands: `sync export` on one node and `sync import` on
// another, through the root command: the nodes converge, the file is
// written whole with mode 0600 and shows no names, a second import
// changes nothing, and mistakes get clear errors and change nothing.
func TestSyncBundleCommands(t *testing.T) {
	front := newCLIEnv(t)
	rear, rearID := bundleCLIJoin(t, front)
	usb := t.TempDir()
	file := filepath.Join(usb, "para-rear.age")

	code, out, errs := bundleRun(t, front, "sync", "export", "--to", rearID, "--out", file)
	if code != 0 || !strings.Contains(out, "events for "+rearID) || !strings.Contains(out, "bytes") {
		t.Fatalf("export: %d\n%s\n%s", code, out, errs)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle file: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(usb)
	if len(entries) != 1 {
		t.Fatalf("export left %d files in the folder", len(entries))
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, canary := range []string{"Anacleta", "Luisito", "Canario", rearID} {
		if bytes.Contains(data, []byte(canary)) {
			t.Fatalf("%q readable in the bundle file", canary)
		}
	}

	code, out, errs = bundleRun(t, rear, "sync", "import", file)
	if code != 0 || !strings.Contains(out, "applied") || !strings.Contains(out, "0 refused") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	if hf, hr := bundleStateHash(t, front), bundleStateHash(t, rear); hf != hr {
		t.Fatalf("state differs after the bundle: %s vs %s", hf, hr)
	}

	// Again, as JSON: everything already held.
	code, out, errs = bundleRun(t, rear, "sync", "import", file, "--json")
	var res replication.BundleResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Applied != 0 || int64(res.Known) != res.Events || res.Events == 0 {
		t.Fatalf("second import: %d %+v\n%s\n%s", code, res, out, errs)
	}

	// Mistakes.
	for _, tc := range []struct {
		env  *cliEnv
		args []string
		code int
		want string
	}{
		{front, []string{"sync", "export", "--out", file}, 2, "--to is required"},
		{front, []string{"sync", "export", "--to", rearID}, 2, "--out is required"},
		{front, []string{"sync", "export", "--to", rearID, "--out", usb}, 2, "is a folder"},
		{front, []string{"sync", "export", "--to", "nobody", "--out", file}, 1, "no enrolled node has that id or name"},
		{front, []string{"sync", "import"}, 2, "accepts 1 arg"},
		{front, []string{"sync", "import", file}, 1, "not addressed to this node"},
		{rear, []string{"sync", "import", filepath.Join(usb, "missing.age")}, 1, "open bundle"},
		{rear, []string{"sync", "import", front.passFile}, 1, "not a caravana bundle"},
	} {
		code, out, errs := bundleRun(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s\n%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
	if after, err := os.ReadFile(file); err != nil || !bytes.Equal(after, data) {
		t.Fatal("a failed export changed the existing file")
	}
	if entries, _ := os.ReadDir(usb); len(entries) != 1 {
		t.Fatalf("failed exports left %d files in the folder", len(entries))
	}
}

// TestSyncBundleHeld: a bundle whose last events were stamped by a clock
// two hours ahead applies the rest; the import says those are held for
// review, and 'sync held' lists them.
func TestSyncBundleHeld(t *testing.T) {
	ctx := context.Background()
	front := newCLIEnv(t)
	rear, rearID := bundleCLIJoin(t, front)
	a, err := node.Open(ctx, node.Config{Dir: front.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	frontID := a.Keys.NodeID
	// What the front's log holds after its clock jumped two hours ahead.
	err = a.Store.Update(ctx, func(tx store.Tx) error {
		head, err := tx.Head(ctx, frontID)
		if err != nil {
			return err
		}
		at := time.Now().Add(2 * time.Hour).UnixMilli()
		for i := range 2 {
			e := event.Event{Node: frontID, Seq: head.Seq + 1, HLC: event.MakeHLC(at, uint16(i)), Actor: "test",
				Kind: "test.future", Subject: "test/1", Body: json.RawMessage(`{}`), Prev: head.Hash}
			e.Seal(a.Keys.Signing)
			if err := tx.InsertEvent(ctx, &e); err != nil {
				return err
			}
			head.Seq, head.Hash = e.Seq, e.Hash
		}
		return nil
	})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "para-rear.age")
	if code, out, errs := bundleRun(t, front, "sync", "export", "--to", rearID, "--out", file); code != 0 {
		t.Fatalf("export: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := bundleRun(t, rear, "sync", "import", file)
	if code != 0 || !strings.Contains(out, frontID) || !strings.Contains(out, "held: "+frontID) ||
		!strings.Contains(out, "(2 events): "+ledger.ReasonFuture) || !strings.Contains(out, "2 held for review, 0 refused") ||
		!strings.Contains(out, "caravana sync held") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := bundleRun(t, rear, "sync", "held"); code != 0 || !strings.Contains(out, frontID) {
		t.Fatalf("sync held: %d\n%s\n%s", code, out, errs)
	}
}
