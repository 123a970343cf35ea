package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/crypto"
	"caravana/internal/journey"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// testKDF is a cheap Argon2id setting, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const testPassphrase = "correct horse battery"

// cliEnv is a node folder made for CLI tests, and what is registered in it.
type cliEnv struct {
	dir, passFile string
	ana, luis     registry.Person
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	ctx := context.Background()
	e := newEmptyCLIEnv(t)
	n := e.open(t)
	defer n.Close()
	op := auth.Operator("test")
	reg := func(given, birth string) registry.Person {
		p, err := n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: given, Surname1: "Canario", Sex: "F",
			BirthDate: birth, Consent: registry.Consent{Registration: true}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.ana, e.luis = reg("Anacleta", "1990-01-01"), reg("Luisito", "2015-01-01")
	if _, err := n.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Familia Canario", Kind: "family",
		Members: []registry.Member{{Person: e.ana.ID, Role: "head"}, {Person: e.luis.ID, Role: "child"}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// run executes a command line the way Main does (same root command, same
// exit codes), with the node's cheap KDF set on the App, which Main cannot
// do: the default setting would make every command take a second.
func (e *cliEnv) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, KDF: testKDF, PasswordKDF: testKDF}
	root := NewRootCommand(app)
	root.SetArgs(append([]string{"--data", e.dir, "--passphrase-file", e.passFile}, args...))
	root.SetIn(app.Stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0, out.String(), errb.String()
	}
	return exitCode(err), out.String(), errb.String() + err.Error()
}

// newEmptyCLIEnv is a new node with nobody registered (only its first
// coordinator's account).
func newEmptyCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := &cliEnv{dir: filepath.Join(t.TempDir(), "node"), passFile: filepath.Join(t.TempDir(), "pass")}
	if err := os.WriteFile(e.passFile, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Init(context.Background(), node.Config{Dir: e.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF},
		node.InitOptions{Name: "cli test", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	return e
}

// open unlocks the test node; the caller closes it before running commands.
func (e *cliEnv) open(t *testing.T) *node.Node {
	t.Helper()
	n, err := node.Open(context.Background(), node.Config{Dir: e.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *cliEnv) events(t *testing.T) int {
	t.Helper()
	n := e.open(t)
	defer n.Close()
	var err error
	var c int
	n.Store.View(context.Background(), func(tx store.ReadTx) error {
		c, err = tx.CountEvents(context.Background())
		return err
	})
	return c
}

func typoCode(code string) string {
	b := []byte(code)
	if b[2] == '7' {
		b[2] = '8'
	} else {
		b[2] = '7'
	}
	return string(b)
}

func TestRouteCommands(t *testing.T) {
	e := newCLIEnv(t)
	code, out, errs := e.run(t, "route", "show", "--json")
	if code != 0 {
		t.Fatalf("route show: %d %s", code, errs)
	}
	var stages []journey.Stage
	if err := json.Unmarshal([]byte(out), &stages); err != nil || len(stages) != len(journey.DefaultRoute().Stages) {
		t.Fatalf("route show --json is not the stages array: %v\n%.300s", err, out)
	}
	if code, out, _ := e.run(t, "route", "show"); code != 0 || !strings.Contains(out, "tecun-uman") || !strings.Contains(out, "default route") {
		t.Errorf("route show: %d\n%s", code, out)
	}

	// A bad file: a clear error (file, line, field) and nothing changed.
	before := e.events(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("name,country,lat,lon,km\nTecún Umán,GT,14.68,-92.15,0\nTapachula,MX,114.9,-92.26,39\n"), 0o600)
	code, _, errs = e.run(t, "route", "import", bad)
	if code != 1 || !strings.Contains(errs, "bad.csv:3: stages[1].lat: must be a latitude") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("bad import: exit %d\n%s", code, errs)
	}
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte("{\"stages\": [\n  {\"name\": \"A\", \"country\": \"MX\", \"lat\": 1, \"lon\": 1, \"km\": 0, \"elevation\": 3}\n]}"), 0o600)
	if code, _, errs := e.run(t, "route", "import", badJSON); code != 1 || !strings.Contains(errs, "bad.json:2: stages[0].elevation: unknown key") {
		t.Errorf("bad JSON import: exit %d\n%s", code, errs)
	}
	if code, _, _ := e.run(t, "route", "import", filepath.Join(dir, "missing.json")); code != 1 {
		t.Errorf("import of a missing file: exit %d", code)
	}
	if after := e.events(t); after != before {
		t.Fatalf("bad imports wrote %d events", after-before)
	}

	// Export, edit, import, export again.
	exported := filepath.Join(dir, "route.csv")
	if code, _, errs := e.run(t, "route", "export", "-o", exported); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	data, _ := os.ReadFile(exported)
	if !strings.HasPrefix(string(data), "id,name,country,lat,lon,km\n") {
		t.Fatalf("export to .csv is not CSV: %.100s", data)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	os.WriteFile(exported, []byte(strings.Join(lines[:6], "\n")+"\n"), 0o600) // the first five stages
	if code, out, errs := e.run(t, "route", "import", exported); code != 0 || !strings.Contains(out, "Route set: 5 stages") {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	code, out, _ = e.run(t, "route", "export")
	var back struct{ Stages []journey.Stage }
	if code != 0 || json.Unmarshal([]byte(out), &back) != nil || len(back.Stages) != 5 || back.Stages[4].ID != stages[4].ID {
		t.Errorf("export after import: %d\n%s", code, out)
	}
	if code, _, _ := e.run(t, "route", "export", "--format", "xml"); code != 2 {
		t.Errorf("bad --format: exit %d, want 2", code)
	}
	code, out, _ = e.run(t, "route", "map")
	if code != 0 || xml.Unmarshal([]byte(out), new(struct{})) != nil || !strings.HasPrefix(out, "<svg") {
		t.Errorf("route map: %d\n%.200s", code, out)
	}
}

func TestCheckinAndMissingCommands(t *testing.T) {
	e := newCLIEnv(t)
	ana, luis := cardcode.Format(e.ana.Code), cardcode.Format(e.luis.Code)
	if code, out, errs := e.run(t, "checkin", "--stage", "san-pedro-sula", ana, luis); code != 0 || !strings.Contains(out, "✓ "+ana+"  Anacleta Canario") {
		t.Fatalf("checkin: %d\n%s%s", code, out, errs)
	}
	// A typo is rejected before anything is opened: nothing recorded, not
	// even Ana, whose code is right.
	before := e.events(t)
	code, out, errs := e.run(t, "checkin", "--stage", "agua-caliente", ana, typoCode(luis))
	if code != 1 || !strings.Contains(errs, "check character does not match") || !strings.Contains(errs, "nothing was recorded") {
		t.Errorf("typo: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := e.run(t, "checkin", "--stage", "atlantis", ana); code != 1 || !strings.Contains(errs, "stage: is not a stage of the route") {
		t.Errorf("unknown stage: exit %d %s", code, errs)
	}
	if code, _, _ := e.run(t, "checkin", ana); code != 2 {
		t.Errorf("checkin without --stage: exit %d, want 2", code)
	}
	if after := e.events(t); after != before {
		t.Fatalf("refused check-ins wrote %d events", after-before)
	}
	// Ana crosses; Luis does not.
	code, out, _ = e.run(t, "checkin", "--stage", "agua-caliente", ana)
	if code != 0 || !strings.Contains(out, "NOT YET") || !strings.Contains(out, "1 of 2 here") {
		t.Errorf("glance at the second checkpoint: %d\n%s", code, out)
	}
	if code, out, _ := e.run(t, "checkin", "--stage", "agua-caliente", ana); code != 0 || !strings.HasPrefix(out, "= ") {
		t.Errorf("repeat scan: %d\n%s", code, out)
	}
	stranger, _ := cardcode.New(strings.NewReader(strings.Repeat("\x05\x09\x11", 10)))
	if code, out, errs := e.run(t, "checkin", "--stage", "agua-caliente", stranger); code != 1 || !strings.Contains(out, "✗") || !strings.Contains(errs, "not registered") {
		t.Errorf("unknown code: %d\n%s%s", code, out, errs)
	}

	code, out, errs = e.run(t, "missing", "--json")
	var l journey.MissingList
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
		t.Fatalf("missing --json: %d\n%s%s", code, out, errs)
	}
	if l.Stage.ID != "agua-caliente" || l.MissingPeople != 1 || len(l.Households) != 1 || l.Households[0].Priority != "missing_child" ||
		l.Households[0].Members[0].Name != "Luisito Canario" {
		t.Errorf("missing list = %+v", l)
	}
	if code, out, _ := e.run(t, "missing"); code != 0 || !strings.Contains(out, "MISSING") || !strings.Contains(out, "Familia Canario") {
		t.Errorf("missing: %d\n%s", code, out)
	}
	if code, out, _ := e.run(t, "missing", "--stage", "san-pedro-sula"); code != 0 || !strings.Contains(out, "first checkpoint") {
		t.Errorf("missing at the first checkpoint: %d\n%s", code, out)
	}
	// Marks.
	if code, _, errs := e.run(t, "missing", "left", luis, "--reason", "kidnapped"); code != 1 || !strings.Contains(errs, "reason: must be one of") {
		t.Errorf("bad reason: %d %s", code, errs)
	}
	if code, _, errs := e.run(t, "missing", "found", typoCode(luis)); code != 1 || !strings.Contains(errs, "typo") {
		t.Errorf("found with a typo: %d %s", code, errs)
	}
	if code, out, errs := e.run(t, "missing", "left", luis, "--reason", "hospital"); code != 0 || !strings.Contains(out, "hospital") {
		t.Fatalf("left: %d %s%s", code, out, errs)
	}
	if code, out, _ := e.run(t, "missing", "--json"); code != 0 || !strings.Contains(out, `"missing_people": 0`) {
		t.Errorf("after marking left: %s", out)
	}
	if code, out, _ := e.run(t, "missing", "back", luis); code != 0 || !strings.Contains(out, "back with the caravan") {
		t.Errorf("back: %d %s", code, out)
	}
	if code, out, _ := e.run(t, "missing", "found", luis); code != 0 || !strings.Contains(out, "found at agua-caliente") {
		t.Errorf("found: %d %s", code, out)
	}
	if code, out, _ := e.run(t, "missing", "--json"); code != 0 || !strings.Contains(out, `"missing_people": 0`) {
		t.Errorf("after marking found: %s", out)
	}

	code, out, _ = e.run(t, "headcount", "--json")
	var hc journey.Headcount
	if code != 0 || json.Unmarshal([]byte(out), &hc) != nil || hc.Registered != 2 {
		t.Fatalf("headcount: %d\n%s", code, out)
	}
	for _, s := range hc.Stages {
		if s.Stage.ID == "agua-caliente" && (s.Seen != 2 || s.Found != 1 || s.Children != 1) {
			t.Errorf("headcount at agua-caliente: %+v", s)
		}
	}
	if code, out, _ := e.run(t, "headcount", "--stage", "agua-caliente"); code != 0 || !strings.Contains(out, "agua-caliente") {
		t.Errorf("headcount table: %d\n%s", code, out)
	}
	if code, _, _ := e.run(t, "headcount", "--from", "yesterday"); code != 2 {
		t.Errorf("bad --from: exit %d, want 2", code)
	}
	if strings.Contains(out, "Anacleta") {
		t.Error("the headcount names someone")
	}
}

func TestIncidentAndHazardCommands(t *testing.T) {
	e := newCLIEnv(t)
	ana := cardcode.Format(e.ana.Code)
	code, out, errs := e.run(t, "incident", "add", "--kind", "tear_gas", "--severity", "critical", "--stage", "tecun-uman", "--count", "600", "--person", ana)
	if code != 0 || !strings.Contains(out, "tear_gas (critical), 600 people") {
		t.Fatalf("incident add: %d %s%s", code, out, errs)
	}
	if code, _, errs := e.run(t, "incident", "add", "--kind", "tear_gas", "--severity", "apocalyptic", "--lat", "14.7"); code != 1 ||
		!strings.Contains(errs, "severity: must be one of") || !strings.Contains(errs, "place: a stage, or a latitude and a longitude") {
		t.Errorf("bad incident: %d %s", code, errs)
	}
	if code, _, errs := e.run(t, "incident", "add", "--kind", "medical", "--severity", "low", "--stage", "tecun-uman", "--person", typoCode(ana)); code != 1 || !strings.Contains(errs, "typo") {
		t.Errorf("incident with a typo: %d %s", code, errs)
	}
	code, out, _ = e.run(t, "incident", "list", "--json")
	var incs []journey.Incident
	if code != 0 || json.Unmarshal([]byte(out), &incs) != nil || len(incs) != 1 || len(incs[0].People) != 1 || incs[0].People[0] != e.ana.ID {
		t.Errorf("incident list: %d\n%s", code, out)
	}
	code, out, errs = e.run(t, "hazard", "add", "--kind", "trap", "--stage", "ciudad-hidalgo", "--for", "6h")
	if code != 0 || !strings.Contains(out, "Recorded hazard") {
		t.Fatalf("hazard add: %d %s%s", code, out, errs)
	}
	id := strings.Fields(out)[2]
	id = strings.TrimSuffix(id, ":")
	if code, _, errs := e.run(t, "hazard", "add", "--kind", "trap", "--stage", "ciudad-hidalgo"); code != 1 || !strings.Contains(errs, "until: a hazard needs an expiry") {
		t.Errorf("hazard without expiry: %d %s", code, errs)
	}
	if code, out, _ := e.run(t, "hazard", "list"); code != 0 || !strings.Contains(out, "live") {
		t.Errorf("hazard list: %d\n%s", code, out)
	}
	if code, out, errs := e.run(t, "hazard", "clear", id); code != 0 || !strings.Contains(out, "Cleared") {
		t.Errorf("hazard clear %s: %d %s%s", id, code, out, errs)
	}
	if code, out, _ := e.run(t, "hazard", "list", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("live hazards after clearing: %s", out)
	}
	if code, out, _ := e.run(t, "hazard", "list", "--all"); code != 0 || !strings.Contains(out, "cleared") {
		t.Errorf("all hazards: %s", out)
	}
}

// TestMainExitCodes runs one command through Main itself, to hold the test
// helper to the real exit codes.
func TestMainExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"checkin", "--stage"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Errorf("Main(checkin --stage) = %d, want 2", code)
	}
	e := newCLIEnv(t)
	if code, _, _ := e.run(t, "checkin", "--stage"); code != 2 {
		t.Errorf("helper(checkin --stage) = %d, want 2", code)
	}
}
