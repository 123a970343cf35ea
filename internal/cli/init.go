package cli

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"caravana/internal/node"
)

// NewInitCommand creates a node.
func NewInitCommand(app *App) *cobra.Command {
	var name, admin, adminPasswordFile string
	var join joinFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a node: keys, encrypted database and a first coordinator",
		Long: `Create a node in --data DIR: an ed25519 signing key and an age key, a random data key
stored only wrapped by a key derived from the passphrase (Argon2id), the encrypted
database (or --db postgres://...), and a first coordinator user.

The coordinator's password comes from --admin-password-file, or is generated and printed once.

With --join FILE (an invitation from 'caravana node invite') the node joins an existing
organisation instead: it gets the organisation's data key from the inviting node, which
must be serving, and syncs with it at once (users, people, its own enrolment).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if join.file != "" {
				return app.initJoin(cmd, join, name)
			}
			if cmd.Flags().Changed("admin") && strings.TrimSpace(admin) == "" {
				return usagef("--admin: give the first coordinator's username (default %q)", "coordinator")
			}
			p, err := app.passphrase(true)
			if err != nil {
				return err
			}
			password := ""
			if adminPasswordFile != "" {
				data, err := os.ReadFile(adminPasswordFile)
				if err != nil {
					return fmt.Errorf("admin password file: %w", err)
				}
				password = strings.TrimRight(string(data), "\r\n")
			} else {
				password = newPassword()
			}
			start := time.Now()
			opt := node.InitOptions{Name: name, AdminUser: admin, AdminPassword: password}
			n, err := node.Init(cmd.Context(), app.config(p), opt)
			if err != nil {
				return fmt.Errorf("init %s: %w", app.DataDir, err)
			}
			defer n.Close()
			// The folder does not remember --db: every later command needs it
			// again. The hint shows it without its password.
			next := "caravana serve --data " + shellQuote(app.DataDir)
			if app.DB != "" {
				next += " --db " + shellQuote(redactURL(app.DB))
			}
			if app.JSON {
				out := map[string]any{"node_id": n.Keys.NodeID, "data": app.DataDir, "age_recipient": n.Keys.AgeRecipient, "admin": opt.Admin()}
				if app.DB != "" {
					out["db"] = redactURL(app.DB)
				}
				if adminPasswordFile == "" {
					out["admin_password"] = password
				}
				return app.printJSON(out)
			}
			fmt.Fprintf(app.Stdout, "Created node %s in %s (%s)\n", n.Keys.NodeID, app.DataDir, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(app.Stdout, "First coordinator: %s\n", opt.Admin())
			if adminPasswordFile == "" {
				fmt.Fprintf(app.Stdout, "Password (shown once): %s\n", password)
			}
			fmt.Fprintf(app.Stdout, "Next: %s\n", next)
			if app.DB != "" {
				fmt.Fprintln(app.Stdout, "Every command on this node needs the same --db (or CARAVANA_DB), with its password.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for this node, e.g. \"front desk\"")
	cmd.Flags().StringVar(&admin, "admin", "coordinator", "username of the first coordinator")
	cmd.Flags().StringVar(&adminPasswordFile, "admin-password-file", "", "read the first coordinator's password from this file")
	join.register(cmd)
	return cmd
}

// redactURL is a database URL fit to print: any password, in the user
// part or as a password= parameter, is replaced by xxxxx. A URL that does
// not parse is not printed at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://..."
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newPassword makes a random password easy to read aloud: 4 groups of 4
// base32 letters, 80 bits.
func newPassword() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// progress returns a bar on stderr for long work, or nil when output is JSON.
func (app *App) progress(total int, what string) *progressbar.ProgressBar {
	if app.JSON || total <= 0 {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(app.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}
