package testenv

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	return conn
}

func databaseExists(t *testing.T, admin *pgx.Conn, name string) bool {
	t.Helper()
	var n int
	err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
	if err != nil {
		t.Fatalf("look up database %s: %v", name, err)
	}
	return n == 1
}

// PostgresDB gives a test a working database of its own and drops it afterwards, even
// while a connection to it is still open.
func TestPostgresDB_Postgres(t *testing.T) {
	admin := connect(t, Postgres(t))
	defer admin.Close(context.Background())

	var names []string
	var leftOpen *pgx.Conn
	t.Run("create", func(t *testing.T) {
		ctx := context.Background()
		first, second := PostgresDB(t), PostgresDB(t)
		if first == second {
			t.Fatalf("PostgresDB returned %s twice; want a database per call", first)
		}
		for _, dbURL := range []string{first, second} {
			u, err := url.Parse(dbURL)
			if err != nil {
				t.Fatalf("PostgresDB returned %q: %v", dbURL, err)
			}
			names = append(names, strings.TrimPrefix(u.Path, "/"))
		}

		conn := connect(t, first)
		var one int
		var current string
		if err := conn.QueryRow(ctx, "SELECT 1, current_database()").Scan(&one, &current); err != nil {
			t.Fatalf("SELECT 1: %v", err)
		}
		if one != 1 || current != names[0] || !strings.HasPrefix(current, "t_testpostgresdb_postgres_create_") {
			t.Errorf("SELECT 1, current_database() = %d, %q; want 1, %q (named after the test)", one, current, names[0])
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)"); err != nil {
			t.Errorf("write to the test database: %v", err)
		}
		for _, name := range names {
			if !databaseExists(t, admin, name) {
				t.Errorf("database %s missing from pg_database during the test", name)
			}
		}
		leftOpen = conn // not closed: the drop must not wait for it
	})
	if leftOpen != nil {
		defer leftOpen.Close(context.Background())
	}
	if len(names) != 2 {
		t.Fatal("subtest created no databases")
	}
	for _, name := range names {
		if databaseExists(t, admin, name) {
			t.Errorf("database %s still exists after its test ended; want it dropped", name)
		}
	}
}
