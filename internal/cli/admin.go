package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/auth"
	"caravana/internal/node"
	"caravana/internal/store"
)

// NewRebuildCommand drops the projections and replays the log.
func NewRebuildCommand(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "rebuild",
		Short: "Drop every projection and rebuild it from the event log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				var err error
				start := time.Now()
				var bar interface{ Set(int) error }
				err = n.Ledger.Rebuild(cmd.Context(), func(done, total int) {
					if bar == nil {
						if b := app.progress(total, "rebuild"); b != nil {
							bar = b
						}
					}
					if bar != nil {
						bar.Set(done)
					}
				})
				if err != nil {
					return err
				}
				rep, err := n.Ledger.Verify(cmd.Context(), false)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(map[string]any{"events": rep.Events, "state_hash": rep.StateHash, "seconds": time.Since(start).Seconds()})
				}
				fmt.Fprintf(app.Stdout, "Rebuilt from %d events in %s\nstate hash %s\n", rep.Events, time.Since(start).Round(time.Millisecond), rep.StateHash)
				return nil
			})
		},
	}
}

// NewVerifyCommand checks the log and prints the state hash.
func NewVerifyCommand(app *App) *cobra.Command {
	var quick, all bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every event's hash, chain link and signature; print the state hash",
		Long: `Check the event log: every event's hash, its link to the node's previous event, and its
node's signature. With --quick only one signature per contiguous run of events is checked
(it authenticates the run through the chain, but a damaged signature inside the run passes).
Prints the state hash of the projections (documents and index): equal on every node that
holds the same events, and unchanged by 'caravana rebuild'. Exits 1 if anything is wrong;
"events" counts the events that passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if quick && all {
				return usagef("--quick and --all-signatures contradict each other")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				rep, err := n.Ledger.Verify(cmd.Context(), !quick)
				if err != nil {
					return err
				}
				if app.JSON {
					if err := app.printJSON(rep); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(app.Stdout, "%d events from %d nodes\nstate hash %s\n", rep.Events, len(rep.Nodes), rep.StateHash)
					for _, p := range rep.Problems {
						fmt.Fprintln(app.Stdout, "PROBLEM:", p)
					}
				}
				if !rep.OK() {
					return fmt.Errorf("verify: %d problems", len(rep.Problems))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&quick, "quick", false, "check one signature per run of events, not every one")
	// Every signature is the default now; the old flag still parses, and
	// prints nothing about it (a notice would land in --json output).
	cmd.Flags().BoolVar(&all, "all-signatures", false, "check every event's signature: the default, kept for old scripts")
	return cmd
}

// NewWipeCommand is the panic button.
func NewWipeCommand(app *App) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "wipe",
		Short: "PANIC: destroy the node's keys so its data can never be read again",
		Long: `Destroy the key file (overwritten, synced, removed) and then the database files.
Needs no passphrase and no network, and takes well under a second. Afterwards nothing
in the folder can be decrypted, not even with the right passphrase. Cannot be undone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return usagef("wipe destroys the node for good: pass --yes to confirm")
			}
			start := time.Now()
			err := node.Wipe(app.DataDir)
			fmt.Fprintf(app.Stdout, "Wiped %s in %s\n", app.DataDir, time.Since(start).Round(time.Microsecond))
			return err
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm")
	return cmd
}

// NewAuditCommand lists the audit trail.
func NewAuditCommand(app *App) *cobra.Command {
	var f store.AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: who read or changed which record, when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				var err error
				if err := auth.Check(operator(), auth.AuditRead); err != nil {
					return err
				}
				var entries []store.AuditEntry
				err = n.Store.View(cmd.Context(), func(tx store.ReadTx) error {
					entries, err = tx.Audit(cmd.Context(), f)
					return err
				})
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(entries))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tWHEN\tWHO\tACTION\tRECORD\tDETAIL")
				for _, e := range entries {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, time.UnixMilli(e.At).UTC().Format(time.DateTime), e.Actor, e.Action, e.Record, strings.ReplaceAll(e.Detail, "\t", " "))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only this actor (user id or cli:name)")
	cmd.Flags().StringVar(&f.Record, "record", "", "only this record, e.g. person/ID")
	cmd.Flags().Int64Var(&f.BeforeID, "before", 0, "entries before this id (paging)")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, "how many entries")
	return cmd
}
