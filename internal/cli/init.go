package cli

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
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
			n, err := node.Init(cmd.Context(), app.config(p), node.InitOptions{Name: name, AdminUser: admin, AdminPassword: password})
			if err != nil {
				return fmt.Errorf("init %s: %w", app.DataDir, err)
			}
			defer n.Close()
			if app.JSON {
				out := map[string]any{"node_id": n.Keys.NodeID, "data": app.DataDir, "age_recipient": n.Keys.AgeRecipient, "admin": admin}
				if adminPasswordFile == "" {
					out["admin_password"] = password
				}
				return app.printJSON(out)
			}
			fmt.Fprintf(app.Stdout, "Created node %s in %s (%s)\n", n.Keys.NodeID, app.DataDir, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(app.Stdout, "First coordinator: %s\n", admin)
			if adminPasswordFile == "" {
				fmt.Fprintf(app.Stdout, "Password (shown once): %s\n", password)
			}
			fmt.Fprintf(app.Stdout, "Next: caravana serve --data %s\n", app.DataDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for this node, e.g. \"front desk\"")
	cmd.Flags().StringVar(&admin, "admin", "coordinator", "username of the first coordinator")
	cmd.Flags().StringVar(&adminPasswordFile, "admin-password-file", "", "read the first coordinator's password from this file")
	join.register(cmd)
	return cmd
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
