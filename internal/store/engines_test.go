package store_test

import (
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/ncruces/go-sqlite3/driver"

	"caravana/internal/ledger"
	"caravana/internal/store"
	"caravana/internal/store/postgres"
	"caravana/internal/store/sqlite"
	"caravana/internal/testenv"
)

// testKey is a fixed database key: 64 hex digits.
const testKey = "7f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

func TestStoreSQLite(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) store.Store {
		t.Helper()
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName), testKey, true)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("Migrations", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), sqlite.FileName)
		testMigrations(t,
			func(t *testing.T) (store.Store, error) {
				s, err := sqlite.Open(ctx, path, testKey, true)
				if err != nil {
					return nil, err
				}
				return s, nil
			},
			func(t *testing.T, query string) []int64 {
				// The raw file is only reachable through the same encryption.
				dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=adiantum&hexkey=" + testKey
				return rawExec(t, "sqlite3", dsn, query)
			})
	})
}

func TestStorePostgres(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) store.Store {
		t.Helper()
		s, err := postgres.Open(ctx, testenv.PostgresDB(t), true)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("Migrations", func(t *testing.T) {
		dbURL := testenv.PostgresDB(t)
		create := true // the first open makes the schema; the others find it
		testMigrations(t,
			func(t *testing.T) (store.Store, error) {
				s, err := postgres.Open(ctx, dbURL, create)
				create = false
				if err != nil {
					return nil, err
				}
				return s, nil
			},
			func(t *testing.T, query string) []int64 { return rawExec(t, "pgx", dbURL, query) })
	})
	t.Run("MigrationsConcurrent", func(t *testing.T) {
		// Nodes sharing a hub start together: each migration runs once,
		// and every process opens.
		dbURL := testenv.PostgresDB(t)
		const procs = 6
		errs := make(chan error, procs)
		for range procs {
			go func() {
				s, err := postgres.Open(ctx, dbURL, true)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range procs {
			if err := <-errs; err != nil {
				t.Errorf("open while others migrate: %v", err)
			}
		}
		versions := rawExec(t, "pgx", dbURL, "SELECT version FROM schema_version ORDER BY version")
		want := make([]int64, store.Migrations())
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(versions, want) {
			t.Errorf("schema_version rows = %v, want %v", versions, want)
		}
	})
}

// TestOpenPostgres: opening a node's database never creates one (S5), and
// creating one refuses a database that already holds a node's data,
// changing nothing in either case.
func TestOpenPostgres(t *testing.T) {
	tablesIn := func(t *testing.T, dbURL string) int64 {
		t.Helper()
		return rawExec(t, "pgx", dbURL, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")[0]
	}
	t.Run("OpenEmptyRefused", func(t *testing.T) {
		dbURL := testenv.PostgresDB(t)
		if s, err := postgres.Open(ctx, dbURL, false); !errors.Is(err, store.ErrNoNode) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open(create=false) of an empty database = %v, want ErrNoNode", err)
		}
		if n := tablesIn(t, dbURL); n != 0 {
			t.Errorf("a refused open left %d tables", n)
		}
		if err := postgres.CheckNew(ctx, dbURL); err != nil {
			t.Errorf("CheckNew of an empty database: %v", err)
		}
	})
	t.Run("CreateOverDataRefused", func(t *testing.T) {
		dbURL := testenv.PostgresDB(t)
		s, err := postgres.Open(ctx, dbURL, true)
		if err != nil {
			t.Fatal(err)
		}
		// A schema with no rows is no node: creating in it, or checking it,
		// is fine; opening it as a node's is not.
		if err := postgres.CheckNew(ctx, dbURL); err != nil {
			t.Errorf("CheckNew of an empty schema: %v", err)
		}
		if s, err := postgres.Open(ctx, dbURL, false); !errors.Is(err, store.ErrNoNode) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(create=false) of empty tables = %v, want ErrNoNode", err)
		}
		update(t, s, func(tx store.Tx) error { return tx.InsertEvent(ctx, mkEvent("nx", 1, 1, `{}`, nil)) })
		s.Close()
		if err := postgres.CheckNew(ctx, dbURL); !errors.Is(err, store.ErrHoldsNode) {
			t.Errorf("CheckNew of a database with events = %v, want ErrHoldsNode", err)
		}
		if s, err := postgres.Open(ctx, dbURL, true); !errors.Is(err, store.ErrHoldsNode) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open(create=true) of a database with events = %v, want ErrHoldsNode", err)
		}
		if got := rawExec(t, "pgx", dbURL, "SELECT COUNT(*) FROM events"); got[0] != 1 {
			t.Errorf("events after the refusal = %v, want 1", got)
		}
		// Its own node opens it.
		s, err = postgres.Open(ctx, dbURL, false)
		if err != nil {
			t.Fatalf("Open(create=false) of a node's database: %v", err)
		}
		s.Close()
	})
	t.Run("UnreachableIsAnError", func(t *testing.T) {
		u, err := url.Parse(testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/no_such_database_" + testenv.DatabaseName(t.Name())
		if s, err := postgres.Open(ctx, u.String(), false); err == nil {
			s.Close()
			t.Fatal("opened a database that does not exist")
		}
		if err := postgres.CheckNew(ctx, u.String()); err == nil {
			t.Fatal("CheckNew passed a database that does not exist")
		}
	})
}

// TestStateHashSameOnBothEnginesPostgres: the same documents, index entries
// and events give the same state hash on SQLite and PostgreSQL (byte-ordered
// text on both, whatever the server's locale).
func TestStateHashSameOnBothEnginesPostgres(t *testing.T) {
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName), testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(ctx, testenv.PostgresDB(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	hash := func(s store.Store) string {
		var h string
		view(t, s, func(tx store.ReadTx) error {
			var err error
			h, err = ledger.StateHash(ctx, tx)
			return err
		})
		return h
	}
	if a, b := hash(lite), hash(pg); a != b {
		t.Fatalf("empty stores: sqlite %s, postgres %s", a, b)
	}
	empty := hash(lite)
	for _, s := range []store.Store{lite, pg} {
		update(t, s, func(tx store.Tx) error {
			for _, d := range [][2]string{{"person", "Zé"}, {"person", "ana"}, {"Person", "b"}, {"household", "h1"}} {
				if err := tx.Put(ctx, d[0], d[1], []byte(`{"sealed":"s1.xyz"}`)); err != nil {
					return err
				}
			}
			for _, e := range indexEntries {
				if err := tx.AddIndex(ctx, e[0], e[1], e[2]); err != nil {
					return err
				}
			}
			return tx.LocalPut(ctx, "session", "local", []byte("not part of the state"))
		})
	}
	a, b := hash(lite), hash(pg)
	if a != b || a == empty {
		t.Errorf("same data: sqlite %s, postgres %s (empty %s)", a, b, empty)
	}
	// The index is in the hash: one more entry on one engine shows.
	update(t, pg, func(tx store.Tx) error { return tx.AddIndex(ctx, "surname", "nunez", "p4") })
	if hash(pg) == a {
		t.Error("an index entry added on PostgreSQL left its state hash unchanged")
	}
}

// rawExec runs query on a connection of its own: a SELECT returns its first
// column as integers, anything else is executed.
func rawExec(t *testing.T, driverName, dsn, query string) []int64 {
	t.Helper()
	var db *sql.DB
	var err error
	if driverName == "sqlite3" {
		db, err = driver.Open(dsn)
	} else {
		db, err = sql.Open(driverName, dsn)
	}
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	defer db.Close()
	if !strings.HasPrefix(query, "SELECT") {
		if _, err := db.ExecContext(ctx, query); err != nil {
			t.Fatalf("raw %q: %v", query, err)
		}
		return nil
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("raw %q: %v", query, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("raw %q: %v", query, err)
	}
	return out
}
