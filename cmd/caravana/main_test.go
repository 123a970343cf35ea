package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"caravana/internal/cli"
	"caravana/internal/testenv"
)

// The test binary doubles as the caravana binary: with CARAVANA_E2E_MAIN
// set it runs main's code, so tests drive real processes without a build.
func TestMain(m *testing.M) {
	if os.Getenv("CARAVANA_E2E_MAIN") == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const passphrase = "e2e passphrase, long enough"

// caravana runs the program as a child process.
func caravana(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CARAVANA_E2E_MAIN=1", "CARAVANA_PASSPHRASE="+passphrase)
	return cmd
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := caravana(t, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caravana %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

var servingRE = regexp.MustCompile(`at (https?://[^ ]+/)`)

// serve starts `caravana serve` on a free loopback port and returns its URL.
func serve(t *testing.T, dir string, logs io.Writer) (*exec.Cmd, string) {
	t.Helper()
	cmd := caravana(t, "serve", "--data", dir, "--addr", "127.0.0.1:0")
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	urlc := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case url := <-urlc:
		return cmd, url
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	return nil, ""
}

type client struct {
	base string
	http *http.Client
	csrf string
}

func login(t *testing.T, base, user, password string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	status := c.do(t, "POST", "api/v1/session", map[string]string{"username": user, "password": password}, &out)
	if status != http.StatusOK || out.CSRF == "" {
		t.Fatalf("login: status %d", status)
	}
	c.csrf = out.CSRF
	return c
}

func (c *client) do(t *testing.T, method, path string, body, out any) int {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestProcessKillNineKeepsAcknowledgedWrites registers people with canary
// names through the API of a real server process, kills it with SIGKILL
// mid-stream, and checks: every acknowledged registration is there after a
// restart (durable commits), and no byte under the data folder shows a
// canary name or an SQLite header (SECURITY S1).
func TestProcessKillNineKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes and production Argon2 parameters: not in -short")
	}
	dir := filepath.Join(t.TempDir(), "node")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("coordinator password"), 0o600)
	run(t, "init", "--data", dir, "--admin", "coord", "--admin-password-file", pwFile)

	var logs bytes.Buffer
	srv, base := serve(t, dir, &syncWriter{w: &logs})
	c := login(t, base, "coord", "coordinator password")

	const canary = "Qzwcanary"
	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 10000; i++ {
				in := map[string]any{"given_names": fmt.Sprintf("%s%dx%d", canary, w, i), "surname1": canary + "sur",
					"sex": "F", "birth_date": "1990-01-02", "phone": "+504 9999-0000",
					"consent": map[string]bool{"registration": true}}
				var p struct {
					ID string `json:"id"`
				}
				if c.do(t, "POST", "api/v1/people", in, &p) == http.StatusCreated && p.ID != "" {
					mu.Lock()
					acked = append(acked, p.ID)
					mu.Unlock()
				}
			}
		}()
	}
	// Let a few hundred land, then pull the plug while requests are in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	cancel()
	wg.Wait()
	mu.Lock()
	ackedIDs := append([]string(nil), acked...)
	mu.Unlock()
	if len(ackedIDs) < 50 {
		t.Fatalf("only %d registrations acknowledged before the kill", len(ackedIDs))
	}
	t.Logf("%d registrations acknowledged before kill -9", len(ackedIDs))

	scanForPlaintext(t, dir, canary)

	var people []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(run(t, "person", "list", "--data", dir, "--json")), &people); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range people {
		have[p.ID] = true
	}
	for _, id := range ackedIDs {
		if !have[id] {
			t.Errorf("acknowledged registration %s lost after kill -9", id)
		}
	}
	var rep struct {
		StateHash string   `json:"state_hash"`
		Problems  []string `json:"problems"`
	}
	json.Unmarshal([]byte(run(t, "verify", "--data", dir, "--json", "--all-signatures")), &rep)
	if rep.StateHash == "" || len(rep.Problems) > 0 {
		t.Errorf("verify after crash: %+v", rep)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("server logs contain a canary name (S4)")
	}
}

// scanForPlaintext reads every byte of every file under dir.
func scanForPlaintext(t *testing.T, dir, canary string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files++
		if bytes.Contains(data, []byte(canary)) || bytes.Contains(bytes.ToLower(data), bytes.ToLower([]byte(canary))) {
			t.Errorf("%s contains a canary name in plaintext", path)
		}
		if bytes.HasPrefix(data, []byte("SQLite format 3")) {
			t.Errorf("%s is a plaintext SQLite file", path)
		}
		if bytes.Contains(data, []byte("1990-01-02")) || bytes.Contains(data, []byte("9999-0000")) {
			t.Errorf("%s contains a birth date or phone in plaintext", path)
		}
		return nil
	})
	if files < 2 {
		t.Fatalf("scanned only %d files", files)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestCLIExitCodes checks the documented exit codes and that bad input
// changes nothing.
func TestCLIExitCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, 0},
		{[]string{"no-such-command"}, 2},
		{[]string{"person", "add", "--data", dir}, 2},                            // no --consent
		{[]string{"person", "show", "--data", dir}, 2},                           // missing argument
		{[]string{"person", "list", "--data", dir, "--no-such-flag"}, 2},         // unknown flag
		{[]string{"person", "list", "--data", dir}, 1},                           // no node there
		{[]string{"wipe", "--data", dir}, 2},                                     // needs --yes
		{[]string{"demo", "--data", dir, "--people", "0"}, 2},                    // out of range
		{[]string{"verify", "--data", filepath.Join(t.TempDir(), "missing")}, 1}, // fails closed
	}
	for _, tt := range tests {
		cmd := caravana(t, tt.args...)
		err := cmd.Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("caravana %s: exit %d, want %d", strings.Join(tt.args, " "), got, tt.want)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a failed command created %s", dir)
	}
}

// TestServeWrongDatabasePostgres: a node started on an empty PostgreSQL
// database (a wrong --db) stops with a clear message and exit 1, and
// creates nothing there; it never serves an empty node (S5).
func TestServeWrongDatabasePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes and production Argon2 parameters: not in -short")
	}
	db, empty := testenv.PostgresDB(t), testenv.PostgresDB(t)
	dir := filepath.Join(t.TempDir(), "hub")
	run(t, "init", "--data", dir, "--db", db)
	var stdout, stderr bytes.Buffer
	cmd := caravana(t, "serve", "--data", dir, "--db", empty, "--addr", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A bound, not a measurement: a server that wrongly starts is killed.
	timer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "--db") || !strings.Contains(stderr.String(), "holds no data of this node") {
		t.Fatalf("serve on an empty database: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "http://") {
		t.Errorf("serve announced a URL: %s", stdout.String())
	}
	conn, err := pgx.Connect(context.Background(), empty)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the refused serve created %d tables", tables)
	}
}
