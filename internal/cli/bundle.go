package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/replication"
)

// newSyncExport writes a bundle: events for other nodes, by hand.
func newSyncExport(app *App) *cobra.Command {
	var to []string
	var all bool
	var out string
	cmd := &cobra.Command{
		Use:   "export --to NODE [--to NODE ...] [--all] --out FILE",
		Short: "Write the events other nodes lack to an encrypted, signed file (sneakernet)",
		Long: `Write a bundle: every event the recipients may lack, by what this node last heard from
them (everything for a node it never heard from, or with --all), encrypted to their node keys
(age) and signed with this node's key. Carry it to them on a USB stick; there, 'caravana sync
import FILE' checks it whole and applies what is new.

NODE is a node id or a node name ('caravana node list'); the recipients must be enrolled and
not revoked. Only the recipients can open the file; outside its encryption it shows its size and
how many recipients it has, nothing more. The file is written whole or not at all (mode 0600).`,
		Example: `  caravana sync export --to 3f2a9c0d1b4e5f60 --out /media/usb/para-albergue.age
  caravana sync export --to albergue --to "oficina legal" --out /media/usb/bundle.age
  caravana sync export --to albergue --all --out bundle.age --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(to) == 0 {
				return usagef("--to is required: the node(s) the bundle is for (see 'caravana node list')")
			}
			if out == "" {
				return usagef("--out is required: the bundle file to write")
			}
			if fi, err := os.Stat(out); err == nil && fi.IsDir() {
				return usagef("--out %s is a folder: give a file name", out)
			}
			return app.withNode(cmd, func(n *node.Node) error {
				bar := app.bundleBar("export")
				var info replication.BundleInfo
				err := writeFileAtomic(out, func(w io.Writer) error {
					var err error
					info, err = replication.ExportBundle(cmd.Context(), n, to, all, w, replication.WithProgress(bar.set))
					return err
				})
				bar.finish()
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(map[string]any{"file": out, "bundle": info})
				}
				fmt.Fprintf(app.Stdout, "Wrote %s: %d events for %s (%d bytes)\n", out, info.Events, strings.Join(info.Recipients, ", "), info.Bytes)
				fmt.Fprintf(app.Stdout, "On the recipient: caravana sync import %s\n", filepath.Base(out))
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&to, "to", nil, "a node the bundle is for: id or name (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "every event this node holds, not only what the recipients lack")
	cmd.Flags().StringVar(&out, "out", "", "the bundle file to write")
	return cmd
}

// newSyncImport applies a bundle written for this node.
func newSyncImport(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Check and apply a bundle file written for this node by 'caravana sync export'",
		Long: `Read a bundle written for this node, check it whole — that it is addressed to this node,
comes from an enrolled, unrevoked node of this organisation, is complete and unchanged (every
byte is authenticated and signed) — and only then apply the events this node lacks. A bundle
that fails any check is refused with the reason and changes nothing. Importing the same file
again, or an older one, changes nothing.

Events are checked once more as they are applied (each node's hash chain and signature);
any refused are listed with the reason.`,
		Example: `  caravana sync import /media/usb/para-albergue.age
  caravana sync import bundle.age --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open bundle: %w", err)
			}
			defer f.Close()
			return app.withNode(cmd, func(n *node.Node) error {
				bar := app.bundleBar("import")
				res, err := replication.ImportBundle(cmd.Context(), n, f, replication.WithProgress(bar.set))
				bar.finish()
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				if app.JSON {
					return app.printJSON(res)
				}
				refused := 0
				for _, r := range res.Rejected {
					if r.Reason != ledger.ReasonFuture {
						refused += r.Count
					}
				}
				fmt.Fprintf(app.Stdout, "Bundle from node %s, written %s: %d events\n", res.Sender,
					res.Created.Local().Format(time.DateTime), res.Events)
				fmt.Fprintf(app.Stdout, "%d applied, %d already here, %d held for review, %d refused\n", res.Applied, res.Known, res.Held, refused)
				if res.Purged > 0 {
					fmt.Fprintf(app.Stdout, "%d events of revoked nodes dropped\n", res.Purged)
				}
				for _, r := range res.Rejected {
					verb := "refused"
					if r.Reason == ledger.ReasonFuture {
						verb = "held"
					}
					fmt.Fprintf(app.Stdout, "%s: %s\n", verb, r)
				}
				return nil
			})
		},
	}
}

// bundleBar is a progress bar on stderr, made on the first report (none
// with --json).
type bundleBar struct {
	app  *App
	what string
	bar  *progressbar.ProgressBar
}

func (app *App) bundleBar(what string) *bundleBar { return &bundleBar{app: app, what: what} }

func (b *bundleBar) set(done, total int) {
	if b.bar == nil {
		b.bar = b.app.progress(total, b.what)
	}
	if b.bar != nil {
		b.bar.Set(done)
	}
}

func (b *bundleBar) finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
}

// writeFileAtomic writes path through write, whole or not at all: into a
// temporary file (mode 0600) in the same folder, synced, then renamed over
// path. On any error path is left as it was.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Make the rename itself durable; a folder that cannot be synced
	// (some USB file systems) still has the whole file.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
