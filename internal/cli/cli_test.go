package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// groupCommands lists every command that has subcommands, by path
// without the root ("person", "supply item", ...), and the root as "".
func groupCommands(c *cobra.Command, prefix []string, out *[][]string) {
	if c.HasSubCommands() {
		*out = append(*out, append([]string(nil), prefix...))
	}
	for _, sub := range c.Commands() {
		groupCommands(sub, append(prefix, sub.Name()), out)
	}
}

// TestUnknownVerbs runs every group command with a verb it does not know:
// each must refuse it as a usage error (exit 2), not print its help and
// succeed.
func TestUnknownVerbs(t *testing.T) {
	var groups [][]string
	groupCommands(NewRootCommand(&App{}), nil, &groups)
	// Groups that only group: without a verb they print their help.
	helpOnly := []string{"", "person", "household", "user", "node", "supply", "supply item", "trace", "hazard", "incident",
		"route", "completion"}
	for _, want := range append([]string{"sync", "missing", "conflicts", "dedup"}, helpOnly...) {
		found := false
		for _, g := range groups {
			found = found || strings.Join(g, " ") == want
		}
		if !found {
			t.Errorf("%q is not a group command any more: update this test", want)
		}
	}
	for _, g := range groups {
		t.Run("caravana "+strings.Join(g, " "), func(t *testing.T) {
			code, stdout, stderr := runMain(t, append(g, "bogusverb")...)
			if code != 2 || !strings.Contains(stderr, `unknown command "bogusverb"`) {
				t.Errorf("exit %d, want 2 with unknown command; stdout:\n%.300s\nstderr:\n%s", code, stdout, stderr)
			}
			// Without a verb, the group still prints its help and succeeds.
			if slices.Contains(helpOnly, strings.Join(g, " ")) {
				if code, stdout, stderr := runMain(t, g...); code != 0 || !strings.Contains(stdout, "Available Commands") {
					t.Errorf("without a verb: exit %d\n%.300s%s", code, stdout, stderr)
				}
			}
		})
	}
	// A near miss is suggested.
	if _, _, stderr := runMain(t, "person", "fnd"); !strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, "find?") {
		t.Errorf("no suggestion for 'person fnd': %s", stderr)
	}
}

// TestExitCodes: 2 for a mistake in how a command was called, whatever
// the words of the error; 1 for a bad value or a failure.
func TestExitCodes(t *testing.T) {
	e := newCLIEnv(t)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown flag", []string{"person", "list", "--bogus"}, 2},
		{"flag without its value", []string{"checkin", "--stage"}, 2},
		{"flag value of the wrong type", []string{"person", "list", "--limit", "many"}, 2},
		{"too many arguments", []string{"person", "show", "a", "b"}, 2},
		{"too few arguments", []string{"person", "show"}, 2},
		{"stray argument", []string{"headcount", "extra"}, 2},
		{"required flag missing", []string{"supply", "history"}, 2},
		{"unknown top-level command", []string{"bogus"}, 2},
		{"empty find", []string{"person", "find", ""}, 2},
		{"nothing to update", []string{"person", "update", e.ana.ID}, 2},
		{"bad --log-level", []string{"person", "list", "--log-level", "loud"}, 2},
		// A value the registry refuses is bad input, not bad usage, even
		// where its message says "unknown flag".
		{"unknown vulnerability flag", []string{"person", "update", e.ana.ID, "--flag", "tall"}, 1},
		{"bad --sex", []string{"person", "update", e.ana.ID, "--sex", "Q"}, 1},
		{"bad --birth-date", []string{"person", "update", e.ana.ID, "--birth-date", "1990-13-01"}, 1},
		{"nobody with this id", []string{"person", "show", "0123456789abcdef"}, 1},
		{"ok", []string{"person", "list"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, errs := e.run(t, tt.args...); code != tt.want {
				t.Errorf("exit %d, want %d: %s%s", code, tt.want, out, errs)
			}
		})
	}
}

// TestListingsJSONOnEmptyNode runs every listing with --json on a node
// with nothing in it: each prints an array ([], never null) or an object
// whose lists are arrays.
func TestListingsJSONOnEmptyNode(t *testing.T) {
	e := newEmptyCLIEnv(t)
	tests := []struct {
		args  []string
		array bool     // the output is an array, else an object
		lists []string // the object's keys that must be arrays
	}{
		{[]string{"person", "list"}, true, nil},
		{[]string{"person", "find", "nadie"}, true, nil},
		{[]string{"household", "list"}, true, nil},
		{[]string{"user", "list"}, true, nil},
		{[]string{"node", "list"}, true, nil},
		{[]string{"audit", "--actor", "nobody"}, true, nil},
		{[]string{"conflicts"}, true, nil},
		{[]string{"supply", "items"}, true, nil},
		{[]string{"supply", "stock"}, true, nil},
		{[]string{"supply", "history", "--household", "0123456789abcdef"}, true, nil},
		{[]string{"trace", "list"}, false, []string{"reports"}},
		{[]string{"dedup"}, true, nil},
		{[]string{"sync", "held"}, true, nil},
		{[]string{"sync", "status"}, false, []string{"peers", "nodes", "held"}},
		{[]string{"incident", "list"}, true, nil},
		{[]string{"hazard", "list", "--all"}, true, nil},
		{[]string{"route", "show"}, true, nil},
		{[]string{"headcount"}, false, []string{"stages", "left_by"}},
		{[]string{"missing", "--stage", "tapachula"}, false, []string{"households"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := e.run(t, append(tt.args, "--json")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			switch got := v.(type) {
			case []any:
				if !tt.array {
					t.Errorf("an array, want an object: %s", out)
				}
			case map[string]any:
				if tt.array {
					t.Errorf("an object, want an array: %s", out)
				}
				for _, k := range tt.lists {
					if _, ok := got[k].([]any); !ok {
						t.Errorf("%q is %v, want an array:\n%s", k, got[k], out)
					}
				}
			default:
				t.Errorf("prints %s, want an array or an object", strings.TrimSpace(out))
			}
		})
	}
}

// FuzzParseWhen: any text given as a time either parses to a time that
// reads back the same, or is refused as a usage error naming the flag;
// nothing panics.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"", "2018-10-20T14:30:00-06:00", "2018-10-20 20:30", "2018-10-20T20:30", "2018-10-20",
		"2018-10-20T14:30:00Z", "2018-02-30", "20:30", "yesterday", "2018-10-20 25:61", "9999-12-31T23:59:59+14:00",
		"0000-01-01", "0001-01-01", "0001-01-01T01:00:00+01:00", "2018-10-20T14:30:00.123456789+05:45", "\xff", "2018-10-20\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen("--at", s)
		if s == "" {
			if err != nil || !got.IsZero() {
				t.Fatalf("empty: %v %v, want the zero time", got, err)
			}
			return
		}
		if err != nil {
			if exitCode(err) != 2 || !strings.HasPrefix(err.Error(), "--at: ") {
				t.Fatalf("%q: error %q (exit %d), want a usage error naming --at", s, err, exitCode(err))
			}
			return
		}
		if got.IsZero() {
			t.Fatalf("%q parsed to the zero time, which means 'not given'", s)
		}
		again, err := parseWhen("--at", got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q parsed to %v, which reads back as %v (%v)", s, got, again, err)
		}
	})
}

// TestMainUsageHint: Main points a usage error to the help, and an
// error in the data not.
func TestMainUsageHint(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"person", "bogusverb"}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "caravana --help") {
		t.Errorf("person bogusverb: exit %d\n%s", code, errb.String())
	}
}
