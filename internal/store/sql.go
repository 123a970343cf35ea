package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	"caravana/internal/event"
)

// Dialect is what differs between SQL engines; everything else is shared.
type Dialect struct {
	Name string
	// Types substituted into migrations.
	Blob, AutoID, Text string
	// Numbered placeholders ($1) instead of ?.
	Numbered bool
	// LockWriter, when set, runs first in every write transaction to
	// serialise writers across processes (PostgreSQL advisory lock).
	LockWriter string
	// IsUnique recognises a unique-constraint violation from the driver.
	IsUnique func(error) bool
	// ReadIsolation makes View a snapshot where the default is not one
	// (PostgreSQL's READ COMMITTED sees each statement's newest commits).
	ReadIsolation sql.IsolationLevel
}

// SQL is a Store over database/sql: a writer pool and a reader pool (they
// may be the same *sql.DB).
type SQL struct {
	w, r *sql.DB
	d    Dialect

	onClose []func()

	stmts map[string]*sql.Stmt // prepared on the writer, by query text; read-only after open
	// rstmts are the hot reads prepared on the reader pool (database/sql
	// prepares each on a connection the first time it is used there, then
	// reuses it): a check-in makes a dozen point reads, and compiling
	// their SQL each time cost more than running it. Read-only after open.
	rstmts map[string]*sql.Stmt
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// NewSQL wraps open database handles and applies pending migrations, each in
// its own transaction. It refuses a database newer than this binary.
func NewSQL(ctx context.Context, writer, reader *sql.DB, d Dialect) (*SQL, error) {
	s := &SQL{w: writer, r: reader, d: d, stmts: map[string]*sql.Stmt{}, rstmts: map[string]*sql.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Dialect names the engine.
func (s *SQL) Dialect() string { return s.d.Name }

// OnClose runs fn first when the store closes (before either pool), for
// an engine's own background work.
func (s *SQL) OnClose(fn func()) { s.onClose = append(s.onClose, fn) }

// Close closes both pools.
func (s *SQL) Close() error {
	for _, fn := range s.onClose {
		fn()
	}
	s.onClose = nil
	for _, st := range s.stmts {
		st.Close()
	}
	for q, st := range s.rstmts {
		if s.stmts[q] != st {
			st.Close()
		}
	}
	// Readers first: the writer must be the last connection to close, so
	// SQLite checkpoints the WAL into the database file and removes it. A
	// read-only last connection cannot, and would leave the WAL behind.
	var err error
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

// q rewrites ? placeholders for the dialect, once per query text.
func (s *SQL) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Migrations returns how many migration steps this binary knows.
func Migrations() int {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	return len(names)
}

func (s *SQL) migrate(ctx context.Context) error {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	for {
		done, err := s.migrateStep(ctx, names)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next pending migration, if any, in a transaction
// that first takes the writer lock: processes starting together against
// one database (several nodes on a PostgreSQL hub) apply each step once,
// in turn, each seeing the version the other left.
func (s *SQL) migrateStep(ctx context.Context, names []string) (done bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if s.d.LockWriter != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockWriter); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	switch {
	case current > len(names):
		return false, fmt.Errorf("%w: database is at version %d, this program knows %d", ErrNewerSchema, current, len(names))
	case current == len(names):
		return true, tx.Commit()
	}
	name := names[current]
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return false, err
	}
	text := strings.NewReplacer("{{BLOB}}", s.d.Blob, "{{AUTOID}}", s.d.AutoID, "{{TEXT}}", s.d.Text).Replace(string(body))
	for _, stmt := range strings.Split(text, ";") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version) VALUES (?)`), current+1); err != nil {
		return false, fmt.Errorf("migrate %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: %w", name, err)
	}
	return false, nil
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// Update runs fn in a write transaction.
func (s *SQL) Update(ctx context.Context, fn func(Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if s.d.LockWriter != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockWriter); err != nil {
			tx.Rollback()
			return fmt.Errorf("lock writer: %w", err)
		}
	}
	if err := fn(&sqlTx{s: s, tx: tx, write: true, sctx: context.WithoutCancel(ctx)}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// View runs fn in a read transaction.
func (s *SQL) View(ctx context.Context, fn func(ReadTx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.d.ReadIsolation})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&sqlTx{s: s, tx: tx, sctx: context.WithoutCancel(ctx)})
}

type sqlTx struct {
	s     *SQL
	tx    *sql.Tx
	write bool
	stmts map[*sql.Stmt]*sql.Stmt // prepared statements bound to tx (bound)
	// sctx runs the prepared statements. The transaction already ends
	// (rolled back) when its context does; a statement given a context
	// that can end also starts a goroutine to watch it, for every row read.
	sctx context.Context
}

// Hot write statements, prepared once when the store opens: compiling SQL
// per row dominates bulk appends. (They cannot be prepared lazily: the
// SQLite writer pool has one connection, held by the open transaction.)
var hotWrites = []string{qPut, qAddIndex, qRemoveIndex, qInsertEvent, qInsertEvents, qAudit, qGetDoc, qLookup, qHead}

// hotReads are prepared on the reader pool too.
var hotReads = []string{qGetDoc, qGetLocal, qLookup}

const (
	qPut         = `INSERT INTO docs (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data`
	qAddIndex    = `INSERT INTO idx (name, key, id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qRemoveIndex = `DELETE FROM idx WHERE name = ? AND key = ? AND id = ?`
	qInsertEvent = `INSERT INTO events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qAudit       = `INSERT INTO audit (at, actor, action, record, detail) VALUES (?, ?, ?, ?, ?)`
	qGetDoc      = `SELECT data FROM docs WHERE kind = ? AND id = ?`
	qGetLocal    = `SELECT data FROM local_docs WHERE kind = ? AND id = ?`
	qLookup      = `SELECT id FROM idx WHERE name = ? AND key = ? ORDER BY id`
	qHead        = `SELECT seq, hash, hlc FROM events WHERE node = ? ORDER BY seq DESC LIMIT 1`
)

// prepared returns the statement prepared for query on this
// transaction's pool, or nil.
func (t *sqlTx) prepared(query string) *sql.Stmt {
	if t.write {
		return t.s.stmts[query]
	}
	return t.s.rstmts[query]
}

// bound is st bound to this transaction, made once per transaction: each
// Tx.StmtContext makes a new statement that the transaction keeps until it
// ends, which for a sync's million events was a million of them.
func (t *sqlTx) bound(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if b, ok := t.stmts[st]; ok {
		return b
	}
	if t.stmts == nil {
		t.stmts = map[*sql.Stmt]*sql.Stmt{}
	}
	b := t.tx.StmtContext(ctx, st)
	t.stmts[st] = b
	return b
}

// queryRow uses the prepared statement where there is one.
func (t *sqlTx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.prepared(query); st != nil {
		return t.bound(ctx, st).QueryRowContext(t.sctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

func (t *sqlTx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(query); st != nil {
		return t.bound(ctx, st).QueryContext(t.sctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.q(query), args...)
}

func (s *SQL) prepare(ctx context.Context) error {
	for _, q := range hotWrites {
		st, err := s.w.PrepareContext(ctx, s.q(q))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.stmts[q] = st
	}
	for _, q := range hotReads {
		if st, ok := s.stmts[q]; ok && s.r == s.w {
			s.rstmts[q] = st // one pool (PostgreSQL): the same statement serves both
			continue
		}
		st, err := s.r.PrepareContext(ctx, s.q(q))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.rstmts[q] = st
	}
	return nil
}

func (t *sqlTx) exec(ctx context.Context, query string, args ...any) error {
	var err error
	if st, ok := t.s.stmts[query]; ok && t.write {
		_, err = t.bound(ctx, st).ExecContext(t.sctx, args...)
	} else {
		_, err = t.tx.ExecContext(ctx, t.s.q(query), args...)
	}
	if err != nil && t.s.d.IsUnique != nil && t.s.d.IsUnique(err) {
		return ErrAlreadyExists
	}
	return err
}

func (t *sqlTx) Get(ctx context.Context, kind, id string) ([]byte, error) {
	return t.getFrom(ctx, qGetDoc, kind, id)
}

func (t *sqlTx) LocalGet(ctx context.Context, kind, id string) ([]byte, error) {
	return t.getFrom(ctx, qGetLocal, kind, id)
}

// getFrom runs one of the point reads qGetDoc or qGetLocal.
func (t *sqlTx) getFrom(ctx context.Context, query, kind, id string) ([]byte, error) {
	var data []byte
	err := t.queryRow(ctx, query, kind, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return data, err
}

func (t *sqlTx) Scan(ctx context.Context, kind string, fn func(id string, data []byte) error) error {
	return t.scanFrom(ctx, "docs", kind, fn)
}

func (t *sqlTx) LocalScan(ctx context.Context, kind string, fn func(id string, data []byte) error) error {
	return t.scanFrom(ctx, "local_docs", kind, fn)
}

func (t *sqlTx) scanFrom(ctx context.Context, table, kind string, fn func(id string, data []byte) error) error {
	rows, err := t.tx.QueryContext(ctx, t.s.q(`SELECT id, data FROM `+table+` WHERE kind = ? ORDER BY id`), kind)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		if err := fn(id, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *sqlTx) Count(ctx context.Context, kind string) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, t.s.q(`SELECT COUNT(*) FROM docs WHERE kind = ?`), kind).Scan(&n)
	return n, err
}

func (t *sqlTx) Range(ctx context.Context, index string, desc bool, offset, limit int) ([]string, error) {
	order := "key, id"
	if desc {
		order = "key DESC, id DESC"
	}
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := t.tx.QueryContext(ctx, t.s.q(`SELECT id FROM idx WHERE name = ? ORDER BY `+order+` LIMIT ? OFFSET ?`), index, limit, max(offset, 0))
	return scanIDs(rows, err)
}

func (t *sqlTx) Lookup(ctx context.Context, index, key string) ([]string, error) {
	return scanIDs(t.query(ctx, qLookup, index, key))
}

// scanIDs reads a one-column result of ids.
func scanIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (t *sqlTx) Head(ctx context.Context, node string) (Head, error) {
	var h Head
	var seq, hlc int64
	err := t.queryRow(ctx, qHead, node).Scan(&seq, &h.Hash, &hlc)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	h.Seq, h.HLC = uint64(seq), event.HLC(hlc)
	return h, err
}

func (t *sqlTx) MaxHLC(ctx context.Context) (event.HLC, error) {
	var h int64
	err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hlc), 0) FROM events`).Scan(&h)
	return event.HLC(h), err
}

// vectorQuery finds each node's highest sequence number with two index
// look-ups per node (a loose index scan over the (node, seq) primary key),
// on SQLite and PostgreSQL alike. The plain GROUP BY reads every event:
// sync asks for the vector on every batch, and at a million events that
// scan cost more than the batch itself.
const vectorQuery = `WITH RECURSIVE n(node) AS (
	SELECT (SELECT MIN(node) FROM events)
	UNION ALL
	SELECT (SELECT MIN(e.node) FROM events e WHERE e.node > n.node) FROM n WHERE n.node IS NOT NULL
)
SELECT node, (SELECT MAX(e.seq) FROM events e WHERE e.node = n.node) FROM n WHERE node IS NOT NULL`

func (t *sqlTx) Vector(ctx context.Context) (map[string]uint64, error) {
	rows, err := t.tx.QueryContext(ctx, vectorQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := map[string]uint64{}
	for rows.Next() {
		var node string
		var seq int64
		if err := rows.Scan(&node, &seq); err != nil {
			return nil, err
		}
		v[node] = uint64(seq)
	}
	return v, rows.Err()
}

const eventCols = `node, seq, hlc, actor, kind, subject, body, prev, hash, sig`

func scanEvent(rows *sql.Rows) (*event.Event, error) {
	var e event.Event
	var seq, hlc int64
	var body []byte
	if err := rows.Scan(&e.Node, &seq, &hlc, &e.Actor, &e.Kind, &e.Subject, &body, &e.Prev, &e.Hash, &e.Sig); err != nil {
		return nil, err
	}
	e.Seq, e.HLC, e.Body = uint64(seq), event.HLC(hlc), body
	if len(e.Prev) == 0 {
		e.Prev = nil
	}
	return &e, nil
}

func (t *sqlTx) Events(ctx context.Context, node string, after uint64, limit int) ([]event.Event, error) {
	rows, err := t.tx.QueryContext(ctx, t.s.q(`SELECT `+eventCols+` FROM events WHERE node = ? AND seq > ? ORDER BY seq LIMIT ?`), node, int64(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

func (t *sqlTx) EachEvent(ctx context.Context, fn func(*event.Event) error) error {
	const page = 5000
	var hlc int64 = -1
	var node string
	var seq int64
	for {
		rows, err := t.tx.QueryContext(ctx, t.s.q(`SELECT `+eventCols+` FROM events
			WHERE (hlc, node, seq) > (?, ?, ?) ORDER BY hlc, node, seq LIMIT ?`), hlc, node, seq, page)
		if err != nil {
			return err
		}
		var batch []*event.Event
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < page {
			return nil
		}
		last := batch[len(batch)-1]
		hlc, node, seq = int64(last.HLC), last.Node, int64(last.Seq)
	}
}

func (t *sqlTx) EachDoc(ctx context.Context, fn func(kind, id string, data []byte) error) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT kind, id, data FROM docs ORDER BY kind, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id string
		var data []byte
		if err := rows.Scan(&kind, &id, &data); err != nil {
			return err
		}
		if err := fn(kind, id, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *sqlTx) EachIndex(ctx context.Context, fn func(name, key, id string) error) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT name, key, id FROM idx ORDER BY name, key, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, key, id string
		if err := rows.Scan(&name, &key, &id); err != nil {
			return err
		}
		if err := fn(name, key, id); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *sqlTx) CountEvents(ctx context.Context) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n)
	return n, err
}

func (t *sqlTx) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, action, record, detail FROM audit WHERE 1=1`
	var args []any
	if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if f.Record != "" {
		q += ` AND record = ?`
		args = append(args, f.Record)
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := t.tx.QueryContext(ctx, t.s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		if err := rows.Scan(&a.ID, &a.At, &a.Actor, &a.Action, &a.Record, &a.Detail); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *sqlTx) Put(ctx context.Context, kind, id string, data []byte) error {
	return t.exec(ctx, qPut, kind, id, data)
}

func (t *sqlTx) Delete(ctx context.Context, kind, id string) error {
	return t.exec(ctx, `DELETE FROM docs WHERE kind = ? AND id = ?`, kind, id)
}

func (t *sqlTx) AddIndex(ctx context.Context, index, key, id string) error {
	return t.exec(ctx, qAddIndex, index, key, id)
}

func (t *sqlTx) RemoveIndex(ctx context.Context, index, key, id string) error {
	return t.exec(ctx, qRemoveIndex, index, key, id)
}

func (t *sqlTx) InsertEvent(ctx context.Context, e *event.Event) error {
	return t.exec(ctx, qInsertEvent,
		e.Node, int64(e.Seq), int64(e.HLC), e.Actor, e.Kind, e.Subject, []byte(e.Body), e.Prev, e.Hash, e.Sig)
}

// insertChunk is how many events one multi-row INSERT stores: 500
// parameters, well within every engine's limit.
const insertChunk = 50

var qInsertEvents = `INSERT INTO events (` + eventCols + `) VALUES ` +
	strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, insertChunk-1) + `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (t *sqlTx) InsertEvents(ctx context.Context, evs []event.Event) error {
	args := make([]any, 0, 10*insertChunk)
	for len(evs) >= insertChunk {
		args = args[:0]
		for i := range evs[:insertChunk] {
			e := &evs[i]
			args = append(args, e.Node, int64(e.Seq), int64(e.HLC), e.Actor, e.Kind, e.Subject, []byte(e.Body), e.Prev, e.Hash, e.Sig)
		}
		if err := t.exec(ctx, qInsertEvents, args...); err != nil {
			return err
		}
		evs = evs[insertChunk:]
	}
	for i := range evs {
		if err := t.InsertEvent(ctx, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqlTx) DeleteEventsAfter(ctx context.Context, node string, after uint64) (int, error) {
	res, err := t.tx.ExecContext(ctx, t.s.q(`DELETE FROM events WHERE node = ? AND seq > ?`), node, int64(after))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *sqlTx) ResetProjections(ctx context.Context) error {
	if err := t.exec(ctx, `DELETE FROM docs`); err != nil {
		return err
	}
	return t.exec(ctx, `DELETE FROM idx`)
}

func (t *sqlTx) LocalPut(ctx context.Context, kind, id string, data []byte) error {
	return t.exec(ctx, `INSERT INTO local_docs (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data`, kind, id, data)
}

func (t *sqlTx) LocalDelete(ctx context.Context, kind, id string) error {
	return t.exec(ctx, `DELETE FROM local_docs WHERE kind = ? AND id = ?`, kind, id)
}

func (t *sqlTx) AppendAudit(ctx context.Context, entries ...AuditEntry) error {
	for _, a := range entries {
		if err := t.exec(ctx, qAudit,
			a.At, a.Actor, a.Action, a.Record, a.Detail); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqlTx) Savepoint(ctx context.Context, name string) error {
	return t.exec(ctx, `SAVEPOINT `+name)
}

func (t *sqlTx) RollbackTo(ctx context.Context, name string) error {
	return t.exec(ctx, `ROLLBACK TO SAVEPOINT `+name)
}

func (t *sqlTx) Release(ctx context.Context, name string) error {
	return t.exec(ctx, `RELEASE SAVEPOINT `+name)
}
