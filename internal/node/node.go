// Package node opens a node folder: unlocks its keys, opens its store,
// starts its ledger and builds the domain services on them.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/store/postgres"
	"caravana/internal/store/sqlite"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

// Config says where a node lives and how to unlock it.
type Config struct {
	// Dir is the node folder: key file and (by default) the SQLite database.
	Dir string
	// DB, when set, is a PostgreSQL URL that holds the data instead of SQLite.
	DB string
	// Passphrase unlocks the data key.
	Passphrase string
	// KDF is the Argon2id setting for the key file; zero means crypto.DefaultKDF.
	// Tests may set cheap values explicitly; production never does.
	KDF crypto.KDFParams
	// PasswordKDF is the setting for user password hashes; zero means auth.PasswordKDF.
	PasswordKDF crypto.KDFParams
	Log         *slog.Logger
}

func (c *Config) defaults() {
	if c.KDF == (crypto.KDFParams{}) {
		c.KDF = crypto.DefaultKDF
	}
	if c.PasswordKDF == (crypto.KDFParams{}) {
		c.PasswordKDF = auth.PasswordKDF
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Node is an unlocked, running node.
type Node struct {
	Dir      string
	Keys     *crypto.Keys
	Store    store.Store
	Ledger   *ledger.Ledger
	Sealer   *crypto.Sealer
	Registry *registry.Service
	Journey  *journey.Service
	Tracing  *tracing.Service
	Supply   *supply.Service
	Auth     *auth.Service
	Throttle *auth.Throttle
	Log      *slog.Logger
}

// Projector returns a projector with every domain's projections registered.
func Projector() *ledger.Projector {
	p := ledger.NewProjector()
	ledger.Register(p)
	auth.Register(p)
	registry.Register(p)
	journey.Register(p)
	tracing.Register(p)
	supply.Register(p)
	return p
}

// ErrExists means the folder already holds a node.
var ErrExists = errors.New("the folder already holds a node")

// InitOptions are the choices made when a node is created.
type InitOptions struct {
	Name          string // a label for this node, e.g. "front desk"
	AdminUser     string // first coordinator's username; empty means "coordinator"
	AdminPassword string
}

// Admin is the username Init gives the first coordinator: AdminUser as
// usernames are stored (trimmed, lower case), or "coordinator".
func (o InitOptions) Admin() string {
	if u := strings.ToLower(strings.TrimSpace(o.AdminUser)); u != "" {
		return u
	}
	return "coordinator"
}

// CheckNew reports whether a node can be created with cfg, and changes
// nothing: --db is a PostgreSQL URL, the folder holds no node, and the
// database (the folder's SQLite file, or the PostgreSQL database) holds no
// node's data. Init and Join check it first, before any key derivation; a
// caller with something to spend before them (an invitation) checks it
// before spending it.
func CheckNew(ctx context.Context, cfg Config) error {
	if err := checkDB(cfg.DB); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, crypto.KeyFileName)); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, cfg.Dir)
	}
	if cfg.DB == "" {
		if _, err := os.Stat(filepath.Join(cfg.Dir, sqlite.FileName)); err == nil {
			return fmt.Errorf("%w: %s has a database but no key file", ErrExists, cfg.Dir)
		}
		return nil
	}
	if err := postgres.CheckNew(ctx, cfg.DB); err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	return nil
}

// checkDB refuses a --db that is not a PostgreSQL URL.
func checkDB(db string) error {
	if db != "" && !strings.HasPrefix(db, "postgres://") && !strings.HasPrefix(db, "postgresql://") {
		return errors.New("--db must be a postgres:// or postgresql:// URL")
	}
	return nil
}

// Init creates a node in cfg.Dir: keys, database, its self-enrolment as
// the first event, and the first coordinator. The inputs and the database
// are checked before the key derivation, and nothing is left behind on
// error: not the folder, if Init made it, and not the tables, on PostgreSQL.
func Init(ctx context.Context, cfg Config, opt InitOptions) (_ *Node, err error) {
	cfg.defaults()
	if err := crypto.CheckPassphrase(cfg.Passphrase); err != nil {
		return nil, err
	}
	if len(opt.AdminPassword) < auth.MinPasswordLen {
		return nil, fmt.Errorf("first coordinator: %w", auth.ErrWeakPassword)
	}
	admin := opt.Admin()
	// Checked before the slow key derivation; AddUser checks it again.
	if err := auth.CheckUsername(admin); err != nil {
		return nil, fmt.Errorf("first coordinator: %w", err)
	}
	if err := CheckNew(ctx, cfg); err != nil {
		return nil, err
	}
	undo, err := makeDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	keys, err := crypto.Create(cfg.Dir, cfg.Passphrase, cfg.KDF)
	if err != nil {
		return nil, err
	}
	n, err := start(ctx, cfg, keys, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.discard(ctx)
		}
	}()
	if err := n.Ledger.Genesis(ctx, "init", opt.Name); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if _, err := n.Auth.AddUser(ctx, auth.Operator("init"), admin, auth.Coordinator, opt.AdminPassword); err != nil {
		return nil, fmt.Errorf("first coordinator: %w", err)
	}
	return n, nil
}

// Join creates a node in cfg.Dir that joins an existing organisation:
// keys were made with crypto.NewKeys and hold the organisation's data key
// (Adopt writes the key file). There is no genesis: the node's enrolment
// was written by the node that invited it, and it arrives with the first
// sync, with the users and everything else. Nothing is left behind on error.
func Join(ctx context.Context, cfg Config, keys *crypto.Keys, passphrase, keyID string, dataKey [32]byte) (_ *Node, err error) {
	cfg.defaults()
	if err := CheckNew(ctx, cfg); err != nil {
		return nil, err
	}
	undo, err := makeDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	keys.KDF = cfg.KDF
	if err := keys.Adopt(cfg.Dir, passphrase, keyID, dataKey); err != nil {
		return nil, err
	}
	return start(ctx, cfg, keys, true)
}

// makeDir creates the node folder (0700) if it is missing, and returns
// what undoes a creation that failed: the key file is destroyed and the
// database files removed, and the folder too if makeDir made it (with any
// parents it had to make).
func makeDir(dir string) (undo func(), err error) {
	made := missingRoot(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create node folder: %w", err)
	}
	return func() {
		crypto.Wipe(dir)
		removeDB(dir)
		if made != "" {
			os.RemoveAll(made)
		}
	}, nil
}

// missingRoot returns the outermost folder of dir's path that does not
// exist yet ("" if dir exists).
func missingRoot(dir string) string {
	dir = filepath.Clean(dir)
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		if _, err := os.Lstat(parent); !errors.Is(err, os.ErrNotExist) {
			return dir
		}
		dir = parent
	}
}

// Open unlocks and opens an existing node. It never creates a database:
// a missing, empty or foreign one is an error (S5: fail closed).
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg.defaults()
	if err := checkDB(cfg.DB); err != nil {
		return nil, err
	}
	keys, err := crypto.Unlock(cfg.Dir, cfg.Passphrase, cfg.KDF)
	if err != nil {
		return nil, fmt.Errorf("unlock %s: %w", cfg.Dir, err)
	}
	return start(ctx, cfg, keys, false)
}

// openStore opens (with create, creates) the node's database.
func openStore(ctx context.Context, cfg Config, keys *crypto.Keys, create bool) (*store.SQL, error) {
	if err := checkDB(cfg.DB); err != nil {
		return nil, err
	}
	if cfg.DB != "" {
		st, err := postgres.Open(ctx, cfg.DB, create)
		if err != nil {
			return nil, fmt.Errorf("--db: %w", err)
		}
		return st, nil
	}
	return sqlite.Open(ctx, filepath.Join(cfg.Dir, sqlite.FileName), crypto.DatabaseKeyHex(keys), create)
}

func start(ctx context.Context, cfg Config, keys *crypto.Keys, create bool) (_ *Node, err error) {
	st, err := openStore(ctx, cfg, keys, create)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if create {
				erase(ctx, st, keys.NodeID, cfg.Log)
			}
			st.Close()
		}
	}()
	// The claim is the check that counts for a new node: two nodes created
	// at once on one empty database cannot both pass it.
	check := func() error { return checkOwner(ctx, st, keys.NodeID, cfg.DB != "") }
	if create {
		check = func() error { return store.Claim(ctx, st, keys.NodeID) }
	}
	if err := check(); err != nil {
		if cfg.DB != "" {
			return nil, fmt.Errorf("--db: %w", err)
		}
		return nil, err
	}
	led, err := ledger.Open(ctx, st, keys, Projector(), cfg.Log)
	if err != nil {
		return nil, err
	}
	if err := upgradeProjections(ctx, st, led, cfg.Log); err != nil {
		led.Close()
		return nil, err
	}
	sealer := crypto.NewSealer(keys)
	au := auth.NewService(led)
	au.KDF = cfg.PasswordKDF
	reg := registry.NewService(led, sealer)
	jr := journey.NewService(led, reg)
	return &Node{Supply: supply.NewService(led, reg, jr), Dir: cfg.Dir, Keys: keys, Store: st, Ledger: led, Sealer: sealer,
		Registry: reg, Journey: jr, Tracing: tracing.NewService(led, reg, sealer, cfg.Log), Auth: au, Throttle: auth.NewKeyedThrottle(st, crypto.SessionKey(keys)), Log: cfg.Log}, nil
}

// checkOwner refuses a database that is not this node's: one another node
// claimed, or (on PostgreSQL, where --db can name any database) one with
// no claim that holds neither this node's enrolment nor an event it
// signed. An SQLite file from before claims opens: it is in the node's
// folder and encrypted under the organisation's key.
func checkOwner(ctx context.Context, st store.Store, nodeID string, postgres bool) error {
	return st.View(ctx, func(tx store.ReadTx) error {
		owner, err := store.Owner(ctx, tx)
		switch {
		case err != nil:
			return err
		case owner == nodeID:
			return nil
		case owner != "":
			return fmt.Errorf("%w: it is node %s's, and this is node %s", store.ErrOtherNode, owner, nodeID)
		case !postgres:
			return nil
		}
		nodes, err := ledger.Nodes(ctx, tx)
		if err != nil {
			return fmt.Errorf("check database: %w", err)
		}
		for _, n := range nodes {
			if n.ID == nodeID {
				return nil
			}
		}
		head, err := tx.Head(ctx, nodeID)
		if err != nil {
			return fmt.Errorf("check database: %w", err)
		}
		if head.Seq == 0 {
			return fmt.Errorf("%w: no enrolment or event of node %s", store.ErrNoNode, nodeID)
		}
		return nil
	})
}

// erase undoes the PostgreSQL half of a creation that failed: it drops the
// tables if the database is this node's or holds nothing (an SQLite file
// is removed with the folder's other files).
func erase(ctx context.Context, st *store.SQL, nodeID string, log *slog.Logger) {
	if st.Dialect() != "postgres" {
		return
	}
	if err := st.Erase(context.WithoutCancel(ctx), nodeID); err != nil {
		log.Warn("undoing a failed node creation: the database keeps its tables", "err", err)
	}
}

// discard undoes a node that start created: it stops the ledger, erases
// the PostgreSQL tables and closes the store.
func (n *Node) discard(ctx context.Context) {
	n.Ledger.Close()
	if st, ok := n.Store.(*store.SQL); ok {
		erase(ctx, st, n.Keys.NodeID, n.Log)
	}
	n.Store.Close()
}

// ProjectionVersion names the shape of the projections this binary builds.
// Raise it when a projection gains documents (as person.glance and
// person.edits did): a node opened by a binary with a newer version
// rebuilds its projections from the log once, so its state hash matches a
// node that applied the same events with this binary. 4: check-in
// documents are stored as one line instead of JSON.
const ProjectionVersion = "4"

// upgradeProjections rebuilds the projections when they were built by an
// older binary, and records the version.
func upgradeProjections(ctx context.Context, st store.Store, led *ledger.Ledger, log *slog.Logger) error {
	var have string
	var events int
	err := st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.LocalGet(ctx, "meta", "projections")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		have = string(data)
		events, err = tx.CountEvents(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("projection version: %w", err)
	}
	if have == ProjectionVersion {
		return nil
	}
	if events > 0 {
		log.Info("rebuilding projections for this version", "from", have, "to", ProjectionVersion, "events", events)
		if err := led.Rebuild(ctx, nil); err != nil {
			return fmt.Errorf("upgrade projections: %w", err)
		}
	}
	return st.Update(ctx, func(tx store.Tx) error {
		return tx.LocalPut(ctx, "meta", "projections", []byte(ProjectionVersion))
	})
}

// Close stops the ledger and closes the store.
func (n *Node) Close() error {
	n.Ledger.Close()
	return n.Store.Close()
}

func removeDB(dir string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(filepath.Join(dir, sqlite.FileName+suffix))
	}
}

// Wipe is the panic button: it destroys the key file first (after which
// nothing can be decrypted), then removes the database files. Each step runs
// even if an earlier one failed (S15).
func Wipe(dir string) error {
	err := crypto.Wipe(dir)
	removeDB(dir)
	return err
}
