// Package sqlite opens the embedded default store: one SQLite file encrypted
// whole by the adiantum VFS, in WAL mode with durable commits.
package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum"

	"caravana/internal/store"
)

// FileName is the database file inside a node folder.
const FileName = "node.db"

var (
	// ErrPlaintext means the file is an unencrypted SQLite database (S5).
	ErrPlaintext = errors.New("database file is not encrypted; refusing to use it")
	// ErrMissing means the database file does not exist and create was not asked.
	ErrMissing = errors.New("database file is missing")
	// ErrWrongKey means the file does not decrypt under the node's key.
	ErrWrongKey = errors.New("database does not open with this node's key (damaged, or from another node)")
)

// fileMode is the mode of every database file: the main file, its WAL and
// journal, and the shared-memory index. They are ciphertext (the index holds
// page numbers), but still nobody else's business.
const fileMode = 0o600

// sideFiles are the files SQLite keeps beside the main database file.
var sideFiles = []string{"-wal", "-shm", "-journal"}

// Open opens (or, with create, creates) the encrypted database at path.
// hexKey is 64 hex digits; it is never logged.
func Open(ctx context.Context, path, hexKey string, create bool) (_ *store.SQL, err error) {
	head := make([]byte, 16)
	f, err := os.Open(path)
	switch {
	case err == nil:
		n, _ := f.Read(head)
		f.Close()
		if n >= 15 && bytes.HasPrefix(head, []byte("SQLite format 3")) {
			return nil, ErrPlaintext
		}
		// SQLite takes an empty file for an empty database and would fill
		// it with a fresh schema; a created one is never empty (S5).
		if n == 0 && !create {
			return nil, fmt.Errorf("%w: %s is empty", ErrMissing, path)
		}
	case errors.Is(err, os.ErrNotExist):
		if !create {
			return nil, fmt.Errorf("%w: %s", ErrMissing, path)
		}
		// Made here, empty and 0600, so that the WAL and journal SQLite
		// creates next take its mode (modeof, below) from their first byte.
		// SQLite takes an empty file for a new database.
		nf, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if cerr != nil {
			return nil, fmt.Errorf("create database: %w", cerr)
		}
		nf.Close()
		defer func() {
			if err != nil {
				for _, suffix := range append([]string{""}, sideFiles...) {
					os.Remove(path + suffix)
				}
			}
		}()
	default:
		return nil, fmt.Errorf("open database: %w", err)
	}
	// A file made by an older binary may be 0644: tighten it before SQLite
	// copies its mode to the WAL.
	if err := os.Chmod(path, fileMode); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	mode := "rw"
	if create {
		mode = "rwc"
	}
	// busy_timeout comes first so every later pragma waits instead of failing.
	params := url.Values{}
	params.Set("vfs", "adiantum")
	params.Set("hexkey", hexKey)
	params.Set("mode", mode)
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "journal_mode(wal)")
	params.Add("_pragma", "synchronous(full)")
	params.Add("_pragma", "temp_store(memory)")
	params.Add("_pragma", "foreign_keys(on)")
	// The WAL and journal get the main file's mode (and owner) when SQLite
	// creates them (modeof), instead of 0666 less the umask. SQLite decodes
	// %XX in a URI but not + (url.Values would write a space as +).
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?modeof=" + strings.ReplaceAll(url.QueryEscape(path), "+", "%20") + "&"
	// The writer's large page cache keeps big transactions from spilling
	// pages to the WAL before commit (bulk loads, rebuilds); readers keep
	// SQLite's small default, so memory stays low with many of them.
	// Checkpoints run beside it (checkpointer), not inside a commit.
	writerDSN := dsn + params.Encode() + "&_txlock=immediate&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)"
	ckptDSN := dsn + params.Encode()
	w, err := driver.Open(writerDSN)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", scrub(err, hexKey))
	}
	w.SetMaxOpenConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, classify(err, hexKey)
	}
	var check string
	if err := w.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&check); err != nil {
		w.Close()
		return nil, classify(err, hexKey)
	}
	params.Set("mode", "ro")
	// query_only set once per reader connection: otherwise the driver
	// turns it on and off around every read transaction, and each such
	// PRAGMA expires every prepared statement of the connection (SQLite
	// recompiles them on their next use).
	params.Add("_pragma", "query_only(1)")
	r, err := driver.Open(dsn + params.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database: %w", scrub(err, hexKey))
	}
	// Keep every reader open: database/sql's default of two idle
	// connections would close and reopen the others under load, each
	// reopening the file, reading the schema and preparing its statements
	// again.
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s, err := store.NewSQL(ctx, w, r, store.Dialect{
		Name: "sqlite", Blob: "BLOB", AutoID: "INTEGER PRIMARY KEY", Text: "TEXT",
		IsUnique: func(err error) bool {
			var e *sqlite3.Error
			return errors.As(err, &e) && e.ExtendedCode() == sqlite3.CONSTRAINT_PRIMARYKEY || errors.Is(err, sqlite3.CONSTRAINT_UNIQUE)
		},
	})
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	if err := startCheckpointer(ctx, s, ckptDSN, hexKey); err != nil {
		s.Close()
		return nil, err
	}
	// The shared-memory index ignores modeof: SQLite's VFS creates it 0666
	// less the umask. It exists now (the migrations ran in WAL mode) and
	// lasts while any connection is open.
	if err := tightenSideFiles(path); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// tightenSideFiles makes the side files that exist fileMode.
func tightenSideFiles(path string) error {
	for _, suffix := range sideFiles {
		if err := os.Chmod(path+suffix, fileMode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open database: %w", err)
		}
	}
	return nil
}

func classify(err error, key string) error {
	if errors.Is(err, sqlite3.NOTADB) {
		return ErrWrongKey
	}
	return fmt.Errorf("open database: %w", scrub(err, key))
}

// scrub keeps the key out of any error text that might echo the DSN.
func scrub(err error, key string) error {
	if key != "" && strings.Contains(err.Error(), key) {
		return errors.New(strings.ReplaceAll(err.Error(), key, "[key]"))
	}
	return err
}
