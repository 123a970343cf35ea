package linkcsv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Output writes the pairs CSV all or nothing: rows go to a temporary file
// next to the destination, which Commit renames over it. Until then an
// existing file at the destination is untouched, and Abort (or a crash)
// leaves at most a stray temporary file, never a half-written output.
type Output struct {
	path, tmp string
	f         *os.File
	buf       *bufio.Writer
	w         *csv.Writer
	done      bool
}

// CreateOutput starts writing the pairs file path. It fails at once when
// the directory is missing or not writable, before any long work.
func CreateOutput(path string) (*Output, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		// Name the output, not the temporary file nobody asked for.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	// Keep the mode of a file being replaced; a new one is private (0600,
	// from CreateTemp): ids of people are not for everyone on the machine.
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		if err := f.Chmod(st.Mode().Perm()); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("create output: %w", err)
		}
	}
	o := &Output{path: path, tmp: f.Name(), f: f, buf: bufio.NewWriterSize(f, 64<<10)}
	o.w = csv.NewWriter(o.buf)
	if err := o.w.Write([]string{"left_id", "right_id", "probability"}); err != nil {
		o.Abort()
		return nil, fmt.Errorf("write output: %w", err)
	}
	return o, nil
}

// Write adds one pair; the probability is written with four decimals.
func (o *Output) Write(leftID, rightID string, probability float64) error {
	if err := o.w.Write([]string{leftID, rightID, strconv.FormatFloat(probability, 'f', 4, 64)}); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// Commit flushes the pairs to disk and puts the file in place.
func (o *Output) Commit() error {
	if o.done {
		return errors.New("output already committed or aborted")
	}
	o.w.Flush()
	err := o.w.Error()
	if err == nil {
		err = o.buf.Flush()
	}
	if err == nil {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.tmp, o.path)
	}
	o.done = true
	if err != nil {
		os.Remove(o.tmp)
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	// Make the rename itself durable; failing here loses nothing written.
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort discards the pairs written so far; it does nothing after Commit.
func (o *Output) Abort() {
	if o.done {
		return
	}
	o.done = true
	o.f.Close()
	os.Remove(o.tmp)
}
