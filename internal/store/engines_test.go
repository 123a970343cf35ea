package store_test

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/ncruces/go-sqlite3/driver"

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
		s, err := postgres.Open(ctx, testenv.PostgresDB(t))
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	t.Run("Migrations", func(t *testing.T) {
		dbURL := testenv.PostgresDB(t)
		testMigrations(t,
			func(t *testing.T) (store.Store, error) {
				s, err := postgres.Open(ctx, dbURL)
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
				s, err := postgres.Open(ctx, dbURL)
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
