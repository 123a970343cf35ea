package cli

import (
	"caravana/internal/node"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/journey"
)

// NewHeadcountCommand prints the counts per stage.
func NewHeadcountCommand(app *App) *cobra.Command {
	var stage, from, to string
	cmd := &cobra.Command{
		Use:   "headcount",
		Short: "People seen per stage by age band and vulnerability; who has not been seen since",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := journey.HeadcountQuery{Stage: stage}
			var err error
			if q.From, err = parseWhen("--from", from); err != nil {
				return err
			}
			if q.To, err = parseWhen("--to", to); err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				hc, err := n.Journey.Headcounts(cmd.Context(), operator(), q)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					hc.LeftBy, hc.Stages = nonNil(hc.LeftBy), nonNil(hc.Stages)
					return app.printJSON(hc)
				}
				printHeadcount(app.Stdout, hc)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage")
	cmd.Flags().StringVar(&from, "from", "", "count check-ins from this time")
	cmd.Flags().StringVar(&to, "to", "", "count check-ins before this time")
	return cmd
}

func printHeadcount(w io.Writer, hc journey.Headcount) {
	fmt.Fprintf(w, "Registered %d; seen at least once %d; never seen %d; left the caravan %d", hc.Registered, hc.SeenAnywhere, hc.NeverSeen, hc.Left)
	var why []string
	for _, c := range hc.LeftBy {
		if c.Value > 0 {
			why = append(why, fmt.Sprintf("%s %d", c.Key, c.Value))
		}
	}
	if len(why) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(why, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := []string{"STAGE", "SEEN", "FOUND", "CHILDREN"}
	if len(hc.Stages) > 0 {
		for _, b := range hc.Stages[0].AgeBands {
			header = append(header, b.Key)
		}
		for _, f := range hc.Stages[0].Flags {
			header = append(header, abbrev(f.Key))
		}
	}
	header = append(header, "LAST SEEN HERE")
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, s := range hc.Stages {
		if s.Seen == 0 && s.NotSeenSince == 0 {
			continue
		}
		row := []string{s.Stage.ID, fmt.Sprint(s.Seen), fmt.Sprint(s.Found), fmt.Sprint(s.Children)}
		for _, b := range s.AgeBands {
			row = append(row, fmt.Sprint(b.Value))
		}
		for _, f := range s.Flags {
			row = append(row, fmt.Sprint(f.Value))
		}
		row = append(row, fmt.Sprint(s.NotSeenSince))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

func abbrev(flag string) string {
	return map[string]string{"unaccompanied_child": "UAC", "separated_child": "SEP", "pregnant": "PREG",
		"disability": "DISAB", "elderly": "ELDER", "medical": "MED"}[flag]
}

// NewIncidentCommand records and lists incidents.
func NewIncidentCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "incident", Short: "Record and list incidents (accidents, violence, detentions, ...)"}
	cmd.AddCommand(newIncidentAdd(app), newIncidentList(app))
	return cmd
}

func newIncidentAdd(app *App) *cobra.Command {
	var in journey.IncidentInput
	var at string
	var people []string
	var lat, lon float64
	cmd := &cobra.Command{
		Use:   "add --kind KIND --severity SEVERITY (--stage STAGE | --lat LAT --lon LON)",
		Short: "Record an incident: " + strings.Join(journey.IncidentKinds, ", "),
		Example: `  caravana incident add --kind tear_gas --severity critical --stage tecun-uman --count 600
  caravana incident add --kind medical --severity severe --lat 14.72 --lon -89.95 --person 7KQ2M-XW4PJ`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if in.At, err = parseWhen("--at", at); err != nil {
				return err
			}
			if cmd.Flags().Changed("lat") {
				in.Lat = &lat
			}
			if cmd.Flags().Changed("lon") {
				in.Lon = &lon
			}
			for _, a := range people {
				ref, err := refArg(a)
				if err != nil {
					return err
				}
				in.People = append(in.People, ref)
			}
			return app.withNode(cmd, func(n *node.Node) error {
				inc, err := n.Journey.RecordIncident(cmd.Context(), operator(), in)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(inc)
				}
				fmt.Fprintf(app.Stdout, "Recorded incident %s: %s (%s), %d people\n", inc.ID, inc.Kind, inc.Severity, inc.Count)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Kind, "kind", "", strings.Join(journey.IncidentKinds, ", "))
	f.StringVar(&in.Severity, "severity", "", strings.Join(journey.Severities, ", "))
	f.StringVar(&in.Stage, "stage", "", "where: a stage id")
	f.Float64Var(&lat, "lat", 0, "where: latitude (with --lon)")
	f.Float64Var(&lon, "lon", 0, "where: longitude (with --lat)")
	f.StringVar(&at, "at", "", "when (default now)")
	f.StringSliceVar(&people, "person", nil, "card code of someone involved (repeatable)")
	f.IntVar(&in.Count, "count", 0, "how many people were affected, registered or not")
	return cmd
}

func newIncidentList(app *App) *cobra.Command {
	var f journey.IncidentFilter
	var since string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if f.Since, err = parseWhen("--since", since); err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				incs, err := n.Journey.Incidents(cmd.Context(), operator(), f)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(incs))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "WHEN (UTC)\tKIND\tSEVERITY\tWHERE\tPEOPLE\tID")
				for _, i := range incs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", i.At.Format("2006-01-02 15:04"), i.Kind, i.Severity, where(i.Place), i.Count, i.ID)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&f.Kind, "kind", "", "only this kind")
	cmd.Flags().StringVar(&since, "since", "", "only since this time")
	return cmd
}

func where(p journey.Place) string {
	if p.Stage != "" {
		return p.Stage
	}
	if p.Lat != nil && p.Lon != nil {
		return fmt.Sprintf("%.4f,%.4f", *p.Lat, *p.Lon)
	}
	return "?"
}

// NewHazardCommand records, lists and clears hazards.
func NewHazardCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "hazard", Short: "Record, list and clear hazards on the route (police lines, traps, ...)"}
	cmd.AddCommand(newHazardAdd(app), newHazardList(app), newHazardClear(app))
	return cmd
}

func newHazardAdd(app *App) *cobra.Command {
	var in journey.HazardInput
	var from, until string
	var dur time.Duration
	var lat, lon float64
	cmd := &cobra.Command{
		Use:   "add --kind KIND (--stage STAGE | --lat LAT --lon LON) (--for DURATION | --until TIME)",
		Short: "Record a hazard with an expiry: " + strings.Join(journey.HazardKinds, ", "),
		Example: `  caravana hazard add --kind trap --stage ciudad-hidalgo --for 24h
  caravana hazard add --kind police_line --lat 14.80 --lon -92.21 --until "2018-10-23 12:00"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if in.From, err = parseWhen("--from", from); err != nil {
				return err
			}
			if in.Until, err = parseWhen("--until", until); err != nil {
				return err
			}
			switch {
			case dur != 0 && !in.Until.IsZero():
				return usagef("give --for or --until, not both")
			case dur < 0:
				return usagef("--for must be positive")
			case dur > 0:
				start := in.From
				if start.IsZero() {
					start = time.Now()
				}
				in.Until = start.Add(dur)
			}
			if cmd.Flags().Changed("lat") {
				in.Lat = &lat
			}
			if cmd.Flags().Changed("lon") {
				in.Lon = &lon
			}
			return app.withNode(cmd, func(n *node.Node) error {
				h, err := n.Journey.RecordHazard(cmd.Context(), operator(), in)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(h)
				}
				fmt.Fprintf(app.Stdout, "Recorded hazard %s: %s at %s until %s\n", h.ID, h.Kind, where(h.Place), h.Until.Format("2006-01-02 15:04 UTC"))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Kind, "kind", "", strings.Join(journey.HazardKinds, ", "))
	f.StringVar(&in.Stage, "stage", "", "where: a stage id")
	f.Float64Var(&lat, "lat", 0, "where: latitude (with --lon)")
	f.Float64Var(&lon, "lon", 0, "where: longitude (with --lat)")
	f.StringVar(&from, "from", "", "from when (default now)")
	f.StringVar(&until, "until", "", "until when")
	f.DurationVar(&dur, "for", 0, "how long, e.g. 6h")
	return cmd
}

func newHazardList(app *App) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List live hazards (--all: expired and cleared ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				hs, err := n.Journey.Hazards(cmd.Context(), operator(), !all)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(hs))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KIND\tWHERE\tFROM (UTC)\tUNTIL (UTC)\tSTATE\tID")
				for _, h := range hs {
					state := "live"
					switch {
					case !h.Cleared.IsZero():
						state = "cleared"
					case !h.Live && time.Now().Before(h.From):
						state = "upcoming"
					case !h.Live:
						state = "expired"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Kind, where(h.Place), h.From.Format("2006-01-02 15:04"), h.Until.Format("2006-01-02 15:04"), state, h.ID)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include expired and cleared hazards")
	return cmd
}

func newHazardClear(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "clear ID",
		Short: "End a hazard before its expiry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				h, err := n.Journey.ClearHazard(cmd.Context(), operator(), args[0])
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(h)
				}
				fmt.Fprintf(app.Stdout, "Cleared hazard %s (%s at %s)\n", h.ID, h.Kind, where(h.Place))
				return nil
			})
		},
	}
}
