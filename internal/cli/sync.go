package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/ledger"
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
					if err := app.printJSON(nonNil(reports)); err != nil {
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
	cmd.AddCommand(newSyncStatus(app), newSyncExport(app), newSyncImport(app),
		newSyncHeld(app), newSyncRelease(app), newSyncDiscard(app))
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
	fmt.Fprintf(app.Stdout, "Synced with %s (%s) in %s: received %d new events (%d already here), sent %d (%d already there)\n",
		r.Peer, r.URL, r.Took.Round(time.Millisecond), r.Pulled, r.Known, r.Pushed, r.PushedKnown)
	if r.Purged > 0 {
		fmt.Fprintf(app.Stdout, "  dropped %d events of revoked nodes signed after their cut\n", r.Purged)
	}
	for _, rej := range r.Rejected {
		if rej.Reason == ledger.ReasonFuture {
			fmt.Fprintf(app.Stdout, "  held for review here: %s\n", rej)
			continue
		}
		fmt.Fprintf(app.Stdout, "  refused here: %s\n", rej)
	}
	for _, rej := range r.PeerRejected {
		if rej.Reason == ledger.ReasonFuture {
			fmt.Fprintf(app.Stdout, "  held for review by the peer: %s\n", rej)
			continue
		}
		fmt.Fprintf(app.Stdout, "  refused by the peer: %s\n", rej)
	}
}

func newSyncStatus(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each peer: URL, when last heard, how far behind each side is, the last error; and events held for review",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				st, err := replication.ReadStatus(cmd.Context(), n)
				if err != nil {
					return err
				}
				held, err := heldRows(cmd.Context(), n)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(struct {
						replication.Status
						Held []heldRow `json:"held"`
					}{st, held})
				}
				fmt.Fprintf(app.Stdout, "Node %s holds %d events from %d nodes\n", st.Node, st.Events, len(st.Vector))
				for _, h := range held {
					fmt.Fprintf(app.Stdout, "Held for review: %d events of node %s%s stamped up to %s UTC, %s ahead: release with 'caravana sync release %s'\n",
						h.Count, h.Node, h.label(), h.Stamped.UTC().Format(time.DateTime), h.Ahead().Round(time.Second), h.Node)
				}
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

// heldRow is a held run with its node's name.
type heldRow struct {
	ledger.HeldRun
	Name string `json:"name"`
}

func (h heldRow) label() string {
	if h.Name == "" {
		return ""
	}
	return " (" + h.Name + ")"
}

func heldRows(ctx context.Context, n *node.Node) ([]heldRow, error) {
	runs, err := n.Ledger.Held(ctx)
	if err != nil {
		return nil, fmt.Errorf("read held events: %w", err)
	}
	nodes, err := n.Ledger.NodeList(ctx)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	names := map[string]string{}
	for _, x := range nodes {
		names[x.ID] = x.Name
	}
	out := make([]heldRow, 0, len(runs))
	for _, r := range runs {
		out = append(out, heldRow{HeldRun: r, Name: names[r.Node]})
	}
	return out, nil
}

const heldHelp = `Events from another node stamped more than %d minutes ahead of this node's clock (its clock is
wrong, or it lies) are not applied: they would win every "last change wins" field, and drag
clocks forward. They and that node's later events are kept, checked, and held for review.
They apply by themselves at the first sync after their time comes.`

func newSyncHeld(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "held",
		Short: "List events held for review because they are stamped in the future",
		Long: fmt.Sprintf(heldHelp, int(event.MaxDrift/time.Minute)) + `

A coordinator may apply them now with 'caravana sync release NODE', or drop them with
'caravana sync discard NODE' (they come again with the next sync).`,
		Example: `  caravana sync held
  caravana sync held --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				held, err := heldRows(cmd.Context(), n)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(held)
				}
				if len(held) == 0 {
					fmt.Fprintln(app.Stdout, "No events are held for review.")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tNAME\tFROM EVENT\tEVENTS\tSTAMPED UP TO (UTC)\tAHEAD\tAPPLIES BY ITSELF AFTER (UTC)")
				for _, h := range held {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", h.Node, h.Name, h.First, h.Count,
						h.Stamped.UTC().Format(time.DateTime), h.Ahead().Round(time.Second), h.Due.UTC().Format(time.DateTime))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(app.Stdout, "Apply them now: caravana sync release NODE; drop them: caravana sync discard NODE")
				return nil
			})
		},
	}
}

// heldAction checks the operator may decide on held events and runs fn;
// a node with nothing held is a mistake in the call.
func heldAction(cmd *cobra.Command, app *App, nodeID string, fn func(n *node.Node, actor string) error) error {
	op := operator()
	if err := auth.Check(op, auth.SyncHold); err != nil {
		return err
	}
	return app.withNode(cmd, func(n *node.Node) error {
		err := fn(n, op.Actor())
		if errors.Is(err, ledger.ErrNotHeld) {
			return usagef("no events of node %q are held for review ('caravana sync held' lists them)", nodeID)
		}
		return err
	})
}

func newSyncRelease(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "release NODE",
		Short: "Apply a node's events held for review now, although they are stamped in the future (coordinators)",
		Long: `Apply now the events of NODE held for review: you have checked that its work is real and
only its clock is wrong. They are checked again (hash chain, signature) and applied; this
node's clock still ignores their timestamps. The release is in the audit log. While NODE's
clock stays wrong, what it writes next is held again: have its clock set right.`,
		Example: `  caravana sync held
  caravana sync release 3f2a9c1d0e4b5a69`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return heldAction(cmd, app, args[0], func(n *node.Node, actor string) error {
				res, err := n.Ledger.Release(cmd.Context(), actor, args[0])
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(res)
				}
				fmt.Fprintf(app.Stdout, "Released the held events of node %s: %d applied.\n", args[0], res.Applied)
				for _, rej := range res.Rejected {
					fmt.Fprintf(app.Stdout, "  refused: %s\n", rej)
				}
				return nil
			})
		},
	}
}

func newSyncDiscard(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "discard NODE",
		Short: "Drop a node's events held for review (coordinators); they come again with the next sync",
		Long: `Drop the events of NODE held for review, without applying them. This does not refuse them
for good: the peers that hold them offer them again at the next sync, and they are held again
while they are still stamped in the future. To refuse a node's events for good, revoke the
node ('caravana node revoke'). The discard is in the audit log.`,
		Example: `  caravana sync discard 3f2a9c1d0e4b5a69`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return heldAction(cmd, app, args[0], func(n *node.Node, actor string) error {
				dropped, err := n.Ledger.Discard(cmd.Context(), actor, args[0])
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(map[string]any{"node": args[0], "discarded": dropped})
				}
				fmt.Fprintf(app.Stdout, "Discarded %d held events of node %s. They come again with the next sync, and are held again while stamped in the future.\n",
					dropped, args[0])
				return nil
			})
		},
	}
}
