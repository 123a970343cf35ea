package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/registry"
	"caravana/internal/store/sqlite"
	"caravana/internal/testenv"
)

// cheap KDF settings, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

func newTestNode(t *testing.T) (*Node, Config) {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := Init(context.Background(), cfg, InitOptions{Name: "test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, cfg
}

func TestRegisterFindRebuildVerify(t *testing.T) {
	ctx := context.Background()
	n, _ := newTestNode(t)
	op := auth.Operator("test")
	p, err := n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "José Luis", Surname1: "Núñez", Surname2: "García",
		Sex: "M", BirthDate: "1990-05-01", Nationality: "hn", Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Code == "" || p.Nationality != "HN" || p.GivenNames != "José Luis" {
		t.Fatalf("registered person = %+v", p)
	}
	found, err := n.Registry.Find(ctx, op, "jose nunez", 10)
	if err != nil || len(found) != 1 || found[0].ID != p.ID {
		t.Fatalf("Find = %+v, %v", found, err)
	}
	byCode, err := n.Registry.ByCode(ctx, op, p.Code)
	if err != nil || byCode.ID != p.ID {
		t.Fatalf("ByCode = %+v, %v", byCode, err)
	}
	rep, err := n.Ledger.Verify(ctx, true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if err := n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rep2, err := n.Ledger.Verify(ctx, false)
	if err != nil || rep2.StateHash != rep.StateHash {
		t.Fatalf("state hash changed by rebuild: %s -> %s (%v)", rep.StateHash, rep2.StateHash, err)
	}
	_, err = n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "", Sex: "Q", BirthDate: "3000-01-01"})
	var v registry.ValidationError
	if !errors.As(err, &v) || len(v) < 3 {
		t.Fatalf("bad input error = %v", err)
	}
}

func TestOpenFailsClosed(t *testing.T) {
	ctx := context.Background()
	n, cfg := newTestNode(t)
	n.Close()
	bad := cfg
	bad.Passphrase = "wrong passphrase!!"
	if _, err := Open(ctx, bad); !errors.Is(err, crypto.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// A missing database is an error, never a fresh empty one.
	os.Rename(filepath.Join(cfg.Dir, sqlite.FileName), filepath.Join(cfg.Dir, "moved.db"))
	if _, err := Open(ctx, cfg); !errors.Is(err, sqlite.ErrMissing) {
		t.Fatalf("missing db: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, sqlite.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a fresh database was created")
	}
	os.Rename(filepath.Join(cfg.Dir, "moved.db"), filepath.Join(cfg.Dir, sqlite.FileName))
	n2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n2.Close()
	if err := Wipe(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cfg); !errors.Is(err, crypto.ErrNoKeyFile) {
		t.Fatalf("after wipe: %v", err)
	}
}

// TestNodePostgres runs the same node on PostgreSQL: init, register, find,
// household, rebuild and verify, and the data is still there after reopen.
func TestNodePostgres(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Dir: t.TempDir(), DB: testenv.PostgresDB(t), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF}
	n, err := Init(ctx, cfg, InitOptions{Name: "hub", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	op := auth.Operator("test")
	p, err := n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Ángel", Surname1: "Euceda", Sex: "M",
		Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Euceda", Kind: "single",
		Members: []registry.Member{{Person: p.ID, Role: "head"}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := n.Ledger.Verify(ctx, true)
	if err != nil || !rep.OK() || rep.Events != 4 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if err := n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	n.Close()
	n, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	found, err := n.Registry.Find(ctx, op, "angel EUCEDA", 5)
	if err != nil || len(found) != 1 || found[0].ID != p.ID || len(found[0].Households) != 1 {
		t.Fatalf("Find after reopen = %+v, %v", found, err)
	}
	rep2, _ := n.Ledger.Verify(ctx, false)
	if rep2.StateHash != rep.StateHash {
		t.Errorf("state hash %s after rebuild and reopen, want %s", rep2.StateHash, rep.StateHash)
	}
}
