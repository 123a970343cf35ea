package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"caravana/internal/node"
	"caravana/internal/replication"
)

// syncFlags are the client settings shared by `sync` and `serve`.
type syncFlags struct {
	peers  []string
	caFile string
	batch  int
	plain  bool
}

func (f *syncFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.peers, "peer", nil, "URL of a peer node or hub to sync with (repeatable)")
	cmd.Flags().StringVar(&f.caFile, "peer-ca", "", "PEM file of CAs trusted for https:// peers, besides the system's")
	cmd.Flags().IntVar(&f.batch, "sync-batch", replication.DefaultBatch, "events per sync request")
	cmd.Flags().BoolVar(&f.plain, "sync-plain", false, "do not gzip sync traffic (faster on a LAN, 3x the bytes)")
}

func (f *syncFlags) client() (*replication.Client, error) {
	if f.batch < 1 || f.batch > replication.MaxBatch {
		return nil, usagef("--sync-batch must be between 1 and %d", replication.MaxBatch)
	}
	hc, err := replication.NewHTTPClient(f.caFile)
	if err != nil {
		return nil, err
	}
	return &replication.Client{HTTP: hc, Batch: f.batch, Plain: f.plain}, nil
}

// NewSyncCommand runs a sync with peers, and groups the sync commands.
func NewSyncCommand(app *App) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync [--peer URL ...]",
		Short: "Sync with peer nodes or a hub now; show sync status; move events by file",
		Long: `Pull from each peer what this node lacks, then push what the peer lacks, in batches, each
applied whole after its signatures and hash chains are checked. A sync cut at any point loses
nothing: the next one carries on where the vectors say. Both sides prove who they are with
their node keys; the peer must be an enrolled, unrevoked node of the organisation.

Without --peer, syncs with every peer this node has synced with before.`,
		Example: `  caravana sync --peer http://192.168.4.1:8080
  caravana sync --peer https://hub.example.org --peer-ca org-ca.pem
  caravana sync status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				peers := f.peers
				if len(peers) == 0 {
					known, err := replication.Peers(cmd.Context(), n.Store)
					if err != nil {
						return err
					}
					for _, p := range known {
						if p.URL != "" {
							peers = append(peers, p.URL)
						}
					}
					if len(peers) == 0 {
						return usagef("no peer known yet: give --peer URL")
					}
				}
				var reports []replication.Report
				var errs []error
				for _, url := range peers {
					rep, err := c.Sync(cmd.Context(), n, url, app.syncProgress(url))
					reports = append(reports, rep)
					if err != nil {
						errs = append(errs, err)
						if !app.JSON {
							fmt.Fprintln(app.Stderr, "error:", err)
						}
						continue
					}
					if !app.JSON {
						printReport(app, rep)
					}
				}
				if app.JSON {
					if err := app.printJSON(reports); err != nil {
						return err
					}
				}
				if len(errs) > 0 {
					return fmt.Errorf("%d of %d syncs failed: %w", len(errs), len(peers), errors.Join(errs...))
				}
				return nil
			})
		},
	}
	f.register(cmd)
	cmd.AddCommand(newSyncStatus(app), newSyncExport(app), newSyncImport(app))
	return cmd
}

// syncProgress shows one bar per phase on stderr (none with --json).
func (app *App) syncProgress(url string) func(replication.Progress) {
	if app.JSON {
		return nil
	}
	var bar *progressbar.ProgressBar
	phase := ""
	return func(p replication.Progress) {
		if p.Phase != phase {
			if bar != nil {
				bar.Finish()
			}
			phase = p.Phase
			bar = app.progress(int(p.Total), fmt.Sprintf("%s %s", p.Phase, url))
		}
		if bar == nil {
			return
		}
		if int64(bar.GetMax64()) < p.Total {
			bar.ChangeMax64(p.Total)
		}
		bar.Set64(p.Done)
	}
}

func printReport(app *App, r replication.Report) {
	fmt.Fprintf(app.Stdout, "Synced with %s (%s) in %s: received %d new events (%d already held), sent %d (%d already there)\n",
		r.Peer, r.URL, r.Took.Round(time.Millisecond), r.Pulled, r.Known, r.Pushed, r.PushedKnown)
	if r.Purged > 0 {
		fmt.Fprintf(app.Stdout, "  dropped %d events of revoked nodes signed after their cut\n", r.Purged)
	}
	for _, rej := range r.Rejected {
		fmt.Fprintf(app.Stdout, "  refused here: %s\n", rej)
	}
	for _, rej := range r.PeerRejected {
		fmt.Fprintf(app.Stdout, "  refused by the peer: %s\n", rej)
	}
}

func newSyncStatus(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each peer: URL, when last heard, how far behind each side is, the last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				st, err := replication.ReadStatus(cmd.Context(), n)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(st)
				}
				fmt.Fprintf(app.Stdout, "Node %s holds %d events from %d nodes\n", st.Node, st.Events, len(st.Vector))
				if len(st.Peers) == 0 {
					fmt.Fprintln(app.Stdout, "No peers yet: caravana sync --peer URL")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tNAME\tURL\tLAST HEARD (UTC)\tTHEY LACK\tWE LACK\tLAST ERROR")
				for _, p := range st.Peers {
					heard := "never"
					if !p.LastHeard.IsZero() {
						heard = p.LastHeard.UTC().Format("2006-01-02 15:04:05")
					}
					url := p.URL
					if url == "" {
						url = "(no URL: it calls us, or files)"
					}
					name := p.Name
					if p.Revoked {
						name += " [revoked]"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", p.Node, name, url, heard, p.TheyLack, p.WeLack, p.LastError)
				}
				return tw.Flush()
			})
		},
	}
}
