package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caravana/internal/testenv"
)

// newFolderEnv is a cliEnv whose folder does not exist yet.
func newFolderEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := &cliEnv{dir: filepath.Join(t.TempDir(), "node"), passFile: filepath.Join(t.TempDir(), "pass")}
	if err := os.WriteFile(e.passFile, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestInitRefusesBadInput: a wrong --db or --admin is refused with an
// error naming it, and leaves no folder behind.
func TestInitRefusesBadInput(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		mentions string
	}{
		{"mysql URL", []string{"--db", "mysql://x", "init"}, 1, "--db"},
		{"empty admin", []string{"init", "--admin", ""}, 2, "--admin"},
		{"blank admin", []string{"init", "--admin", "  "}, 2, "--admin"},
		{"admin with a space", []string{"init", "--admin", "ana maria"}, 1, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFolderEnv(t)
			code, stdout, stderr := e.run(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.mentions) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tt.code, tt.mentions, stdout, stderr)
			}
			if _, err := os.Stat(e.dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused init left %s: %v", e.dir, err)
			}
		})
	}
}

// TestInitPrintsTheAccount: the username printed is the account made.
func TestInitPrintsTheAccount(t *testing.T) {
	e := newFolderEnv(t)
	code, stdout, stderr := e.run(t, "init", "--admin", " Ana ")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "First coordinator: ana\n") {
		t.Errorf("init output does not name the account ana:\n%s", stdout)
	}
	if !strings.Contains(stdout, "Next: caravana serve --data "+e.dir+"\n") {
		t.Errorf("init hint:\n%s", stdout)
	}
	if code, out, stderr := e.run(t, "--json", "user", "list"); code != 0 || !strings.Contains(out, `"ana"`) {
		t.Errorf("user list: exit %d\n%s%s", code, out, stderr)
	}
}

// TestInitHintPostgres: after init on PostgreSQL the hint carries --db,
// without the password, and a second init on the same database is refused.
func TestInitHintPostgres(t *testing.T) {
	db := testenv.PostgresDB(t)
	withPassword := strings.Replace(db, "postgres://postgres@", "postgres://postgres:s3cr3t-pw@", 1)
	if withPassword == db {
		t.Fatalf("test URL %s has no user part to add a password to", db)
	}
	// The test server trusts every connection, so the password is not checked.
	withPassword += "&password=other-s3cr3t"
	e := newFolderEnv(t)
	code, stdout, stderr := e.run(t, "--db", withPassword, "init")
	if code != 0 {
		t.Fatalf("init --db: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cr3t") {
		t.Errorf("init printed the password:\n%s%s", stdout, stderr)
	}
	var next string
	for _, line := range strings.Split(stdout, "\n") {
		if s, ok := strings.CutPrefix(line, "Next: "); ok {
			next = s
		}
	}
	if !strings.Contains(next, "--data "+e.dir) || !strings.Contains(next, "--db 'postgres://postgres:xxxxx@") {
		t.Errorf("hint %q: want --data and --db with the password redacted", next)
	}
	if code, stdout, stderr := e.run(t, "--db", db, "--json", "init"); code != 1 || json.Valid([]byte(stdout)) {
		t.Errorf("init again in the same folder: exit %d\n%s%s", code, stdout, stderr)
	}
	second := newFolderEnv(t)
	code, stdout, stderr = second.run(t, "--db", db, "init", "--admin", "mallory")
	if code != 1 || !strings.Contains(stderr, "already holds a node") {
		t.Errorf("init on a database with a node: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(second.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused init left %s: %v", second.dir, err)
	}
	// The first node opens with its --db, and has one user.
	if code, out, stderr := e.run(t, "--db", db, "--json", "user", "list"); code != 0 || strings.Contains(out, "mallory") || !strings.Contains(out, "coordinator") {
		t.Errorf("user list: exit %d\n%s%s", code, out, stderr)
	}
	// Pointed at an empty database it stops, and creates nothing.
	empty := testenv.PostgresDB(t)
	if code, out, stderr := e.run(t, "--db", empty, "verify"); code != 1 || !strings.Contains(stderr, "holds no data of this node") {
		t.Errorf("verify on an empty database: exit %d\n%s%s", code, out, stderr)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:secret@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?password=secret&sslmode=require", "postgres://h/db?password=xxxxx&sslmode=require"},
		{"postgres://u:sec%40ret@h/db", "postgres://u:xxxxx@h/db"},
		{"postgres://u:secret@h/db\x7f", "postgres://..."},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want || strings.Contains(got, "secret") {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
