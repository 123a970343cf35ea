package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTimeout bounds each administrative step (connect, CREATE DATABASE, DROP DATABASE).
const pgTimeout = 30 * time.Second

// Postgres returns the URL of the PostgreSQL server for tests, from CARAVANA_TEST_POSTGRES.
// When it is unset the test skips, or fails under CI=true. Most tests want PostgresDB, which
// gives them a database of their own on that server.
func Postgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgres)
	if u == "" {
		unavailable(t, "PostgreSQL not configured (set "+EnvPostgres+"; scripts/pg-start starts one)")
	}
	if _, err := pgx.ParseConfig(u); err != nil {
		t.Fatalf("%s is not a usable connection string: %v", EnvPostgres, err)
	}
	return u
}

// PostgresDB creates an empty database, named after the test and unique to it, on the server
// from Postgres, and returns its URL. The database is dropped (WITH (FORCE), so connections the
// test left open do not block it) when the test and its subtests finish.
func PostgresDB(t testing.TB) string {
	t.Helper()
	admin := Postgres(t)
	name := DatabaseName(t.Name())

	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL server (%s): %v", EnvPostgres, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(admin, name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	dbURL, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	return dbURL
}

func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// withDatabase returns the connection string conn with its database replaced by name. It
// accepts both forms pgx does: a postgres:// URL and a keyword/value string.
func withDatabase(conn, name string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("parse URL: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In a keyword/value string the last setting of a keyword wins.
	return conn + " dbname=" + name, nil
}

// maxIdentifier is PostgreSQL's limit on identifier length (NAMEDATALEN-1 bytes).
const maxIdentifier = 63

// DatabaseName returns a database name for the test named testName: "t_", the name folded
// to lower-case letters, digits and underscores, and a random suffix, at most 63 bytes, so
// that it needs no quoting and never collides with another test's or another run's.
func DatabaseName(testName string) string {
	var b strings.Builder
	underscore := true // no leading underscore after "t_"
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	var suffix [5]byte
	rand.Read(suffix[:]) // never fails (crypto/rand panics rather than return an error)
	tail := "_" + hex.EncodeToString(suffix[:])
	stem := strings.TrimRight(b.String(), "_")
	if room := maxIdentifier - len("t_") - len(tail); len(stem) > room {
		stem = strings.TrimRight(stem[:room], "_")
	}
	return "t_" + stem + tail
}
