// Package cli is the caravana command line: `caravana <noun> <verb>`. Each
// command is built by a constructor that takes the shared App; main only
// calls Main.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
)

// App is what every command shares: flags and I/O.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	DataDir        string
	DB             string
	PassphraseFile string
	JSON           bool
	LogLevel       string

	// KDF overrides the key-file Argon2id setting; tests only.
	KDF crypto.KDFParams
	// PasswordKDF overrides the password hash setting; tests only.
	PasswordKDF crypto.KDFParams
}

// usageError marks a mistake in how the command was called (exit code 2).
// Cobra's own refusals (unknown commands and flags, wrong argument counts,
// missing required flags) are wrapped in it where they arise (see
// typeUsage), so the exit code never depends on an error's wording.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs the command line and returns the process exit code:
// 0 ok, 1 error, 2 usage.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &App{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := NewRootCommand(app)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	code := exitCode(err)
	if code == 2 {
		fmt.Fprintln(stderr, "run 'caravana --help' or 'caravana <command> --help' for usage")
	}
	return code
}

// exitCode is the process exit code for a command's error: 2 for a
// mistake in how it was called, 1 for anything else (bad input values
// included: a wrong --sex or --birth-date is an error in the data, not
// in the command line).
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(usageError)):
		return 2
	}
	return 1
}

// typeUsage walks the command tree and makes cobra's refusals typed usage
// errors: argument validation, required flags and flag groups (flag
// parsing errors go through the root's FlagErrorFunc). A group command
// (one with subcommands and nothing to run) refuses an unknown verb
// instead of printing its help and exiting 0.
func typeUsage(c *cobra.Command) {
	if !c.Runnable() && c.HasSubCommands() {
		c.Args = unknownVerb
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				if errors.As(err, new(usageError)) {
					return err
				}
				return usageError{err}
			}
			return nil
		}
	}
	if c.Runnable() {
		pre := c.PreRunE
		// Cobra checks required flags and flag groups after PreRunE and
		// returns untyped errors: check them here first.
		c.PreRunE = func(cmd *cobra.Command, args []string) error {
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError{err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return usageError{err}
			}
			if pre != nil {
				return pre(cmd, args)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		typeUsage(sub)
	}
}

// unknownVerb is the Args of a group command: it takes no arguments, so
// one is a verb it does not know.
func unknownVerb(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// NewRootCommand builds the whole command tree.
func NewRootCommand(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "caravana",
		Short: "Registry, tracing and coordination for a migrant caravan — offline, sealed, synced",
		Long: `Caravana keeps everybody in a migrant caravan registered and counted, finds separated
family members, and never hands a list of people to those who hunt them.

Every change is a signed event; names and other personal data are sealed field by field;
the database file is encrypted whole. A node is a folder (--data) unlocked by a passphrase
(CARAVANA_PASSPHRASE, --passphrase-file, or a prompt).

Start with:  caravana demo --serve`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return app.setupLogging()
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&app.DataDir, "data", envOr("CARAVANA_DATA", "caravana-data"), "node folder (env CARAVANA_DATA)")
	pf.StringVar(&app.DB, "db", os.Getenv("CARAVANA_DB"), "PostgreSQL URL to keep the node's data in instead of SQLite (env CARAVANA_DB)")
	pf.StringVar(&app.PassphraseFile, "passphrase-file", os.Getenv("CARAVANA_PASSPHRASE_FILE"), "read the node passphrase from this file (else CARAVANA_PASSPHRASE, else a prompt)")
	pf.BoolVar(&app.JSON, "json", false, "machine-readable JSON output")
	pf.StringVar(&app.LogLevel, "log-level", envOr("CARAVANA_LOG_LEVEL", "info"), "log level: debug, info, warn, error")

	root.AddCommand(
		NewInitCommand(app),
		NewServeCommand(app),
		NewDemoCommand(app),
		NewPersonCommand(app),
		NewHouseholdCommand(app),
		NewUserCommand(app),
		NewAuditCommand(app),
		NewRebuildCommand(app),
		NewVerifyCommand(app),
		NewWipeCommand(app),
		NewLinkCommand(app),
		NewNodeCommand(app),
		NewSyncCommand(app),
	)
	root.AddCommand(JourneyCommands(app)...)
	root.AddCommand(TracingCommands(app)...)
	root.AddCommand(NewConflictsCommand(app))
	root.AddCommand(NewSupplyCommand(app))
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
	}
	// Add cobra's help and completion commands now (Execute would add
	// them later), so typeUsage covers them too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	typeUsage(root)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (app *App) setupLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(app.LogLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(app.Stderr, &slog.HandlerOptions{Level: level})))
	return nil
}

// passphrase reads the node passphrase: file, environment, or a prompt on
// the terminal (twice when creating, to catch typos).
func (app *App) passphrase(confirm bool) (string, error) {
	if app.PassphraseFile != "" {
		data, err := os.ReadFile(app.PassphraseFile)
		if err != nil {
			return "", fmt.Errorf("passphrase file: %w", err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	}
	if p := os.Getenv("CARAVANA_PASSPHRASE"); p != "" {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no passphrase: set CARAVANA_PASSPHRASE, pass --passphrase-file, or run in a terminal")
	}
	defer tty.Close()
	read := func(prompt string) (string, error) {
		fmt.Fprint(tty, prompt)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(b), err
	}
	p, err := read("Node passphrase: ")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if confirm {
		again, err := read("Repeat passphrase: ")
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if again != p {
			return "", errors.New("the two passphrases differ")
		}
	}
	return p, nil
}

func (app *App) config(passphrase string) node.Config {
	return node.Config{Dir: app.DataDir, DB: app.DB, Passphrase: passphrase, KDF: app.KDF, PasswordKDF: app.PasswordKDF, Log: slog.Default()}
}

// open unlocks the node for a command.
func (app *App) open(ctx context.Context) (*node.Node, error) {
	p, err := app.passphrase(false)
	if err != nil {
		return nil, err
	}
	return node.Open(ctx, app.config(p))
}

// withNode unlocks the node for one command, runs fn and closes the node.
func (app *App) withNode(cmd *cobra.Command, fn func(n *node.Node) error) error {
	n, err := app.open(cmd.Context())
	if err != nil {
		return err
	}
	defer n.Close()
	return fn(n)
}

// operator is the principal for CLI commands: whoever holds the passphrase.
func operator() auth.Principal {
	name := "operator"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return auth.Operator(name)
}

func (app *App) printJSON(v any) error {
	enc := json.NewEncoder(app.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil is s, or an empty slice for nil: --json prints [] for an empty
// list, never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
