package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/testenv"
)

func pgConfig(t *testing.T, db string) Config {
	t.Helper()
	return Config{Dir: filepath.Join(t.TempDir(), "node"), DB: db, Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
}

// pgCount runs a one-number query on the database at db.
func pgCount(t *testing.T, db, query string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func pgExec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

const countTables = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()`

func usernames(t *testing.T, n *Node) []string {
	t.Helper()
	users, err := n.Auth.Users(context.Background(), auth.Operator("test"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	return names
}

func noFolder(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(dir)
		t.Errorf("%s was left behind (%v, %d entries)", dir, err, len(entries))
	}
}

// TestOpenWrongDatabasePostgres: an existing node pointed at an empty
// database, or at another node's, stops with a clear error and creates
// nothing there (S5); pointed at its own it opens.
func TestOpenWrongDatabasePostgres(t *testing.T) {
	ctx := context.Background()
	cfg := pgConfig(t, testenv.PostgresDB(t))
	n, err := Init(ctx, cfg, InitOptions{Name: "hub", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	other := pgConfig(t, testenv.PostgresDB(t))
	o, err := Init(ctx, other, InitOptions{Name: "other", AdminUser: "bea", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	emptyDB := testenv.PostgresDB(t)
	emptySchema := testenv.PostgresDB(t)
	// A schema with no node in it: what a half-finished creation by an
	// older binary, or an administrator, could leave.
	pgExec(t, emptySchema, `CREATE TABLE schema_version (version BIGINT NOT NULL)`, `INSERT INTO schema_version VALUES (0)`)
	tests := []struct {
		name string
		db   string
		want error
	}{
		{"empty database", emptyDB, store.ErrNoNode},
		{"empty schema", emptySchema, store.ErrNoNode},
		{"another node's database", other.DB, store.ErrOtherNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tablesBefore := pgCount(t, tt.db, countTables)
			wrong := cfg
			wrong.DB = tt.db
			n, err := Open(ctx, wrong)
			if !errors.Is(err, tt.want) {
				if n != nil {
					n.Close()
				}
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "--db") {
				t.Errorf("error %q does not name --db", err)
			}
			if got := pgCount(t, tt.db, countTables); got != tablesBefore {
				t.Errorf("the refused open changed the tables: %d, was %d", got, tablesBefore)
			}
		})
	}
	if got := pgCount(t, other.DB, `SELECT COUNT(*) FROM local_docs WHERE kind = 'meta' AND id = 'projections'`); got != 1 {
		t.Errorf("the other node's database was written to: %d projection markers", got)
	}
	n, err = Open(ctx, cfg)
	if err != nil {
		t.Fatalf("its own database: %v", err)
	}
	defer n.Close()
	if got := usernames(t, n); len(got) != 1 || got[0] != "ana" {
		t.Errorf("users = %v, want [ana]", got)
	}
}

// TestInitRefusesDatabaseWithNodePostgres: init on a database that holds a
// node stops before making keys, whatever the admin's name, and the node
// in it is untouched: no event, no user, no claim.
func TestInitRefusesDatabaseWithNodePostgres(t *testing.T) {
	ctx := context.Background()
	first := pgConfig(t, testenv.PostgresDB(t))
	n, err := Init(ctx, first, InitOptions{Name: "hub", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	events := pgCount(t, first.DB, `SELECT COUNT(*) FROM events`)
	for _, admin := range []string{"ana", "mallory"} {
		t.Run(admin, func(t *testing.T) {
			second := pgConfig(t, first.DB)
			n, err := Init(ctx, second, InitOptions{Name: "second", AdminUser: admin, AdminPassword: "long enough pw"})
			if !errors.Is(err, store.ErrHoldsNode) {
				if n != nil {
					n.Close()
				}
				t.Fatalf("Init over a node = %v, want ErrHoldsNode", err)
			}
			noFolder(t, second.Dir)
			if got := pgCount(t, first.DB, `SELECT COUNT(*) FROM events`); got != events {
				t.Errorf("events = %d, want %d", got, events)
			}
		})
	}
	// Join refuses it the same way.
	keys, err := crypto.NewKeys(testKDF)
	if err != nil {
		t.Fatal(err)
	}
	joined := pgConfig(t, first.DB)
	if j, err := Join(ctx, joined, keys, "correct horse battery", "k1", [32]byte{1}); !errors.Is(err, store.ErrHoldsNode) {
		if j != nil {
			j.Close()
		}
		t.Fatalf("Join over a node = %v, want ErrHoldsNode", err)
	}
	noFolder(t, joined.Dir)
	n, err = Open(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := usernames(t, n); len(got) != 1 || got[0] != "ana" {
		t.Errorf("users of the first node = %v, want [ana]", got)
	}
	if got := pgCount(t, first.DB, `SELECT COUNT(*) FROM local_docs WHERE kind = 'meta' AND id = 'node'`); got != 1 {
		t.Errorf("%d claims, want 1", got)
	}
}

// TestFailedInitLeavesNothingPostgres: an init that fails after it wrote
// its first event takes its tables and its folder with it, and the
// database takes a new node afterwards.
func TestFailedInitLeavesNothingPostgres(t *testing.T) {
	ctx := context.Background()
	db := testenv.PostgresDB(t)
	// An empty schema in which adding a user fails: the genesis goes in,
	// the first coordinator does not.
	pgExec(t, db, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`)
	cfg := pgConfig(t, db)
	n, err := Init(ctx, cfg, InitOptions{Name: "first", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	n.discard(ctx) // the schema stays empty; only its tables remain
	if got := pgCount(t, db, countTables); got != 0 {
		t.Fatalf("discard left %d tables", got)
	}
	// Tables made empty, with the trap set.
	cfg = pgConfig(t, db)
	n, err = Init(ctx, cfg, InitOptions{Name: "first", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	n.Ledger.Close()
	pgExec(t, db, `TRUNCATE events, docs, idx, local_docs, audit`,
		`CREATE TRIGGER refuse_users BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.kind = 'user.added') EXECUTE FUNCTION refuse()`)
	n.Store.Close()
	os.RemoveAll(cfg.Dir)

	cfg = pgConfig(t, db)
	n, err = Init(ctx, cfg, InitOptions{Name: "second", AdminUser: "bea", AdminPassword: "long enough pw"})
	if err == nil {
		n.Close()
		t.Fatal("Init succeeded with users refused")
	}
	if !strings.Contains(err.Error(), "first coordinator") {
		t.Errorf("error %q: want the first coordinator's failure", err)
	}
	if got := pgCount(t, db, countTables); got != 0 {
		t.Errorf("the failed init left %d tables", got)
	}
	noFolder(t, cfg.Dir)
	// Nothing is in the way of the next one.
	cfg = pgConfig(t, db)
	n, err = Init(ctx, cfg, InitOptions{Name: "third", AdminUser: "cruz", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatalf("Init after a failed one: %v", err)
	}
	defer n.Close()
	if got := usernames(t, n); len(got) != 1 || got[0] != "cruz" {
		t.Errorf("users = %v, want [cruz]", got)
	}
}

// TestInitChecksInputsFirst: mistakes in the command are refused before
// the key derivation, and leave no folder and no key file.
func TestInitChecksInputsFirst(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		db      string
		opt     InitOptions
		mention string
	}{
		{"mysql URL", "mysql://x", InitOptions{AdminUser: "ana", AdminPassword: "long enough pw"}, "--db"},
		{"admin name with spaces", "", InitOptions{AdminUser: "ana maria", AdminPassword: "long enough pw"}, "username"},
		{"admin name one letter", "", InitOptions{AdminUser: "a", AdminPassword: "long enough pw"}, "username"},
		{"admin name with a slash", "", InitOptions{AdminUser: "../ana", AdminPassword: "long enough pw"}, "username"},
		{"short admin password", "", InitOptions{AdminUser: "ana", AdminPassword: "short"}, "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "parent", "node")
			cfg := Config{Dir: dir, DB: tt.db, Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
			n, err := Init(ctx, cfg, tt.opt)
			if err == nil {
				n.Close()
				t.Fatal("Init succeeded")
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			noFolder(t, filepath.Dir(dir))
		})
	}
}

func TestInitOptionsAdmin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "coordinator"},
		{"  ", "coordinator"},
		{"Ana", "ana"},
		{" luis.p ", "luis.p"},
	}
	for _, tt := range tests {
		if got := (InitOptions{AdminUser: tt.in}).Admin(); got != tt.want {
			t.Errorf("Admin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Init makes the account Admin names.
	n, _ := newTestNodeAdmin(t, " Ana ")
	if got := usernames(t, n); len(got) != 1 || got[0] != "ana" {
		t.Errorf("users = %v, want [ana]", got)
	}
}

func newTestNodeAdmin(t *testing.T, admin string) (*Node, Config) {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := Init(context.Background(), cfg, InitOptions{Name: "test", AdminUser: admin, AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, cfg
}

// TestFilesPrivate: every file in the node folder is 0600 while the node
// runs and writes, and after it closes.
func TestFilesPrivate(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Dir: filepath.Join(t.TempDir(), "node"), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := Init(ctx, cfg, InitOptions{Name: "test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := n.Registry.Register(ctx, auth.Operator("test"), registry.PersonInput{GivenNames: "Ana" + strings.Repeat("a", i),
			Surname1: "Canario", Sex: "F", Consent: registry.Consent{Registration: true}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) []string {
		entries, err := os.ReadDir(cfg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, e.Name())
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, e.Name(), fi.Mode().Perm())
			}
		}
		return names
	}
	names := check("while open")
	for _, want := range []string{crypto.KeyFileName, "node.db", "node.db-wal", "node.db-shm"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("no %s among %v: the test checks nothing", want, names)
		}
	}
	n.Close()
	check("after close")
	if fi, err := os.Stat(cfg.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("node folder Init made: %v %v, want 0700", fi.Mode().Perm(), err)
	}
}

// TestWeakKeyFileRaisedInProduction: a key file weaker than crypto.MinKDF
// (made by a test setting or an old binary) is re-wrapped with the
// production setting the first time a node opens it with the defaults.
func TestWeakKeyFileRaisedInProduction(t *testing.T) {
	if testing.Short() {
		t.Skip("Argon2id with production parameters: not in -short")
	}
	n, cfg := newTestNode(t)
	n.Close()
	if p, _ := crypto.ReadParams(cfg.Dir); !p.Weaker(crypto.MinKDF) {
		t.Fatalf("the test node's key file %v is not weaker than MinKDF", p)
	}
	prod := cfg
	prod.KDF = crypto.KDFParams{} // what production passes: the default
	n, err := Open(context.Background(), prod)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	p, err := crypto.ReadParams(cfg.Dir)
	if err != nil || p.Weaker(crypto.MinKDF) || p != crypto.DefaultKDF {
		t.Errorf("after a production open the key file has %v (%v), want %v", p, err, crypto.DefaultKDF)
	}
}

// TestOpenOtherNodesFile: an SQLite file that another node of the same
// organisation made (it decrypts: the key is the organisation's) is
// refused, not run as this node's.
func TestOpenOtherNodesFile(t *testing.T) {
	n, cfg := newTestNode(t)
	j := joinTestNode(t, n, "rear")
	n.Close()
	j.Close()
	data, err := os.ReadFile(filepath.Join(j.Dir, "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, "node.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err := Open(context.Background(), cfg); !errors.Is(err, store.ErrOtherNode) {
		if o != nil {
			o.Close()
		}
		t.Fatalf("Open with another node's file = %v, want ErrOtherNode", err)
	}
}
