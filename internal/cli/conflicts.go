package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"caravana/internal/node"
	"caravana/internal/replication"
)

// NewConflictsCommand lists what concurrency broke, and settles it.
func NewConflictsCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conflicts",
		Short: "List what two nodes did concurrently that needs a coordinator (both sides kept)",
		Long: `List the conflicts sync brought together, with every side kept until a coordinator
resolves them: a person field two nodes changed without seeing each other's change, one
person registered on two nodes, a missing-person report closed differently on two nodes,
a username added on two nodes, and an item given twice to one household. Each line says how
to resolve it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				cs, err := replication.Conflicts(cmd.Context(), n, operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(cs))
				}
				if len(cs) == 0 {
					fmt.Fprintln(app.Stdout, "no conflicts")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KIND\tSUBJECT\tSIDES\tRESOLVE")
				for _, c := range cs {
					subject := c.Subject
					if c.Field != "" {
						subject += " " + c.Field
					}
					var sides []string
					for _, s := range c.Sides {
						side := s.Value
						if s.Ref != "" {
							side = s.Ref + " " + side
						}
						if s.Node != "" {
							side += " (node " + s.Node + ")"
						}
						sides = append(sides, strings.TrimSpace(side))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Kind, subject, strings.Join(sides, " | "), c.Resolve)
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "resolve PERSON FIELD VALUE",
		Short: "Choose the value of a person field two nodes changed concurrently",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := n.Registry.ResolveField(cmd.Context(), operator(), args[0], args[1], args[2])
				if err != nil {
					return explainAs(err, func(field string) string {
						if field == "field" {
							return "FIELD " + args[1]
						}
						return "VALUE (" + field + ")"
					})
				}
				fmt.Fprintf(app.Stdout, "%s of %s is now %q on every node after the next sync\n", args[1], p.ID, args[2])
				return nil
			})
		},
	}, newConflictReview(app))
	return cmd
}

// newConflictReview reviews a report closed differently on two nodes, or
// a double distribution (distribution/KEY, with --outcome and --note).
func newConflictReview(app *App) *cobra.Command {
	var outcome, note string
	cmd := &cobra.Command{
		Use:   "review REPORT | distribution/KEY",
		Short: "Mark a report closed differently on two nodes, or an item given twice, as reviewed",
		Long: `Mark a conflict as reviewed. For a report closed differently on two nodes, the earliest
decision stands. For an item given twice to one household (distribution/KEY, as listed by
'caravana conflicts'), say what was done: --outcome accepted (the family keeps both) or
--outcome recovered (one was given back), and a --note without names.`,
		Example: `  caravana conflicts review 3f9c2a7d1e0b4c55
  caravana conflicts review distribution/5b453c72648a77fd+family-tent+once --outcome recovered --note "returned at the store"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key, ok := strings.CutPrefix(args[0], "distribution/"); ok {
				if outcome == "" {
					return usagef("--outcome is required for a distribution: accepted or recovered")
				}
				return app.withNode(cmd, func(n *node.Node) error {
					if err := n.Supply.Review(cmd.Context(), operator(), key, outcome, note); err != nil {
						return explainJourney(err)
					}
					fmt.Fprintf(app.Stdout, "distribution %s reviewed: %s\n", key, outcome)
					return nil
				})
			}
			if outcome != "" || note != "" {
				return usagef("--outcome and --note are for distribution conflicts only")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				if err := n.Tracing.Review(cmd.Context(), operator(), args[0]); err != nil {
					return explainJourney(err)
				}
				fmt.Fprintf(app.Stdout, "report %s reviewed\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&outcome, "outcome", "", "for a distribution: accepted (the family keeps both) or recovered (one was given back)")
	cmd.Flags().StringVar(&note, "note", "", "for a distribution: what was done (no names)")
	return cmd
}
