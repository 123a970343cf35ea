package cli

import (
	"caravana/internal/node"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/cardcode"
	"caravana/internal/demo"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

// JourneyCommands are the journey's commands: route, checkin, missing,
// headcount, incident and hazard.
func JourneyCommands(app *App) []*cobra.Command {
	return []*cobra.Command{NewRouteCommand(app), NewCheckinCommand(app), NewMissingCommand(app),
		NewHeadcountCommand(app), NewIncidentCommand(app), NewHazardCommand(app)}
}

// explainJourney turns a validation error into one line per field.
func explainJourney(err error) error {
	var v registry.ValidationError
	if errors.As(err, &v) {
		lines := make([]string, len(v))
		for i, f := range v {
			lines[i] = "  " + f.Field + ": " + f.Message
		}
		return fmt.Errorf("nothing was changed:\n%s", strings.Join(lines, "\n"))
	}
	return err
}

// parseWhen reads a time given on the command line: RFC 3339, or
// "YYYY-MM-DD HH:MM" / "YYYY-MM-DD" in UTC. An empty string is the zero
// time (not given); no text given parses to it.
func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil && !t.IsZero() {
			return t, nil
		}
	}
	return time.Time{}, usagef("%s: want a time such as 2018-10-20T14:30:00-06:00, \"2018-10-20 20:30\" (UTC) or 2018-10-20", flag)
}

// NewRouteCommand groups the route commands.
func NewRouteCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "route", Short: "Show, import, export and draw the caravan's route"}
	cmd.AddCommand(newRouteShow(app), newRouteImport(app), newRouteExport(app), newRouteMap(app))
	return cmd
}

func newRouteShow(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "List the route's stages (--json prints them as a JSON array)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Journey.Route(cmd.Context(), operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(r.Stages))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "#\tID\tNAME\tCOUNTRY\tLAT\tLON\tKM")
				for i, s := range r.Stages {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.4f\t%.4f\t%s\n", i+1, s.ID, s.Name, s.Country, s.Lat, s.Lon, fmtNum(s.Km))
				}
				tw.Flush()
				src := "the default route"
				if !r.Default {
					src = fmt.Sprintf("set by %s at %s", r.SetBy, r.SetAt.Format("2006-01-02 15:04 UTC"))
				}
				fmt.Fprintf(app.Stdout, "%d stages, %s km (%s)\n", len(r.Stages), fmtNum(r.Length()), src)
				return nil
			})
		},
	}
}

func fmtNum(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

func newRouteImport(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Replace the route with the stages in a JSON or CSV file",
		Long: `Replace the route with the stages in FILE: JSON (an array of stages, or {"stages": [...]})
or CSV with a header row. Each stage has id (optional: made from the name), name, country
(two letters), lat, lon and km (road distance from the start, increasing). Every problem is
reported with its line and field, and a bad file changes nothing. 'caravana route export'
writes a file in the same format.`,
		Example: `  caravana route export > route.json   # edit, then
  caravana route import route.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0], journey.MaxRouteBytes)
			if err != nil {
				return err
			}
			// Check the file before unlocking anything: a bad one fails fast.
			if _, err := journey.ParseRoute(args[0], data); err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Journey.ImportRoute(cmd.Context(), operator(), args[0], data)
				if err != nil {
					return explainJourney(err)
				}
				unrouted, err := n.Journey.Unrouted(cmd.Context(), operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(map[string]any{"stages": nonNil(r.Stages), "unrouted": nonNil(unrouted)})
				}
				fmt.Fprintf(app.Stdout, "Route set: %d stages, %s km, from %s to %s\n", len(r.Stages), fmtNum(r.Length()),
					r.Stages[0].Name, r.Stages[len(r.Stages)-1].Name)
				if len(unrouted) > 0 {
					fmt.Fprintf(app.Stderr, "warning: check-ins at stages no longer on the route are kept but not counted: %s\n", strings.Join(unrouted, ", "))
				}
				return nil
			})
		},
	}
}

// readLimited reads a file no larger than limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; nothing was changed", path, limit)
	}
	return data, nil
}

func newRouteExport(app *App) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the route as JSON (default) or CSV, to stdout or --output",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = "json"
				if strings.EqualFold(filepath.Ext(out), ".csv") {
					format = "csv"
				}
			}
			if format != "json" && format != "csv" {
				return usagef("--format must be json or csv")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				r, err := n.Journey.Route(cmd.Context(), operator())
				if err != nil {
					return err
				}
				return writeOut(app, out, func(w io.Writer) error {
					if format == "csv" {
						return r.WriteCSV(w)
					}
					return r.WriteJSON(w)
				})
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "json or csv (default: from --output's extension, else json)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// writeOut writes to a file (atomically) or to stdout.
func writeOut(app *App, path string, fn func(io.Writer) error) error {
	if path == "" {
		return fn(app.Stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".caravana-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newRouteMap(app *App) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "map",
		Short: "Draw the route map (SVG): stages, the column, incidents and live hazards",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				svg, err := n.Journey.Map(cmd.Context(), operator(), journey.EnglishMap)
				if err != nil {
					return err
				}
				return writeOut(app, out, func(w io.Writer) error {
					_, err := io.WriteString(w, string(svg)+"\n")
					return err
				})
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// NewCheckinCommand records people as seen at a stage.
func NewCheckinCommand(app *App) *cobra.Command {
	var stage, at string
	cmd := &cobra.Command{
		Use:   "checkin --stage STAGE CODE...",
		Short: "Record people as seen at a checkpoint, by card code",
		Long: `Record each card code's holder as seen at STAGE (a stage id: see 'caravana route show').
Codes are checked first: a typo is caught by the check character before anything is looked
up, and then nothing at all is recorded. Someone already checked in at the stage is shown
again and not recorded twice. A valid code nobody holds on this node is reported (exit 1);
the other codes are recorded.`,
		Example: `  caravana checkin --stage ciudad-hidalgo 7KQ2M-XW4PJ 3H9TD-0QK2V`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := parseWhen("--at", at)
			if err != nil {
				return err
			}
			ins := make([]journey.CheckinInput, len(args))
			var bad []string
			for i, a := range args {
				if _, err := cardcode.Parse(a); err != nil {
					bad = append(bad, fmt.Sprintf("  %s: %s", a, codeProblem(err)))
				}
				ins[i] = journey.CheckinInput{PersonRef: journey.PersonRef{Code: a}, At: when}
			}
			if len(bad) > 0 {
				return fmt.Errorf("nothing was recorded; fix these codes:\n%s", strings.Join(bad, "\n"))
			}
			return app.withNode(cmd, func(n *node.Node) error {
				res, err := n.Journey.CheckInBatch(cmd.Context(), operator(), stage, ins)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					if err := app.printJSON(nonNil(res)); err != nil {
						return err
					}
				} else {
					printCheckins(app.Stdout, args, res)
				}
				missing := 0
				for _, r := range res {
					if r.Error != nil {
						missing++
					}
				}
				if missing > 0 {
					return fmt.Errorf("%d of %d codes are not registered on this node; the others were recorded", missing, len(res))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "stage id, e.g. ciudad-hidalgo (required)")
	cmd.Flags().StringVar(&at, "at", "", "when they were seen (default now)")
	cmd.MarkFlagRequired("stage")
	return cmd
}

func codeProblem(err error) string {
	switch {
	case errors.Is(err, cardcode.ErrCheck):
		return "the check character does not match: a typo"
	case errors.Is(err, cardcode.ErrLength):
		return "a card code has 10 letters and digits"
	default:
		return "not a card code (" + strings.TrimPrefix(err.Error(), "cardcode: ") + ")"
	}
}

func printCheckins(w io.Writer, args []string, res []journey.CheckinResult) {
	for i, r := range res {
		if r.Error != nil {
			fmt.Fprintf(w, "✗ %s  %s\n", args[i], r.Error.Message)
			continue
		}
		mark, note := "✓", ""
		if r.Repeat {
			mark, note = "=", "  already checked in at "+r.At.Format("2006-01-02 15:04 UTC")
		}
		if r.Rejoined {
			note += "  (back with the caravan)"
		}
		g := r.Glance
		fmt.Fprintf(w, "%s %s  %s%s\n", mark, cardcode.Format(g.Person.Code), describe(g.Person), note)
		here := map[string]bool{}
		for _, id := range r.SeenHere {
			here[id] = true
		}
		for _, h := range g.Households {
			fmt.Fprintf(w, "    %s (%s): %d of %d here\n", h.Label, h.Kind, countHere(h, here), len(h.Members))
			for _, m := range h.Members {
				if m.Person.ID == g.Person.ID {
					continue
				}
				state := "NOT YET"
				if here[m.Person.ID] {
					state = "here"
				}
				fmt.Fprintf(w, "      %-7s %-8s %s\n", state, m.Role, describe(m.Person))
			}
		}
	}
}

func countHere(h registry.GlanceHousehold, here map[string]bool) int {
	n := 0
	for _, m := range h.Members {
		if here[m.Person.ID] {
			n++
		}
	}
	return n
}

// describe is a one-line summary: name, sex, age, flags.
func describe(s registry.Summary) string {
	parts := []string{s.Name}
	var bits []string
	if s.Sex != "" {
		bits = append(bits, s.Sex)
	}
	if s.Age != nil {
		bits = append(bits, fmt.Sprint(*s.Age))
	} else {
		bits = append(bits, s.AgeBand)
	}
	parts = append(parts, "("+strings.Join(bits, ", ")+")")
	if len(s.Flags) > 0 {
		parts = append(parts, "["+strings.Join(s.Flags, ", ")+"]")
	}
	return strings.Join(parts, " ")
}

// NewMissingCommand shows the missing list and marks people found or gone.
func NewMissingCommand(app *App) *cobra.Command {
	var stage string
	var noNames bool
	cmd := &cobra.Command{
		Use:   "missing",
		Short: "Households with someone seen at the previous checkpoint but not at this one",
		Long: `List, for the latest checkpoint (or --stage), every household with a member who was seen
at the previous checkpoint but not at this one and was neither marked found nor as having
left the caravan. Unaccompanied and separated children come first, then missing children,
then households with children. Names are shown (and every name shown is audited) unless
--no-names.

Mark people with 'caravana missing found', 'missing left' and 'missing back'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				l, err := n.Journey.Missing(cmd.Context(), operator(), journey.MissingQuery{Stage: stage, Names: !noNames})
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					l.Households = nonNil(l.Households)
					return app.printJSON(l)
				}
				printMissing(app.Stdout, l)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "checkpoint stage id (default: the latest checkpoint)")
	cmd.Flags().BoolVar(&noNames, "no-names", false, "show ids, ages and flags only")
	cmd.AddCommand(newMissingFound(app), newMissingLeft(app), newMissingBack(app))
	return cmd
}

func printMissing(w io.Writer, l journey.MissingList) {
	if l.Previous == nil {
		fmt.Fprintf(w, "%s is the first checkpoint: nobody can be missing since an earlier one.\n", l.Stage.Name)
		return
	}
	fmt.Fprintf(w, "Missing at %s since %s: %d people (%d children) in %d households\n",
		l.Stage.Name, l.Previous.Name, l.MissingPeople, l.MissingChildren, len(l.Households))
	fmt.Fprintf(w, "Seen at %s: %d; at %s: %d; left the caravan since: %d\n",
		l.Previous.Name, l.SeenPrevious, l.Stage.Name, l.SeenHere, l.LeftSince)
	for _, h := range l.Households {
		label := h.Label
		if label == "" {
			label = "(no household)"
			if h.ID != "" {
				label = "household " + h.ID
			}
		}
		fmt.Fprintf(w, "\n[%s] %s (%s) — %d of %d missing\n", h.Priority, label, h.Kind, h.Missing, len(h.Members))
		for _, m := range h.Members {
			state := "here"
			switch {
			case m.Missing:
				state = "MISSING"
			case m.Left != "":
				state = "left: " + m.Left
			case !m.SeenHere:
				state = "not seen"
			}
			who := m.Name
			if who == "" {
				who = m.Person
			}
			flags := ""
			if len(m.Flags) > 0 {
				flags = " [" + strings.Join(m.Flags, ", ") + "]"
			}
			fmt.Fprintf(w, "  %-16s %-12s %-8s %s %s%s\n", state, cardcode.Format(m.Code), m.Role, who, m.AgeBand, flags)
		}
	}
}

func newMissingFound(app *App) *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use:   "found CODE",
		Short: "Mark someone found at a checkpoint (default: the latest): they leave its missing list",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := refArg(args[0])
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				c, err := n.Journey.MarkFound(cmd.Context(), operator(), ref, stage)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(c)
				}
				if c.Repeat {
					fmt.Fprintf(app.Stdout, "%s was already seen at %s (%s); nothing changed\n", args[0], c.Stage, c.Via)
					return nil
				}
				fmt.Fprintf(app.Stdout, "Marked %s found at %s\n", args[0], c.Stage)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "stage id (default: the latest checkpoint)")
	return cmd
}

// refArg reads a person argument: a card code (checked here, before any
// look-up) or an id.
func refArg(a string) (journey.PersonRef, error) {
	if cardcode.LooksLike(a) {
		if _, err := cardcode.Parse(a); err != nil {
			return journey.PersonRef{}, fmt.Errorf("%s: %s; nothing was changed", a, codeProblem(err))
		}
		return journey.PersonRef{Code: a}, nil
	}
	return journey.PersonRef{Person: a}, nil
}

func newMissingLeft(app *App) *cobra.Command {
	var reason, stage, at string
	cmd := &cobra.Command{
		Use:   "left CODE --reason REASON",
		Short: "Mark someone as having left the caravan: off every missing list from now on",
		Long: "Mark someone as having left the caravan, with a reason: " + strings.Join(journey.LeftReasons, ", ") + `.
'caravana missing back CODE' undoes it, and so does checking them in again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := parseWhen("--at", at)
			if err != nil {
				return err
			}
			ref, err := refArg(args[0])
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				st, err := n.Journey.MarkLeft(cmd.Context(), operator(), ref, reason, stage, when)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(st)
				}
				verb := "Marked"
				if st.Unchanged {
					verb = "Already marked:"
				}
				fmt.Fprintf(app.Stdout, "%s %s as having left the caravan (%s)\n", verb, args[0], st.Reason)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why: "+strings.Join(journey.LeftReasons, ", ")+" (required)")
	cmd.Flags().StringVar(&stage, "stage", "", "where (a stage id)")
	cmd.Flags().StringVar(&at, "at", "", "when (default now)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func newMissingBack(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "back CODE",
		Short: "Mark someone who had left as back with the caravan",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := refArg(args[0])
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				st, err := n.Journey.MarkRejoined(cmd.Context(), operator(), ref)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(st)
				}
				if st.Unchanged {
					fmt.Fprintf(app.Stdout, "%s was not marked as having left; nothing changed\n", args[0])
					return nil
				}
				fmt.Fprintf(app.Stdout, "Marked %s back with the caravan\n", args[0])
				return nil
			})
		},
	}
}

// printTravelled reports the demo caravan's journey, and where to look at
// it: on the web pages at url for a throwaway node (its passphrase is
// random and unknown, so no command can open it), else with commands on
// the node in --data.
func printTravelled(app *App, t demo.Travelled, url string) {
	if len(t.Checkpoints) == 0 {
		return
	}
	fmt.Fprintf(app.Stdout, "Journey: %d check-ins at %s; %d not seen at the last checkpoint, %d of them since found; %d marked as having left the caravan on the way; %d incidents, %d hazards\n",
		t.Checkins, strings.Join(t.Checkpoints, ", "), t.NotSeenAtLast, t.Found, t.Left, t.Incidents, t.Hazards)
	if url != "" {
		fmt.Fprintf(app.Stdout, "Look at: %s (dashboard and map), %smissing, %sheadcounts, %stimeline\n", url, url, url, url)
		return
	}
	data := "--data " + shellWord(app.DataDir)
	fmt.Fprintf(app.Stdout, "Try: caravana missing %s, caravana headcount %s, caravana route map %s -o map.svg\n", data, data, data)
}
