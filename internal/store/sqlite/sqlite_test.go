package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/driver"

	"caravana/internal/event"
	"caravana/internal/store"
	"caravana/internal/store/sqlite"
)

var ctx = context.Background()

const (
	key      = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	otherKey = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	canary   = "CANARY-Xochiquetzal-Ixchel-7f3a9"
	header   = "SQLite format 3"
)

func open(t *testing.T, path, hexKey string, create bool) *store.SQL {
	t.Helper()
	s, err := sqlite.Open(ctx, path, hexKey, create)
	if err != nil {
		t.Fatalf("Open(create=%v): %v", create, err)
	}
	return s
}

// writeCanaries puts the canary into every table and column kind the store has.
func writeCanaries(t *testing.T, s store.Store, n int) {
	t.Helper()
	pad := strings.Repeat("x", 2000) // enough data to force WAL checkpoints into the main file
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("%s-%d", canary, i)
			if err := tx.Put(ctx, "person", id, []byte(`{"name":"`+canary+pad+`"}`)); err != nil {
				return err
			}
			if err := tx.AddIndex(ctx, "surname", canary, id); err != nil {
				return err
			}
			e := &event.Event{Node: "n1", Seq: uint64(i + 1), HLC: event.MakeHLC(int64(i), 0), Actor: canary,
				Kind: "person.registered", Subject: id, Body: []byte(`{"name":"` + canary + `"}`)}
			e.Hash = e.ComputeHash()
			e.Sig = []byte(canary)
			if err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
			if err := tx.LocalPut(ctx, "session", id, []byte(canary)); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, store.AuditEntry{At: 1, Actor: canary, Action: "read", Record: id, Detail: canary}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkNoPlaintext fails if any file under dir holds the canary or starts with
// SQLite's plaintext header (S1). It returns how many files it read.
func checkNoPlaintext(t *testing.T, dir string) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(dir, path)
		if bytes.HasPrefix(data, []byte(header)) {
			t.Errorf("%s starts with %q", rel, header)
		}
		for _, needle := range []string{canary, canary[:16], "person.registered", "CREATE TABLE"} {
			if bytes.Contains(data, []byte(needle)) {
				t.Errorf("%s (%d bytes) contains %q in the clear", rel, len(data), needle)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, sqlite.FileName)
	s := open(t, path, key, true)
	writeCanaries(t, s, 3000)
	// While open: the WAL and shared-memory files are there too.
	if n := checkNoPlaintext(t, dir); n < 2 {
		t.Errorf("only %d files while open; expected the database and its WAL", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoPlaintext(t, dir)
	if st, err := os.Stat(path); err != nil || st.Size() < 3000*2000 {
		t.Errorf("database file holds %v bytes: the data did not reach it", st.Size())
	}
	// The data is all there, through the key.
	s = open(t, path, key, false)
	defer s.Close()
	s.View(ctx, func(tx store.ReadTx) error {
		if n, err := tx.Count(ctx, "person"); err != nil || n != 3000 {
			t.Errorf("Count after reopen = %d, %v", n, err)
		}
		return nil
	})
}

// fileState is the bytes of every file in dir, to show a refusal changed nothing.
func fileState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(data)
	}
	return out
}

func sameState(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: files %d -> %d", what, len(before), len(after))
	}
	for name, data := range before {
		if after[name] != data {
			t.Errorf("%s: %s changed", what, name)
		}
	}
}

func TestOpenFailsClosed(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // makes what lies at path
		key   string
		want  error
		// alsoCreate: Open with create must refuse it too (an absent file is what create is for).
		alsoCreate bool
	}{
		{"plaintext database", func(t *testing.T, path string) {
			db, err := driver.Open("file:" + path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE docs (kind TEXT, id TEXT, data BLOB); INSERT INTO docs VALUES ('person', 'p1', '` + canary + `')`); err != nil {
				t.Fatal(err)
			}
		}, key, sqlite.ErrPlaintext, true},
		{"wrong key", func(t *testing.T, path string) {
			s := open(t, path, key, true)
			writeCanaries(t, s, 3)
			s.Close()
		}, otherKey, sqlite.ErrWrongKey, true},
		{"random bytes", func(t *testing.T, path string) {
			junk := bytes.Repeat([]byte{0x5a, 0xc3, 0x11, 0x8f}, 4096)
			os.WriteFile(path, junk, 0o600)
		}, key, sqlite.ErrWrongKey, true},
		{"truncated to nothing", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, key, sqlite.ErrMissing, false},
		{"missing", func(t *testing.T, path string) {}, key, sqlite.ErrMissing, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, sqlite.FileName)
			tt.setup(t, path)
			before := fileState(t, dir)
			for _, create := range []bool{false, true} {
				if create && !tt.alsoCreate {
					continue
				}
				s, err := sqlite.Open(ctx, path, tt.key, create)
				if s != nil {
					s.Close()
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("Open(create=%v) = %v, want %v", create, err, tt.want)
				}
				if err != nil && (strings.Contains(err.Error(), key) || strings.Contains(err.Error(), otherKey)) {
					t.Errorf("error %q shows a key", err)
				}
				// Fail closed: nothing created, nothing overwritten.
				sameState(t, fmt.Sprintf("Open(create=%v)", create), before, fileState(t, dir))
			}
		})
	}
	// The right key still opens what the wrong one was refused on.
	dir := t.TempDir()
	path := filepath.Join(dir, sqlite.FileName)
	s := open(t, path, key, true)
	writeCanaries(t, s, 3)
	s.Close()
	if _, err := sqlite.Open(ctx, path, otherKey, false); !errors.Is(err, sqlite.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	s = open(t, path, key, false)
	defer s.Close()
	s.View(ctx, func(tx store.ReadTx) error {
		if n, _ := tx.Count(ctx, "person"); n != 3 {
			t.Errorf("after a refused wrong key, %d docs; want 3", n)
		}
		return nil
	})
	if s.Dialect() != "sqlite" {
		t.Errorf("Dialect = %q", s.Dialect())
	}
}

const crashEnv = "CARAVANA_TEST_CRASH_CHILD_DIR"

// crashChild commits one row per Update and reports each after Commit
// returns, until it is killed.
func crashChild(dir string) {
	s, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName), key, true)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	for i := range 20_000 { // bounded, in case the parent never kills us
		id := fmt.Sprintf("row-%06d", i)
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(ctx, "crash", id, []byte(canary+" "+id)); err != nil {
				return err
			}
			e := &event.Event{Node: "n1", Seq: uint64(i + 1), HLC: event.MakeHLC(int64(i), 0), Kind: "crash.row",
				Subject: id, Body: []byte(`"` + canary + `"`)}
			e.Hash = e.ComputeHash()
			e.Sig = []byte("sig")
			return tx.InsertEvent(ctx, e)
		})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println("acked", id)
	}
	os.Exit(0)
}

// TestCrashDurability kills a writer with SIGKILL mid-stream and checks that
// every write it acknowledged is there after reopening (DESIGN §7), and that
// the files it left hold no plaintext (S1).
func TestCrashDurability(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300
	var acked []string
	killed := false
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
		if id, ok := strings.CutPrefix(line, "acked "); ok && len(id) == len("row-000000") {
			acked = append(acked, id)
		}
		if len(acked) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill: %v", err)
			}
			killed = true
		}
	}
	// Lines already in the pipe when the child died were acknowledged too.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d writes (%d acked): %v\n%s", killAfter, len(acked), err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", err)
	}
	t.Logf("child acknowledged %d writes before SIGKILL", len(acked))

	// What a kill -9 leaves on disk is ciphertext, WAL included.
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName+"-wal")); err != nil {
		t.Logf("no WAL left after the kill: %v", err)
	}
	checkNoPlaintext(t, dir)

	s := open(t, filepath.Join(dir, sqlite.FileName), key, false)
	defer s.Close()
	err = s.View(ctx, func(tx store.ReadTx) error {
		for _, id := range acked {
			if _, err := tx.Get(ctx, "crash", id); err != nil {
				t.Errorf("acknowledged write %s lost: %v", id, err)
			}
		}
		// Each Update was atomic: as many events as docs, at most one more than acknowledged.
		docs, err := tx.Count(ctx, "crash")
		if err != nil {
			return err
		}
		evs, err := tx.CountEvents(ctx)
		if err != nil {
			return err
		}
		if docs != evs || docs < len(acked) || docs > len(acked)+1 {
			t.Errorf("after the crash: %d docs, %d events, %d acknowledged", docs, evs, len(acked))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCloseCheckpointsWithReadersOpen: a store closed while its read pool
// holds connections still folds the WAL into the database file, so nothing
// is left in a WAL that a later open could lose.
func TestCloseCheckpointsWithReadersOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, sqlite.FileName)
	s := open(t, path, key, true)
	writeCanaries(t, s, 3)
	// Open several read connections at once so the pool keeps them.
	done := make(chan struct{})
	for range 3 {
		go func() {
			s.View(ctx, func(tx store.ReadTx) error { <-done; return nil })
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(done)
	time.Sleep(50 * time.Millisecond)
	s.Close()
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		t.Errorf("after Close the WAL holds %d bytes", st.Size())
	}
	if _, err := sqlite.Open(ctx, path, otherKey, false); !errors.Is(err, sqlite.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	s = open(t, path, key, false)
	defer s.Close()
	s.View(ctx, func(tx store.ReadTx) error {
		if n, _ := tx.Count(ctx, "person"); n != 3 {
			t.Errorf("after close with readers open and a refused wrong key, %d docs; want 3", n)
		}
		return nil
	})
}

// TestCheckpointsBesideTheWriter: the writer never checkpoints inside a
// commit, so the background checkpointer must copy committed pages into
// the database file while the store stays open (else the WAL would only
// grow, and the file stay as created, until the last connection closes).
func TestCheckpointsBesideTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s := open(t, path, key, true)
	defer s.Close()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeCanaries(t, s, 2000) // about 1,000 pages of documents alone
	deadline := time.Now().Add(20 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > before.Size()+4<<20 {
			break // checkpointed while open
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes (was %d) 20 s after the writes: nothing checkpointed", fi.Size(), before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkModes fails unless every file under dir is 0600, and returns the names.
func checkModes(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		names = append(names, d.Name())
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", d.Name(), fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestFileModes: the database file, its WAL and its shared-memory index are
// 0600 whatever the umask, when created, after writes, and when a file left
// 0644 by an older binary is opened again.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which leaves new files 0644
	defer syscall.Umask(old)
	// A folder name SQLite's URI syntax must carry whole: the WAL takes
	// its mode from the file this path names.
	dir := filepath.Join(t.TempDir(), "my node+1 & 100%")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sqlite.FileName)
	s := open(t, path, key, true)
	writeCanaries(t, s, 20)
	s.View(ctx, func(tx store.ReadTx) error { _, err := tx.Count(ctx, "person"); return err })
	names := checkModes(t, dir)
	for _, want := range []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s among %v while the store is open: the test checks nothing", want, names)
		}
	}
	s.Close()
	checkModes(t, dir)

	// Reopened, with the main file as an older binary left it.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, key, false)
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(ctx, "more", "1", []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if names := checkModes(t, dir); !slices.Contains(names, sqlite.FileName+"-wal") {
		t.Errorf("no WAL among %v after reopening", names)
	}
}
