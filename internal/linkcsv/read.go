// Package linkcsv links CSV files in batch: it reads partner and shelter
// lists, decides how each shared column is compared (name, date, code, ...),
// runs the record-linkage engine (internal/linkage) and writes the likely
// pairs to a CSV file, all or nothing.
package linkcsv

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// ErrUsage marks errors caused by how linkage was asked for (a flag naming
// a column that is not there, an unknown kind, a bad threshold) rather than
// by the contents of the files.
var ErrUsage = errors.New("usage")

// Error is a problem in an input file, with where it is.
type Error struct {
	File  string // the file as the user named it
	Line  int    // 1-based line; 0 when the problem is not on one line
	Msg   string
	usage bool
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Is reports whether the error is a usage mistake (errors.Is(err, ErrUsage)).
func (e *Error) Is(target error) bool { return e.usage && target == ErrUsage }

// usageError is a mistake in how linkage was asked for, not tied to a line.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func fileErr(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func usageErr(file string, line int, format string, args ...any) *Error {
	e := fileErr(file, line, format, args...)
	e.usage = true
	return e
}

// Table is one CSV file read for linkage.
type Table struct {
	File       string     // the file as the user named it, for messages
	Columns    []string   // header names, trimmed
	HeaderLine int        // the line of the header row
	IDCol      int        // index of the id column in Columns
	Rows       [][]string // values, trimmed; each row has len(Columns) values
	Lines      []int      // Lines[i] is the line where Rows[i] starts
}

// ID returns the id of row i.
func (t *Table) ID(i int) string { return t.Rows[i][t.IDCol] }

// Column returns the index of the column named name (trimmed,
// case-insensitive), or -1.
func (t *Table) Column(name string) int {
	name = strings.TrimSpace(name)
	for i, c := range t.Columns {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// ReadFile reads a CSV file with a header row; idColumn names the id column
// ("" means the first column).
func ReadFile(path, idColumn string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	return Read(f, path, idColumn)
}

// Read reads CSV from r; file names it in errors. The first row must be a
// header naming the columns; leading spaces after commas (", " as in the
// FEBRL files), a UTF-8 byte-order mark and CRLF line ends are accepted.
// Ragged rows, invalid UTF-8, a missing header, empty or repeated ids are
// errors naming the line.
func Read(r io.Reader, file, idColumn string) (*Table, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1 // checked here, for a clearer message

	t := &Table{File: file}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fileErr(file, 0, "the file is empty; it must start with a header row naming the columns, such as rec_id,given_name,surname,date_of_birth")
	}
	if err != nil {
		return nil, csvErr(file, err)
	}
	t.HeaderLine, _ = cr.FieldPos(0)
	if err := t.setHeader(header); err != nil {
		return nil, err
	}
	t.IDCol = 0
	if idColumn != "" {
		if t.IDCol = t.Column(idColumn); t.IDCol < 0 {
			return nil, usageErr(file, t.HeaderLine, "no column %q for --id (the columns are %s)", idColumn, strings.Join(t.Columns, ", "))
		}
	}
	seen := make(map[string]int)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && len(t.Columns) > 1 {
			continue // a line of spaces only, such as a trailing one
		}
		if err := checkUTF8(file, line, rec); err != nil {
			return nil, err
		}
		if len(rec) != len(t.Columns) {
			return nil, fileErr(file, line, "row has %d fields, the header has %d", len(rec), len(t.Columns))
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		id := rec[t.IDCol]
		if id == "" {
			return nil, fileErr(file, line, "empty id (column %s)", t.Columns[t.IDCol])
		}
		if first, dup := seen[id]; dup {
			return nil, fileErr(file, line, "duplicate id %q, also on line %d", id, first)
		}
		seen[id] = line
		t.Rows = append(t.Rows, rec)
		t.Lines = append(t.Lines, line)
	}
	return t, nil
}

// setHeader checks the first row is a header: named, distinct columns, none
// of which looks like a value (a number or a date), because a file without
// a header would otherwise lose its first record and link on nonsense.
func (t *Table) setHeader(header []string) error {
	if err := checkUTF8(t.File, t.HeaderLine, header); err != nil {
		return err
	}
	cols := make(map[string]int, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case h == "" && len(header) == 1:
			return fileErr(t.File, t.HeaderLine, "the header row is empty")
		case h == "":
			return fileErr(t.File, t.HeaderLine, "column %d has no name in the header row", i+1)
		case looksLikeValue(h):
			return fileErr(t.File, t.HeaderLine, "the first row looks like data, not a header (%q in column %d); add a header row naming the columns", h, i+1)
		}
		key := strings.ToLower(h)
		if j, dup := cols[key]; dup {
			return fileErr(t.File, t.HeaderLine, "column %q appears twice in the header (columns %d and %d)", h, j+1, i+1)
		}
		cols[key] = i
		t.Columns = append(t.Columns, h)
	}
	return nil
}

// looksLikeValue reports whether a header cell is a number or a date
// (digits with only separators such as - / . , : +), which no column name is.
func looksLikeValue(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("-/.,:+ ", r):
		default:
			return false
		}
	}
	return digits > 0
}

func checkUTF8(file string, line int, rec []string) error {
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return fileErr(file, line, "field %d is not valid UTF-8; save the file as UTF-8 (it may be Latin-1 or Windows-1252)", i+1)
		}
	}
	return nil
}

// csvErr turns an encoding/csv error into one naming the file and line.
func csvErr(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line := pe.StartLine
		if line == 0 {
			line = pe.Line
		}
		msg := pe.Err.Error()
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			msg = fmt.Sprintf("a quoted field is not closed properly (a stray or missing \" near line %d)", pe.Line)
		case errors.Is(pe.Err, csv.ErrBareQuote):
			msg = fmt.Sprintf("a \" inside an unquoted field on line %d; quote the whole field and double the \"", pe.Line)
		}
		return fileErr(file, line, "%s", msg)
	}
	return fmt.Errorf("read %s: %w", file, err)
}
