// Package store keeps the event log, the projections built from it, and the
// node's local records (sessions, lockouts, audit) behind one interface with
// two implementations: SQLite (the embedded default) and PostgreSQL (hubs).
//
// Projections are kept generically as documents (kind, id, JSON) plus a
// secondary index (name, key, id): domain packages own their shapes and their
// apply logic, and need no SQL of either dialect.
package store

import (
	"context"
	"errors"

	"caravana/internal/event"
)

var (
	// ErrNotFound means no row has that key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a row with that key already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNewerSchema means the database was written by a newer binary.
	ErrNewerSchema = errors.New("database schema is newer than this program")
)

// Store is a node's storage.
type Store interface {
	// Update runs fn in the one write transaction; writers are serialised.
	// Nothing fn did survives if it returns an error.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only snapshot.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Dialect names the engine: "sqlite" or "postgres".
	Dialect() string
	Close() error
}

// Head is the newest event of one node.
type Head struct {
	Seq  uint64
	Hash []byte
	HLC  event.HLC
}

// AuditEntry is one line of the audit trail: who did or read what, never the PII itself.
type AuditEntry struct {
	ID     int64  `json:"id"`
	At     int64  `json:"at"` // unix milliseconds
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Record string `json:"record"`
	Detail string `json:"detail"`
}

// AuditFilter narrows an audit listing; zero values mean "any".
type AuditFilter struct {
	Actor    string
	Record   string
	BeforeID int64 // page backwards from here
	Limit    int
}

// ReadTx reads a consistent snapshot.
type ReadTx interface {
	Get(ctx context.Context, kind, id string) ([]byte, error)
	// Scan calls fn for every document of kind in id order.
	Scan(ctx context.Context, kind string, fn func(id string, data []byte) error) error
	Count(ctx context.Context, kind string) (int, error)
	// EachDoc calls fn for every projection document in (kind, id) order.
	EachDoc(ctx context.Context, fn func(kind, id string, data []byte) error) error
	// EachIndex calls fn for every secondary index entry in (name, key, id)
	// byte order, the same on every engine.
	EachIndex(ctx context.Context, fn func(name, key, id string) error) error
	// Lookup returns the ids filed under key in index, in id order.
	Lookup(ctx context.Context, index, key string) ([]string, error)
	// Range pages through a whole index in (key, id) order, or the reverse
	// with desc: a page of a long list without reading every document.
	// limit <= 0 means no limit.
	Range(ctx context.Context, index string, desc bool, offset, limit int) ([]string, error)

	Head(ctx context.Context, node string) (Head, error)
	MaxHLC(ctx context.Context) (event.HLC, error)
	// Vector maps each node to its highest stored sequence number.
	Vector(ctx context.Context) (map[string]uint64, error)
	// Events returns up to limit events of node after seq, in order.
	Events(ctx context.Context, node string, after uint64, limit int) ([]event.Event, error)
	// EachEvent calls fn for every event in (HLC, node, seq) order. It reads
	// in pages, so fn may use the same transaction.
	EachEvent(ctx context.Context, fn func(*event.Event) error) error
	CountEvents(ctx context.Context) (int, error)

	LocalGet(ctx context.Context, kind, id string) ([]byte, error)
	// LocalScan calls fn for every local document of kind in id order.
	LocalScan(ctx context.Context, kind string, fn func(id string, data []byte) error) error
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Tx is the write transaction.
type Tx interface {
	ReadTx
	Put(ctx context.Context, kind, id string, data []byte) error
	Delete(ctx context.Context, kind, id string) error
	AddIndex(ctx context.Context, index, key, id string) error
	RemoveIndex(ctx context.Context, index, key, id string) error
	// InsertEvent stores an event; ErrAlreadyExists if (node, seq) is taken.
	InsertEvent(ctx context.Context, e *event.Event) error
	// InsertEvents stores many events, as InsertEvent each would, in
	// fewer statements (a sync's runs).
	InsertEvents(ctx context.Context, evs []event.Event) error
	// DeleteEventsAfter removes node's events with seq > after: the events a
	// revoked node signed after its revocation cut, which every node refuses.
	DeleteEventsAfter(ctx context.Context, node string, after uint64) (int, error)
	// ResetProjections drops every document and index entry (for rebuild).
	ResetProjections(ctx context.Context) error

	LocalPut(ctx context.Context, kind, id string, data []byte) error
	LocalDelete(ctx context.Context, kind, id string) error
	AppendAudit(ctx context.Context, entries ...AuditEntry) error

	// Savepoint, RollbackTo and Release nest partial work inside the
	// transaction, so one failed request in a group commit undoes only itself.
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error
	Release(ctx context.Context, name string) error
}
