package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"caravana/internal/cardcode"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// NewHouseholdCommand groups the household commands.
func NewHouseholdCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "household", Short: "Create households and manage their members"}
	cmd.AddCommand(newHouseholdAdd(app), newHouseholdShow(app), newHouseholdList(app), newHouseholdAddMember(app), newHouseholdRemoveMember(app))
	return cmd
}

func newHouseholdAdd(app *App) *cobra.Command {
	var in registry.HouseholdInput
	var members []string
	cmd := &cobra.Command{
		Use:     "add",
		Short:   "Create a household; members as ID|CODE:ROLE",
		Example: `  caravana household add --label "Familia López Reyes" --kind family --member K7M4Q-X2PR9:head --member 3F8TV-99QAB:child`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				for _, m := range members {
					ref, role, ok := strings.Cut(m, ":")
					if !ok {
						return usagef("--member %q: write ID|CODE:ROLE, role one of %s", m, strings.Join(registry.HouseholdRoles, ", "))
					}
					p, err := resolve(cmd.Context(), n, ref)
					if err != nil {
						return fmt.Errorf("--member %q: %w", m, err)
					}
					in.Members = append(in.Members, registry.Member{Person: p.ID, Role: role})
				}
				h, err := n.Registry.CreateHousehold(cmd.Context(), operator(), in)
				return app.showHousehold(h, explainAs(err, memberFlags(members)))
			})
		},
	}
	cmd.Flags().StringVar(&in.Label, "label", "", "a name for the household, e.g. \"Familia López\"")
	cmd.Flags().StringVar(&in.Kind, "kind", "family", "one of "+strings.Join(registry.HouseholdKinds, ", "))
	cmd.Flags().StringArrayVar(&members, "member", nil, "a member as ID|CODE:ROLE (repeatable)")
	return cmd
}

// memberFieldRE matches the registry's name for a member's field.
var memberFieldRE = regexp.MustCompile(`^members\[(\d+)\](?:\.(\w+))?$`)

// memberFlags names a household's fields by the flags that set them: a
// member's field by its --member value, "--member #2 (K7M4Q-X2PR9:kid): role".
func memberFlags(members []string) func(string) string {
	return func(field string) string {
		m := memberFieldRE.FindStringSubmatch(field)
		if m == nil {
			return "--" + field
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i >= len(members) {
			return field
		}
		name := fmt.Sprintf("--member #%d (%s)", i+1, members[i])
		if m[2] != "" {
			name += ": " + m[2]
		}
		return name
	}
}

// showHousehold reports err or prints h, as JSON with --json. Validation
// errors should be explained (explainAs) by the caller, which knows the
// flags; any left are explained with the registry's field names.
func (app *App) showHousehold(h registry.Household, err error) error {
	if err != nil {
		return explainAs(err, func(f string) string { return f })
	}
	if app.JSON {
		return app.printJSON(h)
	}
	printHousehold(app, h)
	return nil
}

func printHousehold(app *App, h registry.Household) {
	fmt.Fprintf(app.Stdout, "Household %s  %s (%s), members: %d\n", h.ID, h.Label, h.Kind, len(h.Members))
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tCODE\tNAME\tAGE\tALSO IN")
	for _, m := range h.Members {
		age := ""
		if m.Person.Age != nil {
			age = fmt.Sprint(*m.Person.Age)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Role, cardcode.Format(m.Person.Code), m.Person.FullName(), age, strings.Join(m.Elsewhere, ","))
	}
	tw.Flush()
}

func newHouseholdShow(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a household and its members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				return app.showHousehold(n.Registry.GetHousehold(cmd.Context(), operator(), args[0]))
			})
		},
	}
}

func newHouseholdList(app *App) *cobra.Command {
	var offset, limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List households, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if offset < 0 || limit < 0 {
				return usagef("--offset and --limit cannot be negative")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				hs, total, err := n.Registry.ListHouseholds(cmd.Context(), operator(), offset, limit)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(hs))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tLABEL\tKIND\tMEMBERS")
				for _, h := range hs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", h.ID, h.Label, h.Kind, h.Members)
				}
				tw.Flush()
				fmt.Fprintf(app.Stdout, "%d of %d households\n", len(hs), total)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	return cmd
}

func newHouseholdAddMember(app *App) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "add-member HOUSEHOLD ID|CODE",
		Short: "Put a person in a household",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[1])
				if err != nil {
					return err
				}
				h, err := n.Registry.AddMember(cmd.Context(), operator(), args[0], registry.Member{Person: p.ID, Role: role})
				return app.showHousehold(h, explainAs(err, func(field string) string {
					// The registry names the one member members[0].
					switch strings.TrimPrefix(field, "members[0].") {
					case "role":
						return "--role"
					case "person":
						return "person " + args[1]
					}
					return field
				}))
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "other", "one of "+strings.Join(registry.HouseholdRoles, ", "))
	return cmd
}

func newHouseholdRemoveMember(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-member HOUSEHOLD ID|CODE",
		Short: "Take a person out of a household",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[1])
				if err != nil {
					return err
				}
				return app.showHousehold(n.Registry.RemoveMember(cmd.Context(), operator(), args[0], p.ID))
			})
		},
	}
}
