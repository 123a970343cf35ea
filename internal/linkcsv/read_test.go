package linkcsv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadGood(t *testing.T) {
	tests := []struct {
		name, in, id string
		cols         []string
		idCol        int
		rows         [][]string
		lines        []int
	}{
		{
			name: "FEBRL separators, BOM and CRLF",
			in:   "\xef\xbb\xbfrec_id, given_name, surname\r\nrec-1-org, michaela, neumann\r\nrec-2-org, , lund \r\n",
			cols: []string{"rec_id", "given_name", "surname"},
			rows: [][]string{{"rec-1-org", "michaela", "neumann"}, {"rec-2-org", "", "lund"}},
		},
		{
			name:  "id by name, any case",
			in:    "nombre,ID,edad\nAna,7,30\nLuis,8,\n",
			id:    "id",
			cols:  []string{"nombre", "ID", "edad"},
			idCol: 1,
			rows:  [][]string{{"Ana", "7", "30"}, {"Luis", "8", ""}},
		},
		{
			name:  "quoted commas and newlines keep the line of the row's start",
			in:    "id,address\n1,\"12 Calle 5, Zona 1\"\n2,\"línea uno\nlínea dos\"\n3,x\n",
			cols:  []string{"id", "address"},
			rows:  [][]string{{"1", "12 Calle 5, Zona 1"}, {"2", "línea uno\nlínea dos"}, {"3", "x"}},
			lines: []int{2, 3, 5},
		},
		{
			name:  "blank and space-only lines are skipped",
			in:    "id,name\n\n1,ana\n   \n2,luis\n  ",
			cols:  []string{"id", "name"},
			rows:  [][]string{{"1", "ana"}, {"2", "luis"}},
			lines: []int{3, 5},
		},
		{
			name: "header only",
			in:   "id,name\n",
			cols: []string{"id", "name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Read(strings.NewReader(tt.in), "in.csv", tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tab.Columns, tt.cols) || tab.IDCol != tt.idCol {
				t.Errorf("columns %q id %d, want %q id %d", tab.Columns, tab.IDCol, tt.cols, tt.idCol)
			}
			if !slices.EqualFunc(tab.Rows, tt.rows, slices.Equal) {
				t.Errorf("rows %q, want %q", tab.Rows, tt.rows)
			}
			if tt.lines != nil && !slices.Equal(tab.Lines, tt.lines) {
				t.Errorf("lines %v, want %v", tab.Lines, tt.lines)
			}
		})
	}
}

// badInputs are malformed files, each with the error it must get: the
// file name, the line and what is wrong.
var badInputs = []struct {
	name, in, id string
	want         string
	usage        bool
}{
	{name: "short row", in: "id,a,b\n1,x,y\n2,x\n", want: "bad.csv:3: row has 2 fields, the header has 3"},
	{name: "long row", in: "id,a,b\n1,x,y\n2,x,y,z\n", want: "bad.csv:3: row has 4 fields, the header has 3"},
	{name: "FEBRL row missing a field", in: "rec_id, given_name, surname\nrec-1-org, ana\n", want: "bad.csv:2: row has 2 fields"},
	{name: "Latin-1 value", in: "id,name\n1,Ana\n2,Jos\xe9\n", want: "bad.csv:3: field 2 is not valid UTF-8"},
	{name: "Latin-1 header", in: "id,a\xf1o\n1,2\n", want: "bad.csv:1: field 2 is not valid UTF-8"},
	{name: "empty file", in: "", want: "bad.csv: the file is empty"},
	{name: "only a BOM", in: "\xef\xbb\xbf", want: "bad.csv: the file is empty"},
	{name: "only blank lines", in: "\n\n\r\n", want: "bad.csv: the file is empty"},
	{name: "space-only header", in: "   \n1\n", want: "bad.csv:1: the header row is empty"},
	{name: "numbers and dates for a header", in: "1, 19900101, 5\n2, 19910101, 6\n", want: "bad.csv:1: the first row looks like data, not a header (\"1\" in column 1)"},
	{name: "FEBRL file without its header", in: "rec-1-org, michaela, neumann, 8, stanley street\nrec-2-org, ana, lund, 9, x\n", want: "bad.csv:1: the first row looks like data, not a header (\"8\" in column 4)"},
	{name: "date in header", in: "id,name,02/01/2006\n", want: "bad.csv:1: the first row looks like data"},
	{name: "unnamed column", in: "id,,b\n1,2,3\n", want: "bad.csv:1: column 2 has no name in the header row"},
	{name: "repeated column", in: "id,Name,name \n1,a,b\n", want: "bad.csv:1: column \"name\" appears twice in the header (columns 2 and 3)"},
	{name: "duplicate id", in: "id,a\n1,x\n2,y\n1,z\n", want: "bad.csv:4: duplicate id \"1\", also on line 2"},
	{name: "duplicate id after trimming", in: "id, a\nrec-1, x\n rec-1 , y\n", want: "bad.csv:3: duplicate id \"rec-1\", also on line 2"},
	{name: "empty id", in: "id,a\n1,x\n,y\n", want: "bad.csv:3: empty id (column id)"},
	{name: "empty id in the --id column", in: "name,id\nana,\n", id: "ID", want: "bad.csv:2: empty id (column id)"},
	{name: "unclosed quote", in: "id,a\n1,x\n2,\"y\n3,z\n", want: "bad.csv:3: a quoted field is not closed properly"},
	{name: "bare quote", in: "id,a\n1,x\n2,5\" street\n", want: "bad.csv:3: a \" inside an unquoted field on line 3"},
	{name: "no such --id column", in: "rec_id,a\n1,x\n", id: "folio", want: "bad.csv:1: no column \"folio\" for --id (the columns are rec_id, a)", usage: true},
}

func TestReadBad(t *testing.T) {
	for _, tt := range badInputs {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Read(strings.NewReader(tt.in), "bad.csv", tt.id)
			if err == nil {
				t.Fatalf("no error; read %q", tab.Rows)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != "bad.csv" {
				t.Errorf("error %v is not a *Error naming the file", err)
			}
			if errors.Is(err, ErrUsage) != tt.usage {
				t.Errorf("errors.Is(err, ErrUsage) = %v, want %v", !tt.usage, tt.usage)
			}
		})
	}
}

// TestRunBadInputChangesNothing runs every malformed file through Run, as
// the left and as the right file, with and without an existing output:
// the error names the file and line, no output appears, an existing one is
// unchanged and no temporary file is left behind.
func TestRunBadInputChangesNothing(t *testing.T) {
	good := "id,a,b,name\n1,x,y,ana\n2,x,y,luis\n"
	for _, tt := range badInputs {
		for _, side := range []string{"left", "right"} {
			for _, existing := range []bool{false, true} {
				dir := t.TempDir()
				bad, other := filepath.Join(dir, "bad.csv"), filepath.Join(dir, "good.csv")
				out := filepath.Join(dir, "pairs.csv")
				writeFile(t, bad, tt.in)
				writeFile(t, other, good)
				if existing {
					writeFile(t, out, "left_id,right_id,probability\nold,older,0.9000\n")
				}
				cfg := Config{Left: bad, Right: other, Out: out, ID: tt.id, Threshold: 0.5}
				if side == "right" {
					cfg.Left, cfg.Right = other, bad
				}
				if tt.id != "" {
					writeFile(t, other, tt.id+",name\n1,ana\n")
				}
				_, err := Run(cfg)
				if err == nil || !strings.Contains(err.Error(), strings.Replace(tt.want, "bad.csv", bad, 1)) {
					t.Errorf("%s as %s: error %v, want %q", tt.name, side, err, tt.want)
				}
				checkOutput(t, out, existing)
			}
		}
	}
}

// checkOutput fails unless the directory of out holds no temporary file
// and out is either absent or, when existing, still the old content.
func checkOutput(t *testing.T, out string, existing bool) {
	t.Helper()
	data, err := os.ReadFile(out)
	switch {
	case existing && string(data) != "left_id,right_id,probability\nold,older,0.9000\n":
		t.Errorf("existing output changed: %q (%v)", data, err)
	case !existing && !errors.Is(err, os.ErrNotExist):
		t.Errorf("output written despite the error: %q", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadCSV feeds Read arbitrary bytes: it must never panic, and either
// fail with an error naming the file or return a consistent table.
func FuzzReadCSV(f *testing.F) {
	seeds := []string{
		"rec_id, given_name, surname\nrec-1-org, michaela, neumann\nrec-1-dup-0, micheala, \n",
		"\xef\xbb\xbfid,name\r\n1,Ana\r\n2,\"Luis, el \"\"Güero\"\"\"\r\n",
		"id,a,b\n1,x,y\n2,x\n",
		"id,name\n1,Jos\xe9\n",
		"id,a\n1,x\n1,y\n",
		"1,2,3\n4,5,6\n",
		"",
		"\xef\xbb\xbf",
		"id,a\n,x\n",
		"id,a\n1,\"x\n",
		"a,\"b\nc\",d\n1,2,3\n",
		"id\n\n   \n1\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Read(bytes.NewReader(data), "fuzz.csv", "")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(tab.Columns) == 0 || len(tab.Rows) != len(tab.Lines) {
			t.Fatalf("inconsistent table: %d columns, %d rows, %d lines", len(tab.Columns), len(tab.Rows), len(tab.Lines))
		}
		for i, c := range tab.Columns {
			if c == "" || !utf8.ValidString(c) || looksLikeValue(c) {
				t.Fatalf("column %d is %q", i, c)
			}
		}
		ids := map[string]bool{}
		prev := tab.HeaderLine
		for i, row := range tab.Rows {
			if len(row) != len(tab.Columns) {
				t.Fatalf("row %d has %d values for %d columns", i, len(row), len(tab.Columns))
			}
			for _, v := range row {
				if !utf8.ValidString(v) || v != strings.TrimSpace(v) {
					t.Fatalf("row %d value %q is not trimmed UTF-8", i, v)
				}
			}
			id := tab.ID(i)
			if id == "" || ids[id] {
				t.Fatalf("row %d: empty or repeated id %q", i, id)
			}
			ids[id] = true
			if tab.Lines[i] <= prev {
				t.Fatalf("row %d on line %d, after line %d", i, tab.Lines[i], prev)
			}
			prev = tab.Lines[i]
		}
	})
}
