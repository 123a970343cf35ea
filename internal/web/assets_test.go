package web

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/linkage"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// TestCatalogues: both languages have the same keys, and every key a
// template or handler uses exists.
func TestCatalogues(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	es, en := cats["es"], cats["en"]
	if k1, k2 := slices.Sorted(maps.Keys(es)), slices.Sorted(maps.Keys(en)); !slices.Equal(k1, k2) {
		t.Fatalf("es and en differ:\nonly es: %v\nonly en: %v", minus(k1, k2), minus(k2, k1))
	}
	for k, v := range es {
		if strings.Count(v, "%") != strings.Count(en[k], "%") {
			t.Errorf("%s: es %q and en %q take different arguments", k, v, en[k])
		}
	}
	used := map[string]string{} // key -> where
	literal := regexp.MustCompile(`\bT "([a-z0-9_.]+)"`)
	err = fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(assets, path)
		for _, m := range literal.FindAllStringSubmatch(string(data), -1) {
			used[m[1]] = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goLiteral := regexp.MustCompile(`\bT\("([a-z0-9_.]+)"`)
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goLiteral.FindAllStringSubmatch(string(data), -1) {
			if !strings.HasSuffix(m[1], ".") { // a prefix: its keys are listed below
				used[m[1]] = f
			}
		}
		// Error pages translate "error." + every code the server answers with.
		for _, m := range regexp.MustCompile(`code: +"([a-z_]+)"`).FindAllStringSubmatch(string(data), -1) {
			used["error."+m[1]] = f + " (error code)"
		}
	}
	// Keys built from domain values.
	for _, r := range auth.Roles {
		used["role."+string(r)] = "roles"
	}
	for _, v := range registry.Sexes {
		used["sex."+v] = "sexes"
	}
	for _, v := range auth.Flags {
		used["flag."+v] = "flags"
	}
	for _, v := range registry.HouseholdKinds {
		used["kind."+v] = "kinds"
	}
	for _, v := range registry.HouseholdRoles {
		used["hrole."+v] = "household roles"
	}
	for prefix, keys := range map[string][]string{"incident.kind.": journey.IncidentKinds, "hazard.kind.": journey.HazardKinds,
		"severity.": journey.Severities, "left.": journey.LeftReasons, "priority.": journey.PriorityNames} {
		for _, k := range keys {
			used[prefix+k] = "journey lists"
		}
	}
	// The check-in page's refusals, kept as keys until shown.
	for _, k := range []string{"err.code.required", "err.check", "err.code_format", "err.code.not_found", "err.not_found",
		"error.rate_limited", "err.invalid", "err.unknown_stage", "err.no_checkpoint", "err.too_many", "err.too_old"} {
		used[k] = "check-in refusals"
	}
	// Tracing: keys built from its lists, the engine's fields and levels,
	// and the codes a redirect's ?done= may carry.
	for prefix, keys := range map[string][]string{
		"relation.":      tracing.Relations,
		"trace.reason.":  tracing.WithdrawReasons,
		"trace.outcome.": append(slices.Clone(tracing.Outcomes), "withdrawn"),
		"trace.status.":  traceStatuses,
		"trace.state.":   {"open", "closed"},
		"trace.level.":   {"exact", "nickname", "phonetic", "similar", "partial", "swapped", "close", "disagree", "missing"},
		"trace.done.":    {"reported", "confirmed", "linked", "rejected", "withdrawn"},
		"trace.choose_":  {"candidate", "outcome", "reason"},
		"dup.done.":      {"distinct", "merged"},
		"dup.err.":       {"merged", "same"},
	} {
		for _, k := range keys {
			used[prefix+k] = "tracing lists"
		}
	}
	for _, f := range linkage.PersonFields {
		used["trace.field."+f.Name] = "linkage fields"
	}
	for _, k := range []string{"err.reporter_code.unknown", "err.age.invalid"} {
		used[k] = "tracing field errors"
	}
	for _, f := range append(slices.Clone(personFields), "age", "flags", "code") {
		used["field."+f] = "person fields"
	}
	for _, c := range []string{"required", "invalid", "too_long", "future", "unknown", "duplicate", "not_found",
		"check", "code_format", "one_of", "username", "password", "exists", "self"} {
		used["err."+c] = "field error codes"
	}
	for k, where := range used {
		if _, ok := es[k]; !ok {
			t.Errorf("key %q used in %s is missing from the catalogues", k, where)
		}
	}
	if len(used) < 100 {
		t.Errorf("only %d keys found in use: the scan is broken", len(used))
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

// TestTemplatesParse: the embedded templates parse, and a broken one fails
// at start, not on a request.
func TestTemplatesParse(t *testing.T) {
	pages, err := parsePages(assets)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != len(pageNames) {
		t.Fatalf("parsed %d pages, want %d", len(pages), len(pageNames))
	}
	broken := fstest.MapFS{}
	fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			data, _ := fs.ReadFile(assets, path)
			broken[path] = &fstest.MapFile{Data: data}
		}
		return nil
	})
	broken["templates/person.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if .Data}}unclosed{{end}}`)}
	if _, err := parsePages(broken); err == nil || !strings.Contains(err.Error(), "person") {
		t.Errorf("a broken template parsed: %v", err)
	}
	broken["templates/person.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{.T "x" | nosuchfunc}}{{end}}`)}
	if _, err := parsePages(broken); err == nil {
		t.Error("a template calling an unknown function parsed")
	}
	delete(broken, "templates/card.html")
	if _, err := parsePages(broken); err == nil {
		t.Error("a missing template did not fail")
	}
}

// TestOpenAPICoversRoutes: every /api/v1 route is in openapi.json and every
// path there is a route; every $ref resolves.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	raw := e.anon().page("/api/v1/openapi.json").body
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			if strings.HasPrefix(path, "/api/v1/") {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
			var o struct {
				Responses map[string]any `json:"responses"`
			}
			if json.Unmarshal(op, &o); len(o.Responses) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
		}
	}
	slices.Sort(documented)
	registered := slices.Sorted(slices.Values(e.s.apiRoutes))
	if !slices.Equal(documented, registered) {
		t.Errorf("openapi.json documents\n%v\nbut the server registers\n%v\nmissing: %v\nextra: %v",
			documented, registered, minus(registered, documented), minus(documented, registered))
	}
	var all any
	json.Unmarshal([]byte(raw), &all)
	refs := regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(raw, -1)
	if len(refs) < 20 {
		t.Fatalf("only %d $refs: the scan is broken", len(refs))
	}
	for _, m := range refs {
		node := all
		for _, part := range strings.Split(m[1], "/") {
			obj, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node = obj[part]
		}
		if node == nil {
			t.Errorf("$ref #/%s does not resolve", m[1])
		}
	}
}
