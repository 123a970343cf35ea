package journey

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"caravana/internal/registry"
)

// Problem is one thing wrong in a route file, with where it is.
type Problem struct {
	Line  int    `json:"line,omitempty"` // 1-based; 0 when not known
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
}

// RouteError lists every problem found in a route file; nothing was applied.
type RouteError struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

func (e *RouteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "route file %s is not valid, nothing was changed:", e.File)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Validation returns the problems as field errors, for an API answer
// (the line goes into the field name: "line 3: stages[1].km").
func (e *RouteError) Validation() registry.ValidationError {
	out := make(registry.ValidationError, len(e.Problems))
	for i, p := range e.Problems {
		field := p.Field
		if p.Line > 0 {
			field = strings.TrimSuffix(fmt.Sprintf("line %d: %s", p.Line, p.Field), ": ")
		}
		if field == "" {
			field = "file"
		}
		out[i] = registry.FieldError{Field: field, Code: "invalid", Message: p.Msg}
	}
	return out
}

// maxProblems keeps an error about a very broken file readable.
const maxProblems = 20

func (e *RouteError) add(line int, field, format string, args ...any) {
	if len(e.Problems) < maxProblems {
		e.Problems = append(e.Problems, Problem{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

func (e *RouteError) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// ParseRoute reads a route file, JSON or CSV (by extension, else by its
// first character), and validates it. On any problem it returns a
// *RouteError naming the file, line and field of each.
func ParseRoute(file string, data []byte) (Route, error) {
	re := &RouteError{File: file}
	if len(data) > MaxRouteBytes {
		re.add(0, "", "the file is larger than %d bytes", MaxRouteBytes)
		return Route{}, re
	}
	if !utf8.Valid(data) {
		re.add(lineOfInvalidUTF8(data), "", "the file is not UTF-8 text")
		return Route{}, re
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM from spreadsheet exports
	var stages []Stage
	var lines []int
	switch ext := strings.ToLower(filepath.Ext(file)); {
	case ext == ".json", ext != ".csv" && startsJSON(data):
		stages, lines = parseRouteJSON(data, re)
	default:
		stages, lines = parseRouteCSV(data, re)
	}
	if len(re.Problems) > 0 {
		return Route{}, re
	}
	validateStages(stages, lines, re)
	if err := re.orNil(); err != nil {
		return Route{}, err
	}
	return Route{Stages: stages}, nil
}

func startsJSON(data []byte) bool {
	t := bytes.TrimLeftFunc(data, unicode.IsSpace)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func lineOfInvalidUTF8(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[n:]
	}
	return line
}

// lines maps byte offsets to 1-based line numbers in O(log n), so naming
// the line of every token stays linear in the size of the file.
type lines []int // offsets of the newlines

func newLines(data []byte) lines {
	var nl lines
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

// at is the line holding byte offset off.
func (nl lines) at(off int64) int {
	i, _ := slices.BinarySearch(nl, int(off))
	return i + 1
}

// stageFields are the columns and keys a stage has; id may be left out.
var stageFields = []string{"id", "name", "country", "lat", "lon", "km"}

// parseRouteJSON reads {"stages": [...]} or a bare array of stages. It walks
// the tokens itself so it can name the line of each problem, refuse unknown
// and repeated keys, and insist on the right type for every value.
func parseRouteJSON(data []byte, re *RouteError) ([]Stage, []int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	nl := newLines(data)
	line := func() int { return nl.at(dec.InputOffset()) }
	syntax := func(err error) {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			re.add(nl.at(se.Offset), "", "JSON syntax: %v", err)
			return
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			re.add(nl.at(int64(len(data))), "", "the JSON ends too early")
			return
		}
		re.add(line(), "", "JSON: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		syntax(err)
		return nil, nil
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		var stages []Stage
		var lines []int
		found := false
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				syntax(err)
				return nil, nil
			}
			key, _ := kt.(string)
			switch {
			case found && key == "stages":
				re.add(line(), key, "repeated key")
				return nil, nil
			case key != "stages":
				re.add(line(), key, "unknown key (a route file has only \"stages\")")
				return nil, nil
			}
			found = true
			t, err := dec.Token()
			if err != nil {
				syntax(err)
				return nil, nil
			}
			if t != json.Delim('[') {
				re.add(line(), "stages", "must be an array of stages")
				return nil, nil
			}
			stages, lines = parseStagesJSON(dec, nl, re, syntax)
			if len(re.Problems) > 0 {
				return nil, nil
			}
			if _, err := dec.Token(); err != nil { // ']'
				syntax(err)
				return nil, nil
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			syntax(err)
			return nil, nil
		}
		if !found {
			re.add(line(), "stages", "is required")
			return nil, nil
		}
		return finishJSON(dec, nl, re, stages, lines)
	default:
		re.add(1, "", "a route file is a JSON array of stages or an object with \"stages\"")
		return nil, nil
	}
	stages, lines := parseStagesJSON(dec, nl, re, syntax)
	if len(re.Problems) > 0 {
		return nil, nil
	}
	if _, err := dec.Token(); err != nil { // ']'
		syntax(err)
		return nil, nil
	}
	return finishJSON(dec, nl, re, stages, lines)
}

// finishJSON insists nothing follows the document.
func finishJSON(dec *json.Decoder, nl lines, re *RouteError, stages []Stage, starts []int) ([]Stage, []int) {
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		re.add(nl.at(dec.InputOffset()), "", "unexpected content after the route")
		return nil, nil
	}
	return stages, starts
}

// parseStagesJSON reads stage objects up to (not including) the closing ']'.
func parseStagesJSON(dec *json.Decoder, nl lines, re *RouteError, syntax func(error)) ([]Stage, []int) {
	var stages []Stage
	var lines []int
	for dec.More() {
		i := len(stages)
		if i >= MaxStages {
			re.add(nl.at(dec.InputOffset()), "", "more than %d stages", MaxStages)
			return nil, nil
		}
		t, err := dec.Token()
		if err != nil {
			syntax(err)
			return nil, nil
		}
		startLine := nl.at(dec.InputOffset())
		if t != json.Delim('{') {
			re.add(startLine, fmt.Sprintf("stages[%d]", i), "must be an object with %s", strings.Join(stageFields, ", "))
			return nil, nil
		}
		var s Stage
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				syntax(err)
				return nil, nil
			}
			key, _ := kt.(string)
			field := fmt.Sprintf("stages[%d].%s", i, key)
			l := nl.at(dec.InputOffset())
			if seen[key] {
				re.add(l, field, "repeated key")
				return nil, nil
			}
			seen[key] = true
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				syntax(err)
				return nil, nil
			}
			switch key {
			case "id", "name", "country":
				var v string
				if err := json.Unmarshal(raw, &v); err != nil {
					re.add(l, field, "must be a string")
					continue
				}
				switch key {
				case "id":
					s.ID = v
				case "name":
					s.Name = v
				default:
					s.Country = v
				}
			case "lat", "lon", "km":
				var n json.Number
				// json.Number also takes a quoted number: insist on a bare one.
				if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
					re.add(l, field, "must be a number")
					continue
				}
				f, err := strconv.ParseFloat(n.String(), 64)
				if err != nil || math.IsInf(f, 0) {
					re.add(l, field, "is not a usable number")
					continue
				}
				switch key {
				case "lat":
					s.Lat = f
				case "lon":
					s.Lon = f
				default:
					s.Km = f
				}
			default:
				re.add(l, field, "unknown key (a stage has %s)", strings.Join(stageFields, ", "))
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			syntax(err)
			return nil, nil
		}
		for _, k := range stageFields[1:] {
			if !seen[k] {
				re.add(startLine, fmt.Sprintf("stages[%d].%s", i, k), "is required")
			}
		}
		stages = append(stages, s)
		lines = append(lines, startLine)
	}
	return stages, lines
}

// parseRouteCSV reads a CSV with a header naming the columns (any order;
// id optional). Lines starting with # are comments.
func parseRouteCSV(data []byte, re *RouteError) ([]Stage, []int) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			re.add(1, "", "the file is empty; a route CSV starts with a header: %s", strings.Join(stageFields, ","))
		} else {
			csvProblem(re, err)
		}
		return nil, nil
	}
	col := map[string]int{}
	hline, _ := r.FieldPos(0)
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !contains(stageFields, h):
			re.add(hline, h, "unknown column (the columns are %s)", strings.Join(stageFields, ", "))
		case col[h] != 0:
			re.add(hline, h, "repeated column")
		default:
			col[h] = i + 1 // 0 means absent
		}
	}
	for _, k := range stageFields[1:] {
		if col[k] == 0 {
			re.add(hline, k, "missing column")
		}
	}
	if len(re.Problems) > 0 {
		return nil, nil
	}
	var stages []Stage
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			csvProblem(re, err)
			return nil, nil
		}
		line, _ := r.FieldPos(0)
		if len(stages) >= MaxStages {
			re.add(line, "", "more than %d stages", MaxStages)
			return nil, nil
		}
		var s Stage
		get := func(k string) string {
			if c := col[k]; c > 0 {
				return strings.TrimSpace(rec[c-1])
			}
			return ""
		}
		s.ID, s.Name, s.Country = get("id"), get("name"), get("country")
		for _, k := range []string{"lat", "lon", "km"} {
			v := get(k)
			f, err := strconv.ParseFloat(v, 64)
			switch {
			case v == "":
				re.add(line, k, "is required")
			case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
				re.add(line, k, "must be a number such as 14.9039, with a dot for decimals")
			}
			switch k {
			case "lat":
				s.Lat = f
			case "lon":
				s.Lon = f
			default:
				s.Km = f
			}
		}
		stages = append(stages, s)
		lines = append(lines, line)
	}
	return stages, lines
}

func csvProblem(re *RouteError, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "wrong number of fields for the header"
		}
		re.add(pe.Line, "", "CSV: %s", msg)
		return
	}
	re.add(0, "", "CSV: %v", err)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
