package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/names"
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

// explain turns a validation error about a person into one line per
// field, each named by the flag that sets it.
func explain(err error) error { return explainAs(err, personFlag) }

// explainAs turns a validation error into one line per field, naming each
// field as flagFor says the user wrote it; other errors pass through.
func explainAs(err error, flagFor func(field string) string) error {
	var v registry.ValidationError
	if errors.As(err, &v) {
		lines := make([]string, len(v))
		for i, f := range v {
			lines[i] = "  " + flagFor(f.Field) + ": " + f.Message
		}
		return fmt.Errorf("nothing was saved:\n%s", strings.Join(lines, "\n"))
	}
	return err
}

// personFlag names the flag that sets a person field of the registry.
func personFlag(field string) string {
	switch field {
	case auth.FieldFlags:
		return "--flag"
	case "consent", "consent.registration":
		return "--consent"
	case "consent.tracing":
		return "--consent-tracing"
	case "consent.sharing":
		return "--consent-sharing"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
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
			if offset < 0 || limit < 0 {
				return usagef("--offset and --limit cannot be negative")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				people, total, err := n.Registry.List(cmd.Context(), operator(), offset, limit)
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(people))
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

// maxFind is the most people one name search returns (the registry
// answers at most this many).
const maxFind = 100

func newPersonFind(app *App) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "find NAME|CODE",
		Short: "Find people by name (accent- and case-insensitive) or by card code",
		Long: `Find people by name, accent- and case-insensitively (people matching every word first), or
by card code. A query shaped like a card code that no card matches is searched as a name
too, unless it holds digits or a dash (then it was meant as a code). At most --limit
people are shown; when that many are found, there may be more.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := strings.TrimSpace(strings.Join(args, " "))
			if len(names.Tokens(q)) == 0 {
				return usagef("person find: give a name or a card code to look for")
			}
			if limit < 1 || limit > maxFind {
				return usagef("--limit must be between 1 and %d", maxFind)
			}
			return app.withNode(cmd, func(n *node.Node) error {
				people, byCode, err := findPeople(cmd.Context(), n, q, limit)
				if err != nil {
					return err
				}
				cut := !byCode && len(people) == limit
				if app.JSON {
					if cut {
						fmt.Fprintln(app.Stderr, cutNote(limit))
					}
					return app.printJSON(nonNil(people))
				}
				if len(people) == 0 {
					fmt.Fprintln(app.Stdout, "No one found.")
					return nil
				}
				printPeople(app.Stdout, people)
				if cut {
					fmt.Fprintln(app.Stdout, cutNote(limit))
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, fmt.Sprintf("at most this many (1-%d)", maxFind))
	return cmd
}

// cutNote says that a search stopped at its limit.
func cutNote(limit int) string {
	if limit >= maxFind {
		return fmt.Sprintf("Showing the first %d people found; there may be more: give more of the name.", limit)
	}
	return fmt.Sprintf("Showing the first %d people found; there may be more: use --limit (up to %d) or give more of the name.", limit, maxFind)
}

// findPeople searches the way the web's search box does: a card code finds
// its holder, and a query that is only shaped like a code (every letter is
// a code symbol, so a ten-letter name passes the check symbol once in 31)
// is searched as a name when no card matches it. byCode says the query was
// taken as a card code alone.
func findPeople(ctx context.Context, n *node.Node, q string, limit int) (people []registry.Person, byCode bool, err error) {
	if cardcode.LooksLike(q) {
		code, perr := cardcode.Parse(q)
		if perr != nil {
			return nil, true, fmt.Errorf("%q looks like a card code but is not valid: %w", q, perr)
		}
		p, err := n.Registry.ByCode(ctx, operator(), code)
		switch {
		case err == nil:
			return []registry.Person{p}, true, nil
		case !errors.Is(err, registry.ErrNotFound):
			return nil, true, err
		case codeMarks(q):
			return nil, true, nil
		}
	}
	people, err = n.Registry.Find(ctx, operator(), q, limit)
	if err != nil {
		return nil, false, fmt.Errorf("find: %w", err)
	}
	return people, false, nil
}

// codeMarks reports whether q holds what names do not: a digit, or a dash
// or dot as printed in card codes. Such a query was meant as a code.
func codeMarks(q string) bool {
	return strings.IndexFunc(q, unicode.IsDigit) >= 0 || strings.ContainsAny(q, "-.")
}

func newPersonUpdate(app *App) *cobra.Command {
	var pf personFlags
	var clearFlags bool
	var addFlags, removeFlags []string
	cmd := &cobra.Command{
		Use:   "update ID|CODE",
		Short: "Change some fields of a person (only the flags given change)",
		Long: `Change some fields of a person: only the fields named on the command line change, and so do
only the consents named (--consent-tracing, --consent-sharing; consent to registration is kept).

Vulnerability flags: --add-flag and --remove-flag change the person's current flags; --flag sets
them to exactly the ones given, removing every other (--clear-flags removes them all).`,
		Example: `  caravana person update K7M4Q-X2PR9 --phone "+504 9999-0000"
  caravana person update K7M4Q-X2PR9 --add-flag pregnant --remove-flag medical
  caravana person update K7M4Q-X2PR9 --consent-tracing=false`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			patch := registry.Patch{Fields: map[string]string{}}
			set := map[string]string{"given-names": pf.in.GivenNames, "surname1": pf.in.Surname1, "surname2": pf.in.Surname2,
				"sex": pf.in.Sex, "birth-date": pf.in.BirthDate, "nationality": pf.in.Nationality,
				"origin-town": pf.in.OriginTown, "phone": pf.in.Phone, "notes": pf.in.Notes}
			for flag, v := range set {
				if changed(flag) {
					patch.Fields[strings.ReplaceAll(flag, "-", "_")] = v
				}
			}
			replace, edit := changed("flag") || clearFlags, changed("add-flag") || changed("remove-flag")
			switch {
			case changed("flag") && clearFlags:
				return usagef("--flag and --clear-flags do not go together: --flag alone sets the flags to exactly those given")
			case replace && edit:
				return usagef("--flag and --clear-flags replace every flag, --add-flag and --remove-flag change the current ones: use one kind or the other")
			}
			if replace {
				fl := pf.in.Flags
				if fl == nil || clearFlags {
					fl = []string{}
				}
				patch.Flags = &fl
			}
			for _, f := range []struct {
				name string
				vals []string
			}{{"--add-flag", addFlags}, {"--remove-flag", removeFlags}} {
				for _, v := range f.vals {
					if !slices.Contains(auth.Flags, v) {
						return fmt.Errorf("%s: %q is not a vulnerability flag (known: %s)", f.name, v, strings.Join(auth.Flags, ", "))
					}
				}
			}
			var tracing, sharing *bool
			if changed("consent-tracing") {
				tracing = &pf.tracing
			}
			if changed("consent-sharing") {
				sharing = &pf.share
			}
			if len(patch.Fields) == 0 && patch.Flags == nil && !edit && tracing == nil && sharing == nil {
				return usagef("nothing to change: give at least one field flag")
			}
			return app.withNode(cmd, func(n *node.Node) error {
				p, err := resolve(cmd.Context(), n, args[0])
				if err != nil {
					return err
				}
				if tracing != nil || sharing != nil {
					c := consentUpdate(p.Consent, tracing, sharing)
					patch.Consent = &c
				}
				if edit {
					fl, absent := editFlags(p.Flags, addFlags, removeFlags)
					for _, f := range absent {
						fmt.Fprintf(app.Stderr, "--remove-flag %s: the person does not have this flag\n", f)
					}
					if !sameSet(fl, p.Flags) {
						patch.Flags = &fl
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
	cmd.Flags().Lookup("flag").Usage = "set the vulnerability flags to exactly these, removing every other (repeatable): " + strings.Join(auth.Flags, ", ")
	cmd.Flags().StringSliceVar(&addFlags, "add-flag", nil, "add a vulnerability flag, keeping the others (repeatable)")
	cmd.Flags().StringSliceVar(&removeFlags, "remove-flag", nil, "remove a vulnerability flag, keeping the others (repeatable)")
	cmd.Flags().BoolVar(&clearFlags, "clear-flags", false, "remove every vulnerability flag")
	return cmd
}

// consentUpdate is the consent cur with the answers given on the command
// line (nil: not given) changed, and every other kept as it was: consent
// to registration is never changed by 'person update'.
func consentUpdate(cur registry.Consent, tracing, sharing *bool) registry.Consent {
	next := cur
	if tracing != nil {
		next.Tracing = *tracing
	}
	if sharing != nil {
		next.Sharing = *sharing
	}
	return next
}

// editFlags is cur with add added and remove removed, in auth.Flags
// order; absent lists the flags to remove that cur does not have.
func editFlags(cur, add, remove []string) (flags, absent []string) {
	for _, f := range remove {
		if !slices.Contains(cur, f) && !slices.Contains(absent, f) {
			absent = append(absent, f)
		}
	}
	flags = []string{}
	for _, f := range auth.Flags {
		if (slices.Contains(cur, f) || slices.Contains(add, f)) && !slices.Contains(remove, f) {
			flags = append(flags, f)
		}
	}
	return flags, absent
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Compact(slices.Sorted(slices.Values(a))), slices.Compact(slices.Sorted(slices.Values(b))))
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
