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
	AdminUser     string // first coordinator's username
	AdminPassword string
}

// Init creates a node in cfg.Dir: keys, database, its self-enrolment as
// the first event, and the first coordinator. Nothing is left behind on error.
func Init(ctx context.Context, cfg Config, opt InitOptions) (_ *Node, err error) {
	cfg.defaults()
	if err := crypto.CheckPassphrase(cfg.Passphrase); err != nil {
		return nil, err
	}
	if len(opt.AdminPassword) < auth.MinPasswordLen {
		return nil, fmt.Errorf("first coordinator: %w", auth.ErrWeakPassword)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, crypto.KeyFileName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, cfg.Dir)
	}
	if cfg.DB == "" {
		if _, err := os.Stat(filepath.Join(cfg.Dir, sqlite.FileName)); err == nil {
			return nil, fmt.Errorf("%w: %s has a database but no key file", ErrExists, cfg.Dir)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create node folder: %w", err)
	}
	keys, err := crypto.Create(cfg.Dir, cfg.Passphrase, cfg.KDF)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			crypto.Wipe(cfg.Dir)
			removeDB(cfg.Dir)
		}
	}()
	n, err := start(ctx, cfg, keys, true)
	if err != nil {
		return nil, err
	}
	if err := n.Ledger.Genesis(ctx, "init", opt.Name); err != nil {
		n.Close()
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if opt.AdminUser == "" {
		opt.AdminUser = "coordinator"
	}
	if _, err := n.Auth.AddUser(ctx, auth.Operator("init"), opt.AdminUser, auth.Coordinator, opt.AdminPassword); err != nil {
		n.Close()
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
	if _, err := os.Stat(filepath.Join(cfg.Dir, crypto.KeyFileName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, cfg.Dir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create node folder: %w", err)
	}
	keys.KDF = cfg.KDF
	if err := keys.Adopt(cfg.Dir, passphrase, keyID, dataKey); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			crypto.Wipe(cfg.Dir)
			removeDB(cfg.Dir)
		}
	}()
	return start(ctx, cfg, keys, true)
}

// Open unlocks and opens an existing node. It never creates a database:
// a missing or foreign one is an error (S5: fail closed).
func Open(ctx context.Context, cfg Config) (*Node, error) {
	cfg.defaults()
	keys, err := crypto.Unlock(cfg.Dir, cfg.Passphrase, cfg.KDF)
	if err != nil {
		return nil, fmt.Errorf("unlock %s: %w", cfg.Dir, err)
	}
	return start(ctx, cfg, keys, false)
}

func start(ctx context.Context, cfg Config, keys *crypto.Keys, create bool) (*Node, error) {
	var st store.Store
	var err error
	if cfg.DB != "" {
		if !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://") {
			return nil, fmt.Errorf("--db must be a postgres:// URL")
		}
		st, err = postgres.Open(ctx, cfg.DB)
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(cfg.Dir, sqlite.FileName), crypto.DatabaseKeyHex(keys), create)
	}
	if err != nil {
		return nil, err
	}
	led, err := ledger.Open(ctx, st, keys, Projector(), cfg.Log)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := upgradeProjections(ctx, st, led, cfg.Log); err != nil {
		led.Close()
		st.Close()
		return nil, err
	}
	sealer := crypto.NewSealer(keys)
	au := auth.NewService(led)
	au.KDF = cfg.PasswordKDF
	reg := registry.NewService(led, sealer)
	jr := journey.NewService(led, reg)
	return &Node{Supply: supply.NewService(led, reg, jr), Dir: cfg.Dir, Keys: keys, Store: st, Ledger: led, Sealer: sealer,
		Registry: reg, Journey: jr, Tracing: tracing.NewService(led, reg, sealer, cfg.Log), Auth: au, Throttle: auth.NewThrottle(st), Log: cfg.Log}, nil
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
