package cli

import (
	"caravana/internal/node"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"caravana/internal/auth"
)

// NewUserCommand groups the staff-account commands.
func NewUserCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Add, list and disable staff accounts"}
	cmd.AddCommand(newUserAdd(app), newUserList(app), newUserDisable(app), newUserPasswd(app))
	return cmd
}

func readPasswordFlag(file string) (string, bool, error) {
	if file == "" {
		return newPassword(), true, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("password file: %w", err)
	}
	return strings.TrimRight(string(data), "\r\n"), false, nil
}

func newUserAdd(app *App) *cobra.Command {
	var role, pwFile string
	cmd := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Add a staff account (password from --password-file, or generated and printed once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageError{err}
			}
			pw, generated, err := readPasswordFlag(pwFile)
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				u, err := n.Auth.AddUser(cmd.Context(), operator(), args[0], r, pw)
				if err != nil {
					return err
				}
				if app.JSON {
					out := map[string]any{"user": u}
					if generated {
						out["password"] = pw
					}
					return app.printJSON(out)
				}
				fmt.Fprintf(app.Stdout, "Added %s (%s)\n", u.Username, u.Role)
				if generated {
					fmt.Fprintf(app.Stdout, "Password (shown once): %s\n", pw)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "volunteer", "coordinator, volunteer, legal or medic")
	cmd.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file")
	return cmd
}

func newUserList(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List staff accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				users, err := n.Auth.Users(cmd.Context(), operator())
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(nonNil(users))
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tID")
				for _, u := range users {
					status := "active"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Role, status, u.ID)
				}
				return tw.Flush()
			})
		},
	}
}

func newUserDisable(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "disable USERNAME",
		Short: "Disable an account; its sessions end at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				if err := n.Auth.Disable(cmd.Context(), operator(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "Disabled %s\n", args[0])
				return nil
			})
		},
	}
}

func newUserPasswd(app *App) *cobra.Command {
	var pwFile string
	cmd := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Set a new password (from --password-file, or generated and printed once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated, err := readPasswordFlag(pwFile)
			if err != nil {
				return err
			}
			return app.withNode(cmd, func(n *node.Node) error {
				if err := n.Auth.SetPassword(cmd.Context(), operator(), args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "Password changed for %s\n", args[0])
				if generated {
					fmt.Fprintf(app.Stdout, "New password (shown once): %s\n", pw)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&pwFile, "password-file", "", "read the password from this file")
	return cmd
}
