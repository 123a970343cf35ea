package registry_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// reads keeps the person.read rows of an audit slice.
func reads(rows []store.AuditEntry) []store.AuditEntry {
	var out []store.AuditEntry
	for _, r := range rows {
		if r.Action == "person.read" {
			out = append(out, r)
		}
	}
	return out
}

func records(rows []store.AuditEntry) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Record
	}
	slices.Sort(out)
	return out
}

// TestAuditReads: every read path writes one person.read row per person it
// reveals, naming the actor and the record, and no PII (S7).
func TestAuditReads(t *testing.T) {
	n := newNode(t)
	in := fullPerson()
	a := register(t, n, in)
	b := register(t, n, registry.PersonInput{GivenNames: "Xochiquetzal", Surname1: "Moctezuma", Sex: "F",
		BirthDate: "2011-07-02", Phone: "+504 3322-1100", Consent: registry.Consent{Registration: true}})
	c := register(t, n, person("Ramiro", "Quetzalli"))
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Tlapaltecatl Moctezuma",
		Kind: "family", Members: []registry.Member{{Person: a.ID, Role: "head"}, {Person: b.ID, Role: "child"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(ps ...registry.Person) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = "person/" + p.ID
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name string
		read func() error
		want []string
		why  string
	}{
		{"Get", func() error { _, err := n.Registry.Get(ctx, vol, a.ID, "desk check"); return err }, rec(a), "desk check"},
		{"Find two", func() error {
			ps, err := n.Registry.Find(ctx, legal, "xochiquetzal", 10)
			if len(ps) != 2 {
				t.Errorf("Find found %d, want 2", len(ps))
			}
			return err
		}, rec(a, b), "search"},
		{"Find none", func() error { _, err := n.Registry.Find(ctx, legal, "nadie", 10); return err }, nil, ""},
		{"List page", func() error { _, _, err := n.Registry.List(ctx, medic, 1, 2); return err }, rec(a, b), "list"},
		{"List all", func() error { _, _, err := n.Registry.List(ctx, coord, 0, 0); return err }, rec(a, b, c), "list"},
		{"ByCode", func() error { _, err := n.Registry.ByCode(ctx, vol, c.Code); return err }, rec(c), "card lookup"},
		{"GetHousehold", func() error { _, err := n.Registry.GetHousehold(ctx, vol, h.ID); return err }, rec(a, b), "household " + h.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			last := lastAuditID(t, n)
			if err := tc.read(); err != nil {
				t.Fatal(err)
			}
			rows := auditSince(t, n, last)
			got := reads(rows)
			var other []store.AuditEntry
			for _, r := range rows {
				if r.Action != "person.read" {
					other = append(other, r)
				}
			}
			// Showing a household opens its label too: one household.read row.
			if tc.name == "GetHousehold" {
				if len(other) != 1 || other[0].Action != "household.read" || other[0].Record != "household/"+h.ID ||
					other[0].Actor != vol.UserID {
					t.Errorf("household rows %+v, want one household.read of %s by %s", other, h.ID, vol.UserID)
				}
				other = nil
			}
			if len(other) != 0 {
				t.Errorf("a read wrote other audit rows: %+v", other)
			}
			if !slices.Equal(records(got), tc.want) {
				t.Errorf("audited records %v, want %v", records(got), tc.want)
			}
			for _, r := range got {
				if r.Actor == "" || r.At == 0 || r.Detail != tc.why {
					t.Errorf("audit row %+v: want actor, time and detail %q", r, tc.why)
				}
			}
		})
	}
	// The actor is the reader's user id.
	last := lastAuditID(t, n)
	n.Registry.Get(ctx, medic, b.ID, "triage")
	if rows := auditSince(t, n, last); len(rows) != 1 || rows[0].Actor != medic.UserID || rows[0].Record != "person/"+b.ID {
		t.Errorf("medic read audit = %+v", rows)
	}
	// A failed look-up reveals no one and audits no one.
	last = lastAuditID(t, n)
	if _, err := n.Registry.Get(ctx, coord, "0000000000000000", "t"); err == nil {
		t.Error("Get of an unknown id succeeded")
	}
	if rows := auditSince(t, n, last); len(rows) != 0 {
		t.Errorf("a miss wrote audit rows %+v", rows)
	}
	checkNoPIIInAudit(t, n, append(secrets(in), "Moctezuma", "Quetzalli", "Ramiro", "3322-1100", "2011-07-02"))
}

// checkNoPIIInAudit fails if any audit row carries any of secrets.
func checkNoPIIInAudit(t *testing.T, n *node.Node, secrets []string) {
	t.Helper()
	rows := auditSince(t, n, 0)
	if len(rows) == 0 {
		t.Fatal("no audit rows at all")
	}
	for _, r := range rows {
		for _, part := range []string{r.Actor, r.Action, r.Record, r.Detail} {
			if l := leaked(part, secrets); len(l) > 0 {
				t.Errorf("audit row %d carries PII %q: %+v", r.ID, l, r)
			}
		}
	}
}

// TestAuditChanges: every change is in the audit trail, by whom and on
// which record, with no PII.
func TestAuditChanges(t *testing.T) {
	n := newNode(t)
	in := fullPerson()
	in.Flags = []string{"separated_child", "disability"} // a volunteer sets only the flags it sees
	type change struct {
		name   string
		action string
		do     func() (record string, err error)
	}
	var p registry.Person
	var hid string
	other := register(t, n, person("Ramiro", "Quetzalli"))
	changes := []change{
		{"Register", "person.registered", func() (string, error) {
			var err error
			p, err = n.Registry.Register(ctx, vol, in)
			return "person/" + p.ID, err
		}},
		{"Update", "person.updated", func() (string, error) {
			_, err := n.Registry.Update(ctx, vol, p.ID, registry.Patch{Fields: map[string]string{"surname2": "Cuauhtemoctzin"}})
			return "person/" + p.ID, err
		}},
		{"ReissueCard", "person.updated", func() (string, error) {
			_, err := n.Registry.ReissueCard(ctx, vol, p.ID)
			return "person/" + p.ID, err
		}},
		{"CreateHousehold", "household.created", func() (string, error) {
			h, err := n.Registry.CreateHousehold(ctx, vol, registry.HouseholdInput{Label: "Familia Tlapaltecatl", Kind: "family",
				Members: []registry.Member{{Person: p.ID, Role: "head"}}})
			hid = h.ID
			return "household/" + h.ID, err
		}},
		{"AddMember", "household.member_added", func() (string, error) {
			_, err := n.Registry.AddMember(ctx, vol, hid, registry.Member{Person: other.ID, Role: "spouse"})
			return "household/" + hid, err
		}},
		{"RemoveMember", "household.member_removed", func() (string, error) {
			_, err := n.Registry.RemoveMember(ctx, vol, hid, other.ID)
			return "household/" + hid, err
		}},
	}
	for _, c := range changes {
		last, events := lastAuditID(t, n), countEvents(t, n)
		record, err := c.do()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := countEvents(t, n); got != events+1 {
			t.Errorf("%s wrote %d events, want 1", c.name, got-events)
		}
		var found int
		for _, r := range auditSince(t, n, last) {
			if r.Action == c.action && r.Record == record && r.Actor == vol.UserID {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%s: %d audit rows {%s %s by %s}, want 1: %+v", c.name, found, c.action, record, vol.UserID, auditSince(t, n, last))
		}
	}
	checkNoPIIInAudit(t, n, append(secrets(in), "Cuauhtemoctzin", "Quetzalli", "Ramiro", "Familia"))
}

// TestOnlyRegistryDecrypts enforces S7's "decryption of PII happens in one
// package": no non-test Go file outside internal/registry (and
// internal/crypto, which defines it) calls a method named OpenField.
func TestOnlyRegistryDecrypts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	internal := filepath.Join(root, "internal")
	allowed := []string{filepath.Join(internal, "registry"), filepath.Join(internal, "crypto")}
	fset := token.NewFileSet()
	files, calls := 0, 0
	err = filepath.WalkDir(internal, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		inAllowed := slices.Contains(allowed, filepath.Dir(path))
		ast.Inspect(f, func(nd ast.Node) bool {
			call, ok := nd.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "OpenField" {
				calls++
				if !inAllowed {
					t.Errorf("%s: OpenField called outside internal/registry: PII must be decrypted only there (S7)", fset.Position(call.Pos()))
				}
			}
			// A method value (f := sealer.OpenField) would dodge the call check.
			if sel, ok := nd.(*ast.SelectorExpr); ok && sel.Sel.Name == "OpenField" && !inAllowed {
				t.Errorf("%s: OpenField referenced outside internal/registry (S7)", fset.Position(sel.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The scan must have seen the code it guards, or it proves nothing.
	if files < 20 || calls == 0 {
		t.Fatalf("scanned %d files and %d OpenField calls under %s: wrong root?", files, calls, internal)
	}
}
