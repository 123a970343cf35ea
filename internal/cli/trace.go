package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"caravana/internal/linkage"
	"caravana/internal/node"
	"caravana/internal/tracing"
)

// TracingCommands are the family-tracing commands: trace and dedup.
func TracingCommands(app *App) []*cobra.Command {
	return []*cobra.Command{NewTraceCommand(app), NewDedupCommand(app)}
}

// NewTraceCommand groups the missing-person report commands.
func NewTraceCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Report missing people, see their likely matches, confirm or reject them",
		Long: `Missing-person reports. A report is matched at once against everyone registered who
consented to tracing, and against the other open reports; it is matched again whenever it
is shown, so people registered (or synced) later are found too. Candidates come ranked by
probability, with what agreed and what did not. Confirming a person closes the report as
reunited or located; confirming another report links the two (same missing person).`,
	}
	cmd.AddCommand(newTraceReport(app), newTraceMatches(app), newTraceConfirm(app), newTraceReject(app),
		newTraceWithdraw(app), newTraceList(app), newTraceShow(app))
	return cmd
}

func newTraceReport(app *App) *cobra.Command {
	var in tracing.ReportInput
	var age int
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Record a missing-person report and show its best matches",
		Example: `  caravana trace report --given-names Chepe --surnames "Hernández" --age 8 --sex M \
    --origin-town "San Pedro Sula" --last-seen-place "Tecún Umán" --last-seen-date 2018-10-21 \
    --relation parent --reporter-name "Marta López"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("age") {
				in.Age = &age
			}
			return app.withNode(cmd, func(n *node.Node) error {
				r, cands, err := n.Tracing.Report(cmd.Context(), operator(), in)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(map[string]any{"report": r, "candidates": nonNil(cands)})
				}
				fmt.Fprintf(app.Stdout, "report %s recorded (%s)\n", r.ID, r.Name())
				printCandidates(app.Stdout, cands)
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&in.GivenNames, "given-names", "", "given names or nickname of the missing person")
	fs.StringVar(&in.Surnames, "surnames", "", "one or both surnames, in any order")
	fs.StringVar(&in.Sex, "sex", "", "F, M or X")
	fs.IntVar(&age, "age", 0, "approximate age in years")
	fs.StringVar(&in.BirthDate, "birth-date", "", "birth date, YYYY-MM-DD, if known")
	fs.StringVar(&in.Nationality, "nationality", "", "two-letter country code, e.g. HN")
	fs.StringVar(&in.OriginTown, "origin-town", "", "town of origin")
	fs.StringVar(&in.LastSeenPlace, "last-seen-place", "", "where the reporter last saw them")
	fs.StringVar(&in.LastSeenDate, "last-seen-date", "", "when, YYYY-MM-DD")
	fs.StringVar(&in.Relation, "relation", "", "the reporter is the missing person's: "+strings.Join(tracing.Relations, ", "))
	fs.StringVar(&in.ReporterName, "reporter-name", "", "who reports")
	fs.StringVar(&in.ReporterContact, "reporter-contact", "", "how to reach the reporter")
	fs.StringVar(&in.ReporterCode, "reporter-code", "", "the reporter's card code, if registered")
	fs.StringVar(&in.Notes, "notes", "", "anything else that helps")
	return cmd
}

func newTraceMatches(app *App) *cobra.Command {
	var k int
	var min float64
	cmd := &cobra.Command{
		Use:   "matches REPORT",
		Short: "Rank the candidates for a report now (people and other reports)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				cands, err := n.Tracing.Matches(cmd.Context(), operator(), args[0], k, min)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(nonNil(cands))
				}
				printCandidates(app.Stdout, cands)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&k, "top", 10, "how many candidates, at most (1-50)")
	cmd.Flags().Float64Var(&min, "min", tracing.DefaultMin, "lowest probability shown")
	return cmd
}

func newTraceConfirm(app *App) *cobra.Command {
	var outcome string
	cmd := &cobra.Command{
		Use:   "confirm REPORT CANDIDATE",
		Short: "Confirm a candidate: person/<id> closes the report, report/<id> links the two reports",
		Example: `  caravana trace confirm 3f2a9c1d0b7e4a55 person/9c0e11aa42d1b7f3 --outcome reunited
  caravana trace confirm 3f2a9c1d0b7e4a55 report/77aa01be93c4d2e0`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.HasPrefix(args[1], "person/") || !strings.Contains(args[1], "/") {
				if outcome == "" {
					return usagef("--outcome: say reunited or located")
				}
			}
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Tracing.Confirm(cmd.Context(), operator(), args[0], args[1], outcome)
				return app.showReport(r, err)
			})
		},
	}
	cmd.Flags().StringVar(&outcome, "outcome", "", "for a person: reunited (together again) or located (found, not reunited)")
	return cmd
}

func newTraceReject(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "reject REPORT CANDIDATE",
		Short: "Reject a candidate (person/<id> or report/<id>): it is not offered again",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Tracing.Reject(cmd.Context(), operator(), args[0], args[1])
				return app.showReport(r, err)
			})
		},
	}
}

func newTraceWithdraw(app *App) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "withdraw REPORT",
		Short: "Close a report without a match",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Tracing.Withdraw(cmd.Context(), operator(), args[0], reason)
				return app.showReport(r, err)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "other", "why: "+strings.Join(tracing.WithdrawReasons, ", "))
	return cmd
}

func newTraceList(app *App) *cobra.Command {
	var status string
	var offset, limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List reports, newest first, with each open report's best match now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				list, total, err := n.Tracing.List(cmd.Context(), operator(), status, offset, limit)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(map[string]any{"total": total, "reports": nonNil(list)})
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tREPORTED (UTC)\tMISSING PERSON\tAGE\tBEST MATCH\tOUTCOME")
				for _, r := range list {
					best := "-"
					if r.Status == tracing.StatusOpen && r.Best > 0 {
						best = fmt.Sprintf("%.0f%%", 100*r.Best)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Reported.UTC().Format("2006-01-02 15:04"),
						r.Name(), ageText(r.Age), best, r.Outcome)
				}
				tw.Flush()
				fmt.Fprintf(app.Stdout, "%d of %d reports\n", len(list), total)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "open", "open, closed or all")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many (1-200)")
	return cmd
}

func newTraceShow(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show REPORT",
		Short: "Show one report",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Tracing.Get(cmd.Context(), operator(), args[0])
				return app.showReport(r, err)
			})
		},
	}
}

func ageText(a *int) string {
	if a == nil {
		return "-"
	}
	return fmt.Sprint(*a)
}

func (app *App) showReport(r tracing.Report, err error) error {
	if err != nil {
		return explainJourney(err)
	}
	if app.JSON {
		return app.printJSON(r)
	}
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("report", r.ID)
	row("status", r.Status)
	row("missing person", r.Name())
	if r.Age != nil {
		row("age", ageText(r.Age))
	}
	row("sex", r.Sex)
	row("birth date", r.BirthDate)
	row("nationality", r.Nationality)
	row("origin town", r.OriginTown)
	row("last seen", strings.TrimSpace(r.LastSeenPlace+" "+r.LastSeenDate))
	row("reported by", strings.TrimSpace(r.ReporterName+" "+r.ReporterContact))
	row("relation", r.Relation)
	row("notes", r.Notes)
	row("reported", r.Reported.UTC().Format("2006-01-02 15:04 UTC")+" by "+r.ReportedBy)
	row("outcome", r.Outcome)
	row("match", r.Match)
	if !r.Closed.IsZero() {
		row("closed", r.Closed.UTC().Format("2006-01-02 15:04 UTC")+" by "+r.ClosedBy)
	}
	if r.Conflict {
		row("conflict", "two nodes closed this report differently: review it")
	}
	row("linked reports", strings.Join(r.Linked, ", "))
	row("rejected", strings.Join(r.Rejected, ", "))
	return tw.Flush()
}

// printCandidates prints ranked candidates with what agreed.
func printCandidates(w io.Writer, cands []tracing.Candidate) {
	if len(cands) == 0 {
		fmt.Fprintln(w, "no candidates yet: the report is matched again as people are registered")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPROB\tCANDIDATE\tNAME\tAGE\tSEX\tWHY")
	for i, c := range cands {
		name, age, sex := "", "-", ""
		switch {
		case c.Person != nil:
			name, age, sex = c.Person.FullName(), ageText(c.Person.Age), c.Person.Sex
			if c.Person.Code != "" {
				name += " [" + c.Person.Code + "]"
			}
		case c.Report != nil:
			name, age, sex = "report: "+c.Report.Name(), ageText(c.Report.Age), c.Report.Sex
		}
		fmt.Fprintf(tw, "%d\t%.1f%%\t%s\t%s\t%s\t%s\t%s\n", i+1, 100*c.Probability, c.Ref(), name, age, sex, explainFields(c.Fields))
	}
	tw.Flush()
}

// explainFields renders agreements as "given_names nickname +3.2, ...".
func explainFields(fields []linkage.Agreement) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		if f.Level == "missing" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %+.1f", f.Field, f.Level, f.Weight))
	}
	return strings.Join(parts, ", ")
}

// NewDedupCommand lists likely duplicate registrations and merges them.
func NewDedupCommand(app *App) *cobra.Command {
	var min float64
	var limit int
	cmd := &cobra.Command{
		Use:   "dedup",
		Short: "List likely duplicate registrations (the same person registered twice)",
		Long: `List pairs of registrations that are probably the same person, registered twice at two
desks or on two nodes, best first, with the probability and what agreed. Only people who
consented to tracing are compared. 'caravana dedup merge KEEP DUPLICATE' merges one into the
other (both histories are kept); 'caravana dedup distinct A B' says they are different people.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				dups, err := n.Tracing.Duplicates(cmd.Context(), operator(), min, limit)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(nonNil(dups))
				}
				if len(dups) == 0 {
					fmt.Fprintln(app.Stdout, "no likely duplicates")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PROB\tA\tNAME A\tB\tNAME B\tWHY")
				for _, d := range dups {
					fmt.Fprintf(tw, "%.1f%%\t%s\t%s\t%s\t%s\t%s\n", 100*d.Probability, d.A.ID, d.A.FullName(), d.B.ID, d.B.FullName(), explainFields(d.Fields))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().Float64Var(&min, "min", 0.5, "lowest probability listed")
	cmd.Flags().IntVar(&limit, "limit", 50, "list at most this many pairs (1-500)")
	cmd.AddCommand(&cobra.Command{
		Use:   "merge KEEP DUPLICATE",
		Short: "Merge a duplicate registration into the one kept (both histories stay)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				if err := n.Tracing.Merge(cmd.Context(), operator(), args[0], args[1]); err != nil {
					return explainJourney(err)
				}
				fmt.Fprintf(app.Stdout, "%s merged into %s\n", args[1], args[0])
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "distinct A B",
		Short: "Record that two registrations are different people (not listed again)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				if err := n.Tracing.Distinct(cmd.Context(), operator(), args[0], args[1]); err != nil {
					return explainJourney(err)
				}
				fmt.Fprintf(app.Stdout, "%s and %s are different people\n", args[0], args[1])
				return nil
			})
		},
	})
	return cmd
}
