package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// TestTraceCommands walks a report through the CLI: reported with a
// nickname and one surname, the registered child ranks first with what
// agreed; confirmed as reunited, the report leaves the open list.
func TestTraceCommands(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{Dir: e.dir, Passphrase: testPassphrase, KDF: testKDF, PasswordKDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	op := auth.Operator("test")
	var jesus, dupe registry.Person
	for i, in := range []registry.PersonInput{
		{GivenNames: "Jesús Alberto", Surname1: "Orellana", Surname2: "Paz", Sex: "M", BirthDate: "2014-05-02", OriginTown: "Tela"},
		{GivenNames: "María José", Surname1: "Bonilla", Surname2: "Rivera", Sex: "F", BirthDate: "1991-02-02", OriginTown: "Tela"},
		{GivenNames: "Jesus Alberto", Surname1: "Orellana", Surname2: "Paz", Sex: "M", BirthDate: "2014-05-02", OriginTown: "Tela"},
	} {
		in.Consent = registry.Consent{Registration: true, Tracing: true}
		p, err := n.Registry.Register(ctx, op, in)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			jesus = p
		case 2:
			dupe = p
		}
	}
	n.Close()

	code, out, stderr := e.run(t, "--json", "trace", "report", "--given-names", "Chuy", "--surnames", "Orellana",
		"--age", "12", "--sex", "M", "--origin-town", "Tela", "--relation", "parent", "--reporter-name", "Rosa Paz")
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	var got struct {
		Report     tracing.Report      `json:"report"`
		Candidates []tracing.Candidate `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Candidates) == 0 || (got.Candidates[0].ID != jesus.ID && got.Candidates[0].ID != dupe.ID) {
		t.Fatalf("first candidate is not Jesús: %s", out)
	}
	rid := got.Report.ID

	code, out, _ = e.run(t, "trace", "matches", rid)
	if code != 0 || !strings.Contains(out, "Orellana") || !strings.Contains(out, "given_names") {
		t.Fatalf("matches: exit %d:\n%s", code, out)
	}
	code, out, _ = e.run(t, "trace", "list")
	if code != 0 || !strings.Contains(out, rid) || !strings.Contains(out, "Chuy Orellana") {
		t.Fatalf("list: exit %d:\n%s", code, out)
	}
	if code, _, _ = e.run(t, "trace", "confirm", rid, "person/"+jesus.ID); code != 2 {
		t.Fatalf("confirm without an outcome: exit %d, want 2 (usage)", code)
	}
	code, out, stderr = e.run(t, "trace", "confirm", rid, "person/"+jesus.ID, "--outcome", "reunited")
	if code != 0 || !strings.Contains(out, "reunited") || !strings.Contains(out, "closed") {
		t.Fatalf("confirm: exit %d:\n%s%s", code, out, stderr)
	}
	if code, _, stderr = e.run(t, "trace", "withdraw", rid); code != 1 || !strings.Contains(stderr, "already closed") {
		t.Fatalf("withdraw a closed report: exit %d: %s", code, stderr)
	}
	code, out, _ = e.run(t, "trace", "list")
	if code != 0 || strings.Contains(out, rid) {
		t.Fatalf("the closed report is still listed as open:\n%s", out)
	}

	// The same child registered twice is a likely duplicate; merged, the
	// pair is gone and the duplicate shows where it went.
	code, out, _ = e.run(t, "dedup")
	if code != 0 || !strings.Contains(out, jesus.ID) || !strings.Contains(out, dupe.ID) {
		t.Fatalf("dedup: exit %d:\n%s", code, out)
	}
	if code, out, stderr = e.run(t, "dedup", "merge", jesus.ID, dupe.ID); code != 0 {
		t.Fatalf("merge: exit %d: %s%s", code, out, stderr)
	}
	code, out, _ = e.run(t, "dedup")
	if code != 0 || strings.Contains(out, dupe.ID) {
		t.Fatalf("the merged pair is still listed:\n%s", out)
	}
	code, out, _ = e.run(t, "--json", "person", "show", dupe.ID)
	if code != 0 || !strings.Contains(out, `"merged_into": "`+jesus.ID+`"`) {
		t.Fatalf("merged person: exit %d:\n%s", code, out)
	}
}
