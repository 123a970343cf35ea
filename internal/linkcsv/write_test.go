package linkcsv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOutputCommit(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pairs.csv")
	o, err := CreateOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	o.Write("rec-1-org", "rec-1-dup-0", 0.99996)
	o.Write("a,b", "c\"d", 0.5)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output visible before Commit: %v", err)
	}
	if err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	o.Abort() // after Commit: nothing
	data, err := os.ReadFile(out)
	want := "left_id,right_id,probability\nrec-1-org,rec-1-dup-0,1.0000\n\"a,b\",\"c\"\"d\",0.5000\n"
	if err != nil || string(data) != want {
		t.Errorf("output %q (%v), want %q", data, err, want)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("new output has mode %v, want 0600", st.Mode().Perm())
	}
	if err := o.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
	checkNoTemp(t, dir)
}

func TestOutputAbortKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pairs.csv")
	if err := os.WriteFile(out, []byte("previous"), 0o640); err != nil {
		t.Fatal(err)
	}
	o, err := CreateOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	o.Write("1", "2", 0.7)
	o.Abort()
	if data, _ := os.ReadFile(out); string(data) != "previous" {
		t.Errorf("Abort changed the existing output: %q", data)
	}
	checkNoTemp(t, dir)

	// Replacing keeps the existing file's mode.
	o, err = CreateOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o640 {
		t.Errorf("replaced output has mode %v, want 0640", st.Mode().Perm())
	}
}

func TestOutputFailures(t *testing.T) {
	dir := t.TempDir()
	if _, err := CreateOutput(filepath.Join(dir, "missing", "pairs.csv")); err == nil {
		t.Error("output in a missing folder was accepted")
	}
	// A directory in the way: the rename fails, the temporary file goes.
	target := filepath.Join(dir, "pairs.csv")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	o, err := CreateOutput(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(); err == nil {
		t.Error("Commit over a non-empty directory succeeded")
	}
	checkNoTemp(t, dir)
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".tmp" {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
