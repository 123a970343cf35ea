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
type usageError struct{ error }

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
	var u usageError
	if errors.As(err, &u) || isCobraUsage(err) {
		fmt.Fprintln(stderr, "run 'caravana --help' or 'caravana <command> --help' for usage")
		return 2
	}
	return 1
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
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
