package linkcsv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"caravana/internal/linkage"
)

// Config is one batch linkage: two files (Left and Right) or, for dedup,
// one (Left, with Right empty).
type Config struct {
	Left, Right string
	Out         string   // the pairs CSV to write
	ID          string   // the id column; "" means the first
	Fields      []string // COL:KIND overrides, KIND may be "skip"
	Threshold   float64  // pairs at or above are written; in (0, 1]
	// Progress, if not nil, is called as candidate pairs are compared.
	Progress func(done, total int)
}

// Summary says what a run did, for the closing line or --json.
type Summary struct {
	Mode       string      `json:"mode"` // "link" or "dedup"
	Inputs     []InputInfo `json:"inputs"`
	Fields     []FieldInfo `json:"fields"`
	Candidates int         `json:"candidates"` // pairs compared after blocking
	Pairs      int         `json:"pairs"`      // pairs written
	Threshold  float64     `json:"threshold"`
	Out        string      `json:"out"`
	Seconds    float64     `json:"seconds"`
}

// InputInfo describes one input file.
type InputInfo struct {
	File    string `json:"file"`
	Records int    `json:"records"`
}

// FieldInfo describes one comparison field.
type FieldInfo struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Source string `json:"source"` // "flag", "column name", "values", "column name and values"
}

// String is the one-line summary.
func (s *Summary) String() string {
	var in []string
	for _, i := range s.Inputs {
		in = append(in, fmt.Sprintf("%s (%s)", i.File, plural(i.Records, "record")))
	}
	var fs []string
	for _, f := range s.Fields {
		fs = append(fs, f.Name+":"+f.Kind)
	}
	verb := "linked " + strings.Join(in, " with ")
	if s.Mode == "dedup" {
		verb = "deduplicated " + in[0]
	}
	return fmt.Sprintf("%s on %s (%s): %s compared, %s at or above %.2f written to %s in %.2fs",
		verb, plural(len(s.Fields), "field"), strings.Join(fs, ", "), plural(s.Candidates, "candidate pair"),
		plural(s.Pairs, "pair"), s.Threshold, s.Out, s.Seconds)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Run links (or deduplicates) the files of cfg and writes the pairs at or
// above the threshold, best first. On any error nothing is written and an
// existing output file is left as it was. Errors in a file are *Error
// (file and line); mistakes in cfg match ErrUsage.
func Run(cfg Config) (*Summary, error) {
	start := time.Now()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	files := []string{cfg.Left}
	if cfg.Right != "" {
		files = append(files, cfg.Right)
	}
	// Parse the --field flags before reading, so a typo costs nothing.
	if _, err := parseSpecs(cfg.Fields); err != nil {
		return nil, err
	}
	out, err := CreateOutput(cfg.Out)
	if err != nil {
		return nil, err
	}
	defer out.Abort()

	tables := make([]*Table, len(files))
	for i, f := range files {
		if tables[i], err = ReadFile(f, cfg.ID); err != nil {
			return nil, err
		}
	}
	fields, err := PlanFields(tables, cfg.Fields)
	if err != nil {
		return nil, err
	}
	opts := linkage.Options{Threshold: cfg.Threshold, Progress: cfg.Progress}
	var res linkage.Result
	if len(tables) == 1 {
		res, err = linkage.Dedup(EngineFields(fields), Records(tables[0], 0, fields), opts)
	} else {
		res, err = linkage.Link(EngineFields(fields), Records(tables[0], 0, fields), Records(tables[1], 1, fields), opts)
	}
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	right := tables[len(tables)-1]
	for _, p := range res.Pairs {
		if err := out.Write(tables[0].ID(p.Left), right.ID(p.Right), p.Probability); err != nil {
			return nil, err
		}
	}
	if err := out.Commit(); err != nil {
		return nil, err
	}

	s := &Summary{Mode: "link", Candidates: res.Candidates, Pairs: len(res.Pairs), Threshold: cfg.Threshold, Out: cfg.Out}
	if len(tables) == 1 {
		s.Mode = "dedup"
	}
	for _, t := range tables {
		s.Inputs = append(s.Inputs, InputInfo{File: t.File, Records: len(t.Rows)})
	}
	for _, f := range fields {
		s.Fields = append(s.Fields, FieldInfo{Name: f.Name, Kind: string(f.Kind), Source: f.Source})
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

func (cfg *Config) check() error {
	if cfg.Left == "" || cfg.Out == "" {
		return usagef("an input file and an output file are needed")
	}
	if !(cfg.Threshold > 0 && cfg.Threshold <= 1) {
		return usagef("the threshold must be above 0 and at most 1, not %v", cfg.Threshold)
	}
	// Writing the pairs over an input would destroy it.
	for _, in := range []string{cfg.Left, cfg.Right} {
		if in != "" && samePath(in, cfg.Out) {
			return usagef("the output %s is also an input", cfg.Out)
		}
	}
	return nil
}

func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}
