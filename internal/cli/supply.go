package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"caravana/internal/cardcode"
	"caravana/internal/node"
	"caravana/internal/supply"
)

// NewSupplyCommand groups the supply commands: the item catalogue,
// donations in, stock, distributions and a household's history.
func NewSupplyCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "supply",
		Short: "Items, donations, stock and fair distribution per household",
		Long: `Share out what the caravan is given. Items carry an entitlement rule (a quantity per
household or per person; once, once per stage or once per day); donations are received at a
stage of the route; stock per item and stage is received minus distributed; a distribution
goes to the household of the card holder, and a household that already received an item in
its period is refused. Two nodes that each gave it while offline from each other are both
kept and listed by 'caravana conflicts' for review.`,
	}
	item := &cobra.Command{Use: "item", Short: "Define the catalogue's items"}
	item.AddCommand(newSupplyItemAdd(app), newSupplyItemDefaults(app))
	cmd.AddCommand(newSupplyItems(app), item, newSupplyReceive(app), newSupplyGive(app), newSupplyStock(app), newSupplyHistory(app))
	return cmd
}

func newSupplyItems(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "items",
		Short: "List the item catalogue with each entitlement rule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				items, err := n.Supply.Items(cmd.Context(), operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(items))
				}
				if len(items) == 0 {
					fmt.Fprintln(app.Stdout, "no items yet: 'caravana supply item defaults' loads a starting catalogue")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tRULE")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", it.ID, it.NameES, it.Rule())
				}
				return tw.Flush()
			})
		},
	}
}

func newSupplyItemAdd(app *App) *cobra.Command {
	var it supply.Item
	var qty string
	cmd := &cobra.Command{
		Use:   "add ID --name-es NAME --unit UNIT --per household|person --qty N --period once|per_stage|per_day",
		Short: "Add an item to the catalogue, or change its rule (coordinators)",
		Example: `  caravana supply item add family-tent --name-es "Carpa familiar" --name-en "Family tent" \
    --unit tent --per household --qty 1 --period once`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := supply.ParseQty(qty)
			if err != nil {
				return usagef("--qty: %v", err)
			}
			it.ID, it.Qty = args[0], n
			return app.withNode(cmd, func(nd *node.Node) error {
				out, err := nd.Supply.DefineItem(cmd.Context(), operator(), it)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(out)
				}
				fmt.Fprintf(app.Stdout, "%s: %s\n", out.ID, out.Rule())
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&it.NameES, "name-es", "", "name in Spanish (required)")
	f.StringVar(&it.NameEN, "name-en", "", "name in English")
	f.StringVar(&it.Unit, "unit", "", "what the quantity counts, e.g. L, kit, tent (required)")
	f.StringVar(&it.Per, "per", "", "household or person (required)")
	f.StringVar(&qty, "qty", "", "quantity per household or person (required)")
	f.StringVar(&it.Period, "period", "", "once, per_stage or per_day (required)")
	for _, name := range []string{"name-es", "unit", "per", "qty", "period"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newSupplyItemDefaults(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "defaults",
		Short: "Add the starting catalogue's items not defined yet (Sphere minimums)",
		Long: `Add the starting catalogue: water 15 L per person per day (the Sphere minimum), a food
ration per person per day, a hygiene kit and a family tent per household once, a blanket per
person once. Items already defined keep their rule.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				items, err := n.Supply.DefineDefaults(cmd.Context(), operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(items))
				}
				fmt.Fprintf(app.Stdout, "%d items in the catalogue\n", len(items))
				return nil
			})
		},
	}
}

func newSupplyReceive(app *App) *cobra.Command {
	var in supply.ReceiptInput
	var qty string
	cmd := &cobra.Command{
		Use:     "receive --item ITEM --qty N --stage STAGE [--donor TEXT]",
		Short:   "Record a donation received at a stage",
		Example: `  caravana supply receive --item water --qty 2,000 --stage tapachula --donor "Cruz Roja"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := supply.ParseQty(qty)
			if err != nil {
				return usagef("--qty: %v", err)
			}
			in.Qty = n
			return app.withNode(cmd, func(nd *node.Node) error {
				rc, err := nd.Supply.Receive(cmd.Context(), operator(), in)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(rc)
				}
				fmt.Fprintf(app.Stdout, "received %d %s at %s; stock there now %d\n", rc.Qty, rc.Item, rc.Stage, rc.Balance)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Item, "item", "", "item id (see 'caravana supply items'; required)")
	f.StringVar(&qty, "qty", "", "how many, in the item's unit (required)")
	f.StringVar(&in.Stage, "stage", "", "stage id where it was received (required)")
	f.StringVar(&in.Donor, "donor", "", "who gave it: an organisation, never a migrant's name")
	for _, name := range []string{"item", "qty", "stage"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newSupplyGive(app *App) *cobra.Command {
	var in supply.GiveInput
	cmd := &cobra.Command{
		Use:   "give --item ITEM [--stage STAGE] CODE...",
		Short: "Give an item to the household of each card holder",
		Long: `Give ITEM to the household of each card code's holder, at STAGE (default: the latest
checkpoint). A per-person item is given for the whole household (quantity times its size);
someone with no household counts as a household of one. Codes are checked first, and the
whole command is refused, recording nothing, if any code is wrong or unknown here or any
household already received the item in its period (once, this stage or today).`,
		Example: `  caravana supply give --item family-tent --stage tapachula 7KQ2M-XW4PJ`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var bad []string
			for _, a := range args {
				if _, err := cardcode.Parse(a); err != nil {
					bad = append(bad, fmt.Sprintf("  %s: %s", a, codeProblem(err)))
				}
				in.People = append(in.People, supply.PersonRef{Code: a})
			}
			if len(bad) > 0 {
				return fmt.Errorf("nothing was recorded; fix these codes:\n%s", strings.Join(bad, "\n"))
			}
			return app.withNode(cmd, func(n *node.Node) error {
				res, err := n.Supply.Give(cmd.Context(), operator(), in)
				if err != nil {
					return explainGive(err, args)
				}
				if app.JSON {
					return app.printJSON(nonNil(res))
				}
				for i, r := range res {
					who := args[i]
					if r.Glance != nil {
						who = describe(r.Glance.Person)
					}
					hh := "no household (a household of one)"
					if r.Household != "" {
						hh = fmt.Sprintf("household %s (%d people)", r.Household, r.Size)
					}
					fmt.Fprintf(app.Stdout, "%d %s to %s, collected by %s\n", r.Qty, r.Item, hh, who)
				}
				if len(res) > 0 {
					fmt.Fprintf(app.Stdout, "stock of %s at %s now %d\n", res[0].Item, res[0].Stage, res[0].Balance)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Item, "item", "", "item id (required)")
	f.StringVar(&in.Stage, "stage", "", "stage id (default: the latest checkpoint)")
	f.BoolVar(&in.Override, "override", false, "give even where the household already received it (flagged for review)")
	cmd.MarkFlagRequired("item")
	return cmd
}

// explainGive says which code each refusal is about.
func explainGive(err error, codes []string) error {
	err = explainJourney(err)
	msg := err.Error()
	for i, c := range codes {
		msg = strings.ReplaceAll(msg, fmt.Sprintf("people[%d]", i), fmt.Sprintf("people[%d] (%s)", i, c))
	}
	if msg == err.Error() {
		return err
	}
	return fmt.Errorf("%s", msg)
}

func newSupplyStock(app *App) *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use:   "stock [--stage STAGE]",
		Short: "Show stock per item and stage: received, distributed, balance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				rows, err := n.Supply.Stock(cmd.Context(), operator(), stage)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(nonNil(rows))
				}
				if len(rows) == 0 {
					fmt.Fprintln(app.Stdout, "no stock recorded")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "STAGE\tITEM\tRECEIVED\tDISTRIBUTED\tBALANCE\t")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", r.Stage, r.Item, r.Received, r.Distributed, r.Balance)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage")
	return cmd
}

func newSupplyHistory(app *App) *cobra.Command {
	var household string
	cmd := &cobra.Command{
		Use:   "history --household ID",
		Short: "List what a household received (person:ID for someone with no household)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				ds, err := n.Supply.History(cmd.Context(), operator(), household)
				if err != nil {
					return explainJourney(err)
				}
				if app.JSON {
					return app.printJSON(nonNil(ds))
				}
				if len(ds) == 0 {
					fmt.Fprintln(app.Stdout, "nothing received")
					return nil
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "WHEN\tITEM\tQTY\tSTAGE\tPERSON\tNODE")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", d.At.Format("2006-01-02 15:04"), d.Item, d.Qty, d.Stage, d.Person, d.Node)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&household, "household", "", "household id (required)")
	cmd.MarkFlagRequired("household")
	return cmd
}
