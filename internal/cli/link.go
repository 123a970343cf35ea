package cli

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"caravana/internal/linkcsv"
)

// linkBarAfter is how long link works before it shows a progress bar:
// small files are done before a bar could be read.
const linkBarAfter = 300 * time.Millisecond

// NewLinkCommand links two CSV files, or finds duplicates in one. It works
// on files only: no node, no passphrase.
func NewLinkCommand(app *App) *cobra.Command {
	var cfg linkcsv.Config
	var dedup string
	cmd := &cobra.Command{
		Use:   "link (--left A.csv --right B.csv | --dedup A.csv) --out pairs.csv",
		Short: "Link two CSV files (or find duplicates in one): likely pairs with a probability",
		Long: `Link the records of two CSV files — a shelter's list and a partner's, say — or find
the duplicates inside one (--dedup), without any training data: a Fellegi-Sunter model
is fitted to the files themselves.

Each file needs a header row and an id column (--id COL, default the first column).
The columns both files share (same header name, any case) are compared; with --dedup
all columns but the id. How a column is compared — name, date, age, number, code, place,
text or category — is inferred from its name (nombre, surname, fecha_nacimiento, dob,
telefono, postcode, ciudad, sexo, address, ...) and its values; --field COL:KIND sets
it, and --field COL:skip leaves a column out.

The output is a CSV file with the header left_id,right_id,probability: one row per
pair at or above --threshold, best first. It is written whole or not at all: on any
error an existing output file is left as it was. A summary goes to stderr (to stdout
as JSON with --json).`,
		Example: `  caravana link --left albergue.csv --right acnur.csv --out pares.csv
  caravana link --left dataset4a.csv --right dataset4b.csv --id rec_id --out pairs.csv --threshold 0.9
  caravana link --dedup registro.csv --field apodo:name --field notas:skip --out duplicados.csv
  caravana link --left a.csv --right b.csv --out pairs.csv --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case dedup != "" && (cfg.Left != "" || cfg.Right != ""):
				return usagef("give either --dedup FILE or --left and --right, not both")
			case dedup != "":
				cfg.Left = dedup
			case cfg.Left == "" || cfg.Right == "":
				return usagef("give --left and --right (two files to link), or --dedup (one file)")
			}
			if cfg.Out == "" {
				return usagef("--out is required: the pairs CSV to write")
			}
			bar := app.linkProgress()
			cfg.Progress = bar.report
			s, err := linkcsv.Run(cfg)
			bar.finish()
			if errors.Is(err, linkcsv.ErrUsage) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if app.JSON {
				return app.printJSON(s)
			}
			fmt.Fprintln(app.Stderr, s)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Left, "left", "", "the first CSV file to link")
	f.StringVar(&cfg.Right, "right", "", "the second CSV file to link")
	f.StringVar(&dedup, "dedup", "", "find duplicates inside this one CSV file instead")
	f.StringVarP(&cfg.Out, "out", "o", "", "write the pairs CSV here (required)")
	f.StringVar(&cfg.ID, "id", "", "the id column (default the first column)")
	f.StringArrayVar(&cfg.Fields, "field", nil, "compare column COL as KIND: name, date, age, number, code, place, text, category, or skip (COL:KIND, repeatable)")
	f.Float64Var(&cfg.Threshold, "threshold", 0.5, "write pairs whose match probability is at least this (0 to 1)")
	return cmd
}

// linkBar shows link's progress on stderr once the work turns out to be
// long (large files). The engine may report from several goroutines.
type linkBar struct {
	mu    sync.Mutex
	app   *App
	start time.Time
	bar   *progressbar.ProgressBar
}

func (app *App) linkProgress() *linkBar { return &linkBar{app: app, start: time.Now()} }

func (b *linkBar) report(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar == nil {
		if time.Since(b.start) < linkBarAfter {
			return
		}
		if b.bar = b.app.progress(total, "linking"); b.bar == nil {
			return // --json: no bar
		}
	}
	b.bar.ChangeMax(total)
	b.bar.Set(done)
}

func (b *linkBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Finish()
	}
}
