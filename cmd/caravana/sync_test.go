package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"caravana/internal/testenv"
)

// syncProc is a `caravana serve` process of the multi-process sync test.
type syncProc struct {
	name string
	node []string // --data (and --db): which node
	args []string // serve's other flags
	cmd  *exec.Cmd
	url  string
	logs *syncWriter
	out  strings.Builder
}

// start runs `caravana serve` with p.args on a free loopback port.
func (p *syncProc) start(t *testing.T) {
	t.Helper()
	p.logs = &syncWriter{w: &p.out}
	cmd := caravana(t, append(append([]string{"serve", "--addr", "127.0.0.1:0"}, p.node...), p.args...)...)
	cmd.Stderr = p.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case p.url = <-urlc:
	case <-time.After(90 * time.Second):
		t.Fatalf("%s did not start:\n%s", p.name, p.out.String())
	}
}

func (p *syncProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
}

// syncStatus is the part of GET /api/v1/sync the test reads.
type syncStatus struct {
	Node   string            `json:"node"`
	Vector map[string]uint64 `json:"vector"`
}

func (c *client) status(t *testing.T) syncStatus {
	t.Helper()
	var st syncStatus
	if code := c.do(t, "GET", "api/v1/sync", nil, &st); code != http.StatusOK {
		t.Fatalf("GET /api/v1/sync: %d", code)
	}
	return st
}

// TestSyncProcessesPostgres: three real `caravana serve` processes and a
// hub (`caravana serve --db postgres://...`) on loopback. The hub joins by
// the founder's invitation, the other two by the hub's; all sync through
// the hub in the background. Each is written to through the JSON API; one
// is killed with SIGKILL in the middle of a large sync, restarted, and all
// four converge to the same state hash, with every acknowledged write.
func TestSyncProcessesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes and production Argon2 parameters: not in -short")
	}
	db := testenv.PostgresDB(t)
	base := t.TempDir()
	dir := func(name string) string { return filepath.Join(base, name) }
	pw := filepath.Join(base, "pw")
	os.WriteFile(pw, []byte("coordinator password"), 0o600)

	// The founder, with a caravan in it.
	run(t, "init", "--data", dir("a"), "--admin", "coord", "--admin-password-file", pw, "--name", "front")
	run(t, "demo", "--data", dir("a"), "--people", "600", "--seed", "3")
	a := &syncProc{name: "a", node: []string{"--data", dir("a")}}
	a.start(t)

	// The hub joins by the founder's invitation, then serves.
	run(t, "node", "invite", "--data", dir("a"), "--out", dir("hub.invite"), "--url", a.url, "--name", "hub")
	run(t, "init", "--data", dir("hub"), "--db", db, "--join", dir("hub.invite"))
	hub := &syncProc{name: "hub", node: []string{"--data", dir("hub"), "--db", db}}
	hub.start(t)
	// b and c join by the hub's invitations.
	for _, n := range []string{"b", "c"} {
		run(t, "node", "invite", "--data", dir("hub"), "--db", db, "--out", dir(n+".invite"), "--url", hub.url, "--name", n)
		run(t, "init", "--data", dir(n), "--join", dir(n+".invite"))
	}
	// Everyone syncs with the hub in the background; a restarts to do so.
	a.stop(t, syscall.SIGTERM)
	peer := []string{"--sync-every", "1s", "--peer", hub.url}
	a.args = peer
	a.start(t)
	b := &syncProc{name: "b", node: []string{"--data", dir("b")}, args: peer}
	b.start(t)
	// c pulls in small batches, so its big sync below lasts long enough to be cut.
	c := &syncProc{name: "c", node: []string{"--data", dir("c")}, args: append([]string{"--sync-batch", "10"}, peer...)}
	c.start(t)

	// Writes on each node through the API.
	procs := []*syncProc{a, b, c, hub}
	clients := map[*syncProc]*client{}
	for _, p := range procs {
		clients[p] = login(t, p.url, "coord", "coordinator password")
	}
	var acked []string
	for _, p := range []*syncProc{a, b, c, hub} {
		for i := range 15 {
			var person struct {
				ID string `json:"id"`
			}
			in := map[string]any{"given_names": fmt.Sprintf("Qzsync%s%d", p.name, i), "surname1": "Proceso", "sex": "F",
				"consent": map[string]bool{"registration": true}}
			if code := clients[p].do(t, "POST", "api/v1/people", in, &person); code != http.StatusCreated {
				t.Fatalf("register on %s: %d", p.name, code)
			}
			acked = append(acked, person.ID)
		}
	}
	converge := func(what string) map[string]uint64 {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			vecs := map[string]map[string]uint64{}
			same := true
			var first map[string]uint64
			for _, p := range procs {
				v := clients[p].status(t).Vector
				vecs[p.name] = v
				if first == nil {
					first = v
				} else if !maps.Equal(first, v) {
					same = false
				}
			}
			if same && len(first) == 4 {
				return first
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no convergence: %v\nc's log:\n%s", what, vecs, c.out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	converge("after the writes")

	// c goes down; a gets a second caravan (thousands of events) that the
	// hub picks up; c comes back and pulls it in small batches, and is
	// killed with SIGKILL half way through.
	c.stop(t, syscall.SIGKILL)
	aID := clients[a].status(t).Node
	run(t, "demo", "--data", dir("a"), "--add", "--people", "1500", "--seed", "4")
	want := clients[a].status(t).Vector[aID]
	for deadline := time.Now().Add(2 * time.Minute); clients[hub].status(t).Vector[aID] < want; {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not get a's new events")
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.start(t)
	cc := login(t, c.url, "coord", "coordinator password")
	before := cc.status(t).Vector[aID]
	var cut uint64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		held := cc.status(t).Vector[aID]
		if held > before && held < want {
			c.stop(t, syscall.SIGKILL)
			cut = held
			break
		}
		if held >= want || time.Now().After(deadline) {
			t.Fatalf("could not catch c mid-sync: it holds %d of a's events (had %d, a has %d)", held, before, want)
		}
	}
	t.Logf("c killed holding %d of a's %d events (had %d before)", cut, want, before)
	c.start(t)
	clients[c] = login(t, c.url, "coord", "coordinator password")
	final := converge("after the kill")
	if final[aID] != want {
		t.Fatalf("a's events held everywhere: %d, want %d", final[aID], want)
	}

	// Stop everything and compare what `caravana verify` says offline.
	for _, p := range procs {
		p.stop(t, syscall.SIGTERM)
	}
	hashes := map[string]string{}
	for _, p := range procs {
		var rep struct {
			Events    int      `json:"events"`
			StateHash string   `json:"state_hash"`
			Problems  []string `json:"problems"`
		}
		if err := json.Unmarshal([]byte(run(t, append([]string{"verify", "--json"}, p.node...)...)), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.StateHash == "" || len(rep.Problems) > 0 {
			t.Fatalf("verify %s: %+v", p.name, rep)
		}
		hashes[p.name] = rep.StateHash
	}
	for _, p := range procs {
		if hashes[p.name] != hashes["a"] {
			t.Fatalf("state hashes differ: %v", hashes)
		}
	}
	// Every acknowledged write is on every node.
	for _, p := range procs {
		var people []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(run(t, append([]string{"person", "list", "--json"}, p.node...)...)), &people); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, x := range people {
			have[x.ID] = true
		}
		for _, id := range acked {
			if !have[id] {
				t.Fatalf("%s lacks acknowledged registration %s", p.name, id)
			}
		}
	}
	for _, p := range procs {
		if strings.Contains(p.out.String(), "Qzsync") {
			t.Errorf("%s's log holds a name", p.name)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		scanForPlaintext(t, dir(n), "Qzsync")
	}
}
