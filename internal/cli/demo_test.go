package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/node"
)

// demoEnv runs demo commands in-process with cheap keys, with no
// CARAVANA_DATA or CARAVANA_ADDR from the caller's environment and
// temporary folders (throwaway nodes) under tmp.
type demoEnv struct {
	tmp, passFile string
}

func newDemoEnv(t *testing.T) *demoEnv {
	t.Helper()
	e := &demoEnv{tmp: t.TempDir(), passFile: filepath.Join(t.TempDir(), "pass")}
	if err := os.WriteFile(e.passFile, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CARAVANA_DATA", "")
	t.Setenv("CARAVANA_ADDR", "")
	t.Setenv("CARAVANA_PASSPHRASE", "")
	t.Setenv("TMPDIR", e.tmp)
	return e
}

// run executes a command line with the exit codes Main gives usage
// errors (2) and other errors (1).
func (e *demoEnv) run(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, KDF: testKDF, PasswordKDF: testKDF}
	root := NewRootCommand(app)
	root.SetArgs(append([]string{"--passphrase-file", e.passFile}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, new(usageError)):
		return 2, out.String(), errb.String() + err.Error()
	default:
		return 1, out.String(), errb.String() + err.Error()
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func openDemoNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	n, err := node.Open(context.Background(), node.Config{Dir: dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestDemoChecksFlagsFirst: options that are wrong are usage errors
// (exit 2) found before anything is created: no node folder, no
// temporary folder, no port.
func TestDemoChecksFlagsFirst(t *testing.T) {
	e := newDemoEnv(t)
	today := time.Now().UTC()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	dir := filepath.Join(t.TempDir(), "node")
	data := []string{"--data", dir}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"far future", append([]string{"--as-of", "2099-01-01"}, data...), 2, "after today"},
		{"far past", append([]string{"--as-of", "1901-01-01"}, data...), 2, "more than 80 days ago"},
		{"tomorrow", append([]string{"--as-of", today.AddDate(0, 0, 1).Format(time.DateOnly)}, data...), 2, "after today"},
		{"81 days ago", append([]string{"--as-of", today.AddDate(0, 0, -81).Format(time.DateOnly)}, data...), 2, "more than 80 days ago"},
		{"not a date", append([]string{"--as-of", "20-10-2018"}, data...), 2, "want YYYY-MM-DD"},
		{"no people", append([]string{"--people", "0"}, data...), 2, "--people"},
		{"plain HTTP beyond this machine", []string{"--serve", "--addr", "0.0.0.0:0"}, 2, "Secure"},
		{"busy port", []string{"--serve", "--addr", busy}, 1, "listen on " + busy},
		{"busy port, with --data", append([]string{"--serve", "--addr", busy}, data...), 1, "listen on " + busy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"demo"}, tt.args...)
			code, stdout, stderr := e.run(context.Background(), args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("caravana %s: exit %d, want %d with %q:\n%s", strings.Join(args, " "), code, tt.code, tt.want, stderr)
			}
			if stdout != "" {
				t.Errorf("built something first:\n%s", stdout)
			}
			if got := entries(t, e.tmp); len(got) > 0 {
				t.Errorf("left %v in the temporary folder", got)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("created %s (%v)", dir, err)
			}
		})
	}
}

// TestDemoFillsOnlyAnEmptyNode: demo creates a node with a login per
// role, refuses to fill it again (exit 1, nothing written), and adds a
// second caravan only when asked with --add. It prints how to look at the
// node with its --data.
func TestDemoFillsOnlyAnEmptyNode(t *testing.T) {
	e := newDemoEnv(t)
	dir := filepath.Join(t.TempDir(), "my demo")
	code, stdout, stderr := e.run(context.Background(), "demo", "--data", dir, "--people", "120", "--seed", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Demo caravan: 120 people", "all told: the node's keys and logins",
		"caravana missing --data '" + dir + "'", "Logins (role, user, password):", "  volunteer    volunteer    "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	count := func() (people, events int) {
		n := openDemoNode(t, dir)
		defer n.Close()
		people, err := n.Registry.PeopleCount(context.Background(), auth.Operator("test"))
		if err != nil {
			t.Fatal(err)
		}
		users, err := n.Auth.Users(context.Background(), auth.Operator("test"))
		if err != nil || len(users) != 4 {
			t.Errorf("%d users (%v), want one per role", len(users), err)
		}
		rep, err := n.Ledger.Verify(context.Background(), false)
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %v %v", rep, err)
		}
		return people, rep.Events
	}
	people, events := count()
	if people != 120 {
		t.Fatalf("%d people, want 120", people)
	}
	code, _, stderr = e.run(context.Background(), "demo", "--data", dir, "--people", "120")
	if code != 1 || !strings.Contains(stderr, "already holds 120 people") {
		t.Errorf("second demo on the node: exit %d: %s", code, stderr)
	}
	if p, ev := count(); p != people || ev != events {
		t.Errorf("the refused demo wrote: %d people and %d events, were %d and %d", p, ev, people, events)
	}
	code, stdout, stderr = e.run(context.Background(), "demo", "--data", dir, "--people", "30", "--add")
	if code != 0 || !strings.Contains(stdout, "all told: opening the node") || !strings.Contains(stdout, "node's own users") {
		t.Errorf("--add: exit %d:\n%s%s", code, stdout, stderr)
	}
	if p, _ := count(); p != 150 {
		t.Errorf("after --add: %d people, want 150", p)
	}
}

// TestDemoAsOfDatesTheJourney: the same seed and --as-of give the same
// journey, dated from the as-of date, not from when the command ran.
func TestDemoAsOfDatesTheJourney(t *testing.T) {
	e := newDemoEnv(t)
	asOf := time.Now().UTC().AddDate(0, 0, -10).Truncate(24 * time.Hour)
	type journeyView struct {
		Incidents []journey.Incident
		Hazards   []journey.Hazard
		Trails    [][]journey.Sighting
		Journey   string
	}
	view := func(dir string) journeyView {
		code, stdout, stderr := e.run(context.Background(), "demo", "--data", dir, "--people", "400", "--seed", "3", "--as-of", asOf.Format(time.DateOnly))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var v journeyView
		for _, line := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(line, "Journey:") {
				v.Journey = line
			}
		}
		n := openDemoNode(t, dir)
		ctx, op := context.Background(), auth.Operator("test")
		var err error
		if v.Incidents, err = n.Journey.Incidents(ctx, op, journey.IncidentFilter{}); err != nil {
			t.Fatal(err)
		}
		if v.Hazards, err = n.Journey.Hazards(ctx, op, false); err != nil {
			t.Fatal(err)
		}
		for i := range v.Incidents { // what differs between nodes: ids, writers, and when written
			v.Incidents[i].ID, v.Incidents[i].People, v.Incidents[i].Recorded = "", nil, time.Time{}
		}
		for i := range v.Hazards {
			v.Hazards[i].ID, v.Hazards[i].Cleared = "", time.Time{}
		}
		ids, err := n.Registry.RegistrationOrder(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[:100] {
			tr, err := n.Journey.Trail(ctx, op, id)
			if err != nil {
				t.Fatal(err)
			}
			var seen []journey.Sighting
			for _, s := range tr.Seen {
				if s.Via == "checkin" { // a mark of found is dated when it is made
					seen = append(seen, s)
				}
			}
			v.Trails = append(v.Trails, seen)
		}
		return v
	}
	a := view(filepath.Join(t.TempDir(), "a"))
	b := view(filepath.Join(t.TempDir(), "b"))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the same seed and --as-of gave different journeys:\n%+v\n%+v", a, b)
	}
	// The tear gas at Tecún Umán was on the fifth day: 1 day 8 hours before
	// the journey got to the as-of date.
	found := false
	for _, in := range a.Incidents {
		if in.Kind == "tear_gas" {
			found = true
			if want := asOf.Add(-32 * time.Hour); !in.At.Equal(want) {
				t.Errorf("tear gas at %v, want %v", in.At, want)
			}
		}
	}
	for _, tr := range a.Trails {
		for _, s := range tr {
			if !s.At.Before(asOf) || s.At.Before(asOf.AddDate(0, 0, -7)) {
				t.Errorf("seen at %s on %v, outside the week before %v", s.Stage, s.At, asOf)
			}
		}
	}
	if !found || len(a.Trails) != 100 || a.Journey == "" {
		t.Errorf("nothing to compare: %d incidents, %d trails, %q", len(a.Incidents), len(a.Trails), a.Journey)
	}
	// Hazards that expired before today are not recorded (a node refuses
	// them); those recorded keep their dates from the as-of date.
	for _, h := range a.Hazards {
		if !h.Until.After(time.Now()) || h.Until.After(asOf.Add(72*time.Hour)) {
			t.Errorf("hazard %s until %v", h.Kind, h.Until)
		}
	}
}

// TestDemoRemovesANodeItLeftHalfFilled: a demo interrupted after writing
// part of the caravan into the node it created removes the node, with its
// folder.
func TestDemoRemovesANodeItLeftHalfFilled(t *testing.T) {
	e := newDemoEnv(t)
	dir := filepath.Join(t.TempDir(), "node")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if fi, err := os.Stat(filepath.Join(dir, "node.db-wal")); err == nil && fi.Size() > 1<<20 {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	code, stdout, stderr := e.run(ctx, "demo", "--data", dir, "--people", "5000")
	if code != 1 || !strings.Contains(stderr, "interrupted; the node it created in "+dir+" was removed") {
		t.Errorf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "Demo caravan") {
		t.Errorf("the demo finished before it was interrupted; the test proves nothing:\n%s", stdout)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there (%v): %v", dir, err, entries(t, dir))
	}
}

// TestDemoHelp: the help says which nodes are throwaways, and where
// --addr comes from.
func TestDemoHelp(t *testing.T) {
	e := newDemoEnv(t)
	_, stdout, _ := e.run(context.Background(), "demo", "--help")
	for _, want := range []string{"CARAVANA_DATA set, the node is NOT a throwaway", "env CARAVANA_ADDR", "--add"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo --help lacks %q:\n%s", want, stdout)
		}
	}
}

// TestDemoProcessHelper is not a test: it is the caravana process that
// TestDemoSignals starts and signals (a cheap-keyed `caravana demo`).
func TestDemoProcessHelper(t *testing.T) {
	args := os.Getenv("CARAVANA_DEMO_HELPER_ARGS")
	if args == "" {
		t.Skip("run by TestDemoSignals")
	}
	app := &App{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, KDF: testKDF, PasswordKDF: testKDF}
	root := NewRootCommand(app)
	root.SetArgs(strings.Split(args, "\x1f"))
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// TestDemoSignals: a real `caravana demo --serve` process stopped by
// SIGINT or SIGTERM while it builds its throwaway node, or while it
// serves it, leaves nothing in the temporary folder. Served, it prints
// the web pages to look at, not commands that could not open the node.
func TestDemoSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	// The node's files, once it is created.
	nodeFile := func(tmp, name string) os.FileInfo {
		m, _ := filepath.Glob(filepath.Join(tmp, "caravana-demo-*", "node", name))
		if len(m) == 0 {
			return nil
		}
		fi, _ := os.Stat(m[0])
		return fi
	}
	tests := []struct {
		name   string
		sig    syscall.Signal
		people string
		// ready says when to signal: building (the node is created) or
		// serving (the URL is printed).
		ready    func(tmp, stdout string) bool
		building bool
	}{
		{"SIGINT while creating the node", syscall.SIGINT, "150000",
			func(tmp, _ string) bool { return nodeFile(tmp, "node.db") != nil }, true},
		{"SIGTERM while writing the caravan", syscall.SIGTERM, "5000",
			func(tmp, _ string) bool { fi := nodeFile(tmp, "node.db-wal"); return fi != nil && fi.Size() > 1<<20 }, true},
		{"SIGINT while serving", syscall.SIGINT, "200",
			func(_, stdout string) bool { return strings.Contains(stdout, "Open http://") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestDemoProcessHelper$")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "CARAVANA_DATA=", "CARAVANA_ADDR=",
				"CARAVANA_DEMO_HELPER_ARGS="+strings.Join([]string{"demo", "--serve", "--addr", "127.0.0.1:0", "--people", tt.people}, "\x1f"))
			stdout, stderr := newSyncBuffer(), newSyncBuffer()
			cmd.Stdout, cmd.Stderr = stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			for deadline := time.Now().Add(3 * time.Minute); !tt.ready(tmp, stdout.String()); time.Sleep(2 * time.Millisecond) {
				select {
				case err := <-exited:
					t.Fatalf("exited (%v) before the signal:\n%s\n%s", err, stdout, stderr)
				default:
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					<-exited
					t.Fatalf("not ready:\n%s\n%s", stdout, stderr)
				}
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			err := <-exited
			out := stdout.String()
			if tt.building {
				if err == nil || !strings.Contains(stderr.String(), "interrupted; the throwaway node was removed") {
					t.Errorf("exit %v:\n%s\n%s", err, out, stderr)
				}
				if strings.Contains(out, "Open http://") {
					t.Errorf("the build finished before the signal; the test proves nothing:\n%s", out)
				}
			} else {
				if err != nil {
					t.Errorf("exit %v:\n%s", err, stderr)
				}
				if !strings.Contains(out, "Look at: http://127.0.0.1:") || strings.Contains(out, "Try: caravana") ||
					!strings.Contains(out, "Logins (role, user, password):") {
					t.Errorf("output:\n%s", out)
				}
			}
			if left := entries(t, tmp); len(left) > 0 {
				t.Errorf("left %v in the temporary folder", left)
			}
		})
	}
}

// TestServeRefusesPlainHTTPBeyondLoopback: serve binds any address with
// TLS, but plain HTTP only on loopback.
func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	app := &App{}
	cert, key := selfSigned(t)
	tests := []struct {
		addr, cert, key string
		ok              bool
	}{
		{"127.0.0.1:0", "", "", true},
		{"localhost:0", "", "", true},
		{"[::1]:0", "", "", true},
		{"0.0.0.0:0", "", "", false},
		{":0", "", "", false},
		{"[::]:0", "", "", false},
		{"0.0.0.0:0", cert, key, true},
		{"127.0.0.1:0", cert, "", false}, // half a certificate
	}
	for _, tt := range tests {
		ln, err := app.listen(tt.addr, tt.cert, tt.key)
		if ln != nil {
			ln.Close()
		}
		if tt.addr == "[::1]:0" && err != nil && !errors.As(err, new(usageError)) {
			continue // no IPv6 loopback here
		}
		if (err == nil) != tt.ok || (err != nil && !errors.As(err, new(usageError))) {
			t.Errorf("listen %s (cert %v): %v, want ok=%v or a usage error", tt.addr, tt.cert != "", err, tt.ok)
		}
		if err != nil && tt.cert == "" && !strings.Contains(err.Error(), "cross the network in the clear") {
			t.Errorf("listen %s: %v does not say why", tt.addr, err)
		}
	}
	// The command refuses before it asks for the node's passphrase.
	e := newDemoEnv(t)
	code, _, stderr := e.run(context.Background(), "serve", "--data", t.TempDir(), "--addr", "0.0.0.0:0")
	if code != 2 || !strings.Contains(stderr, "refusing to serve plain HTTP") {
		t.Errorf("serve --addr 0.0.0.0:0: exit %d: %s", code, stderr)
	}
}

// selfSigned writes a self-signed certificate and its key for 127.0.0.1.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "caravana test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// BenchmarkDemoCommand measures the whole `caravana demo --data DIR`
// command with the production key settings (Argon2id for the node key and
// every password): node keys, logins, caravan, journey, supplies and the
// closing checkpoint: what a user waits for.
func BenchmarkDemoCommand(b *testing.B) {
	b.Setenv("CARAVANA_DATA", "")
	b.Setenv("CARAVANA_PASSPHRASE", "")
	passFile := filepath.Join(b.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte(testPassphrase), 0o600); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "node")
		app := &App{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
		root := NewRootCommand(app)
		root.SetArgs([]string{"demo", "--data", dir, "--passphrase-file", passFile})
		start := time.Now()
		if err := root.ExecuteContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s/demo")
}
