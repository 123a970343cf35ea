package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// NewPersonCommand groups the person commands.
func NewPersonCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "person", Short: "Register, find, show and update people"}
	cmd.AddCommand(newPersonAdd(app), newPersonShow(app), newPersonList(app), newPersonFind(app), newPersonUpdate(app), newPersonCard(app))
	return cmd
}

// personFlags binds the person fields to flags, shared by add and update.
type personFlags struct {
	in             registry.PersonInput
	consent        bool
	tracing, share bool
}

func (pf *personFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&pf.in.GivenNames, "given-names", "", "given names, e.g. \"José Luis\"")
	fs.StringVar(&pf.in.Surname1, "surname1", "", "first (paternal) surname")
	fs.StringVar(&pf.in.Surname2, "surname2", "", "second (maternal) surname")
	fs.StringVar(&pf.in.Sex, "sex", "", "F, M or X")
	fs.StringVar(&pf.in.BirthDate, "birth-date", "", "birth date, YYYY-MM-DD")
	fs.StringVar(&pf.in.Nationality, "nationality", "", "two-letter country code, e.g. HN")
	fs.StringVar(&pf.in.OriginTown, "origin-town", "", "town of origin")
	fs.StringVar(&pf.in.Phone, "phone", "", "phone number")
	fs.StringVar(&pf.in.Notes, "notes", "", "notes")
	fs.StringSliceVar(&pf.in.Flags, "flag", nil, "vulnerability flag (repeatable): "+strings.Join(auth.Flags, ", "))
	fs.BoolVar(&pf.tracing, "consent-tracing", false, "the person agrees to be traced (family reunification)")
	fs.BoolVar(&pf.share, "consent-sharing", false, "the person agrees to their data being shared with partner organisations")
}

func newPersonAdd(app *App) *cobra.Command {
	var pf personFlags
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Register a person (prints their card code)",
		Example: `  caravana person add --given-names "María José" --surname1 López --surname2 Reyes \
    --sex F --birth-date 1994-03-02 --nationality HN --origin-town Choloma --consent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !pf.consent {
				return usagef("consent: the person must agree to be registered; pass --consent once they have")
			}
			pf.in.Consent = registry.Consent{Registration: true, Tracing: pf.tracing, Sharing: pf.share}
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := n.Registry.Register(cmd.Context(), operator(), pf.in)
				if err != nil {
					return explain(err)
				}
				if app.JSON {
					return app.printJSON(p)
				}
				fmt.Fprintf(app.Stdout, "Registered %s — card code %s (id %s)\n", p.FullName(), cardcode.Format(p.Code), p.ID)
				return nil
			})
		},
	}
	pf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&pf.consent, "consent", false, "the person agrees to be registered (required)")
	return cmd
}

// explain turns a validation error into one line per field.
func explain(err error) error {
	var v registry.ValidationError
	if errors.As(err, &v) {
		lines := make([]string, len(v))
		for i, f := range v {
			lines[i] = "  --" + strings.ReplaceAll(f.Field, "_", "-") + ": " + f.Message
		}
		return fmt.Errorf("nothing was saved:\n%s", strings.Join(lines, "\n"))
	}
	return err
}

// resolve finds a person by id or card code.
func resolve(ctx context.Context, n *node.Node, ref string) (registry.Person, error) {
	if code, err := cardcode.Parse(ref); err == nil {
		return n.Registry.ByCode(ctx, operator(), code)
	}
	p, err := n.Registry.Get(ctx, operator(), ref, "cli show")
	if errors.Is(err, registry.ErrNotFound) && cardcode.LooksLike(ref) {
		_, perr := cardcode.Parse(ref)
		return p, fmt.Errorf("%q is not a valid card code: %w", ref, perr)
	}
	return p, err
}

func newPersonShow(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|CODE",
		Short: "Show one person, by id or card code",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[0])
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(p)
				}
				printPerson(app.Stdout, p)
				return nil
			})
		},
	}
}

func printPerson(w io.Writer, p registry.Person) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id", p.ID)
	row("card code", cardcode.Format(p.Code))
	row("name", p.FullName())
	row("sex", p.Sex)
	row("birth date", p.BirthDate)
	if p.Age != nil {
		row("age", fmt.Sprint(*p.Age))
	}
	row("nationality", p.Nationality)
	row("origin town", p.OriginTown)
	row("phone", p.Phone)
	row("flags", strings.Join(p.Flags, ", "))
	row("notes", p.Notes)
	row("consent", fmt.Sprintf("registration=%v tracing=%v sharing=%v", p.Consent.Registration, p.Consent.Tracing, p.Consent.Sharing))
	row("households", strings.Join(p.Households, ", "))
	row("registered", p.Registered.Format("2006-01-02 15:04 UTC"))
	tw.Flush()
}

func printPeople(w io.Writer, people []registry.Person) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tSEX\tAGE\tNAT\tID")
	for _, p := range people {
		age := ""
		if p.Age != nil {
			age = fmt.Sprint(*p.Age)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cardcode.Format(p.Code), p.FullName(), p.Sex, age, p.Nationality, p.ID)
	}
	tw.Flush()
}

func newPersonList(app *App) *cobra.Command {
	var offset, limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List people, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				people, total, err := n.Registry.List(cmd.Context(), operator(), offset, limit)
				if err != nil {
					return err
				}
				if app.JSON {
					if people == nil {
						people = []registry.Person{}
					}
					return app.printJSON(people)
				}
				printPeople(app.Stdout, people)
				fmt.Fprintf(app.Stdout, "%d of %d people\n", len(people), total)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	return cmd
}

func newPersonFind(app *App) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "find NAME|CODE",
		Short: "Find people by name (accent- and case-insensitive) or by card code",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := strings.Join(args, " ")
			return app.withNode(cmd, func(n *node.Node) error {
				var err error
				var people []registry.Person
				if cardcode.LooksLike(q) {
					code, perr := cardcode.Parse(q)
					if perr != nil {
						return fmt.Errorf("%q looks like a card code but is not valid: %w", q, perr)
					}
					p, err := n.Registry.ByCode(cmd.Context(), operator(), code)
					if err != nil && !errors.Is(err, registry.ErrNotFound) {
						return err
					}
					if err == nil {
						people = append(people, p)
					}
				} else if people, err = n.Registry.Find(cmd.Context(), operator(), q, limit); err != nil {
					return explain(err)
				}
				if app.JSON {
					if people == nil {
						people = []registry.Person{}
					}
					return app.printJSON(people)
				}
				if len(people) == 0 {
					fmt.Fprintln(app.Stdout, "No one found.")
					return nil
				}
				printPeople(app.Stdout, people)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many")
	return cmd
}

func newPersonUpdate(app *App) *cobra.Command {
	var pf personFlags
	var clearFlags bool
	cmd := &cobra.Command{
		Use:   "update ID|CODE",
		Short: "Change some fields of a person (only the flags given change)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			patch := registry.Patch{Fields: map[string]string{}}
			set := map[string]string{"given-names": pf.in.GivenNames, "surname1": pf.in.Surname1, "surname2": pf.in.Surname2,
				"sex": pf.in.Sex, "birth-date": pf.in.BirthDate, "nationality": pf.in.Nationality,
				"origin-town": pf.in.OriginTown, "phone": pf.in.Phone, "notes": pf.in.Notes}
			for flag, v := range set {
				if cmd.Flags().Changed(flag) {
					patch.Fields[strings.ReplaceAll(flag, "-", "_")] = v
				}
			}
			if cmd.Flags().Changed("flag") || clearFlags {
				fl := pf.in.Flags
				if fl == nil {
					fl = []string{}
				}
				patch.Flags = &fl
			}
			if cmd.Flags().Changed("consent-tracing") || cmd.Flags().Changed("consent-sharing") {
				patch.Consent = &registry.Consent{Registration: true, Tracing: pf.tracing, Sharing: pf.share}
			}
			if len(patch.Fields) == 0 && patch.Flags == nil && patch.Consent == nil {
				return usagef("nothing to change: give at least one field flag")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[0])
				if err != nil {
					return err
				}
				if patch.Consent != nil {
					// Keep what was not asked to change.
					if !cmd.Flags().Changed("consent-tracing") {
						patch.Consent.Tracing = p.Consent.Tracing
					}
					if !cmd.Flags().Changed("consent-sharing") {
						patch.Consent.Sharing = p.Consent.Sharing
					}
				}
				p, err = n.Registry.Update(cmd.Context(), operator(), p.ID, patch)
				if err != nil {
					return explain(err)
				}
				if app.JSON {
					return app.printJSON(p)
				}
				printPerson(app.Stdout, p)
				return nil
			})
		},
	}
	pf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&clearFlags, "clear-flags", false, "remove every vulnerability flag")
	return cmd
}

func newPersonCard(app *App) *cobra.Command {
	var reissue bool
	cmd := &cobra.Command{
		Use:   "card ID|CODE",
		Short: "Show a person's card code (the web page /people/ID/card prints it with a QR code)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[0])
				if err != nil {
					return err
				}
				if reissue {
					if p, err = n.Registry.ReissueCard(cmd.Context(), operator(), p.ID); err != nil {
						return err
					}
				}
				if app.JSON {
					return app.printJSON(map[string]string{"id": p.ID, "code": p.Code, "formatted": cardcode.Format(p.Code), "card_page": "/people/" + p.ID + "/card"})
				}
				fmt.Fprintf(app.Stdout, "%s  %s\nprint it at /people/%s/card\n", cardcode.Format(p.Code), p.FullName(), p.ID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&reissue, "reissue", false, "issue a new code (the old card stops working)")
	return cmd
}
