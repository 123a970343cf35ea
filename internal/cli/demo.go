package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/demo"
	"caravana/internal/node"
)

// NewDemoCommand fills a node with a synthetic caravan, and can serve it.
func NewDemoCommand(app *App) *cobra.Command {
	var people int
	var seed int64
	var serve bool
	var addr, asOf string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fill a node with a synthetic caravan (7,200 people by default); --serve to browse it",
		Long: `Generate a synthetic caravan like the October 2018 one — about 2,300 children and 2,200
adult women, mostly Honduran, in realistic households — and register it in a node.

With --serve and no --data, the node is a throwaway one in a temporary folder, wiped on exit;
the command prints the URL and a login for each role. With --data DIR it fills that node
(creating it first if the folder is empty). The same --seed and --as-of give the same caravan.`,
		Example: `  caravana demo --serve
  caravana demo --data ./demo-node --people 1000 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if people < 1 || people > 2_000_000 {
				return usagef("--people must be between 1 and 2,000,000")
			}
			ref := time.Now().UTC()
			if asOf != "" {
				t, err := time.Parse(time.DateOnly, asOf)
				if err != nil {
					return usagef("--as-of: want YYYY-MM-DD: %v", err)
				}
				ref = t
			}
			ctx := cmd.Context()
			throwaway := serve && !cmd.Flags().Changed("data") && os.Getenv("CARAVANA_DATA") == ""
			var n *node.Node
			var logins map[auth.Role]string
			var err error
			if throwaway {
				n, logins, err = app.throwawayNode(ctx)
				if n != nil {
					defer func() {
						n.Close()
						node.Wipe(app.DataDir)
						os.RemoveAll(app.DataDir)
					}()
				}
			} else {
				n, logins, err = app.demoNode(ctx)
				if n != nil {
					defer n.Close()
				}
			}
			if err != nil {
				return err
			}
			// Role users first: their deliberately slow password hashes would
			// only compete for the cores with the caravan's writes.
			if err := addRoleUsers(ctx, n, logins); err != nil {
				return err
			}
			fail := func(err error) error { return err }
			start := time.Now()
			c := demo.Generate(seed, people, ref)
			loaded, err := demo.Load(ctx, n.Registry, n.Ledger, operator(), c)
			if err != nil {
				return fail(err)
			}
			registered := time.Since(start)
			travelled, err := demo.Travel(ctx, n.Journey, n.Registry, n.Ledger, operator(), c, demo.TravelOptions{Seed: seed})
			if err != nil {
				return fail(err)
			}
			if _, err := demo.Supplies(ctx, n.Supply, n.Registry, n.Ledger, operator(), loaded.IDs, time.Time{}); err != nil {
				return fail(err)
			}
			took := time.Since(start)
			if app.JSON && !serve {
				return app.printJSON(map[string]any{"data": app.DataDir, "people": loaded.People, "households": loaded.Households,
					"events": loaded.Events, "seconds": took.Seconds(), "logins": logins, "journey": travelled})
			}
			fmt.Fprintf(app.Stdout, "Demo caravan: %d people in %d households (%d events) registered in %s; created with its journey in %s\n",
				loaded.People, loaded.Households, loaded.Events, registered.Round(time.Millisecond), took.Round(time.Millisecond))
			printTravelled(app, travelled)
			if !serve {
				printLogins(app, logins)
				return nil
			}
			return app.serve(ctx, n, addr, "", "", func(url string) {
				fmt.Fprintf(app.Stdout, "\nOpen %s\n", url)
				printLogins(app, logins)
				if throwaway {
					fmt.Fprintln(app.Stdout, "This node is a throwaway: it is wiped when you stop it (Ctrl-C).")
				}
			})
		},
	}
	cmd.Flags().IntVar(&people, "people", 7200, "how many people")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed: the same seed gives the same caravan")
	cmd.Flags().StringVar(&asOf, "as-of", "", "date the ages are computed at, YYYY-MM-DD (default today)")
	cmd.Flags().BoolVar(&serve, "serve", false, "serve the node afterwards")
	cmd.Flags().StringVar(&addr, "addr", envOr("CARAVANA_ADDR", "127.0.0.1:8080"), "address to serve on")
	return cmd
}

func printLogins(app *App, logins map[auth.Role]string) {
	if len(logins) == 0 {
		return
	}
	fmt.Fprintln(app.Stdout, "Logins (user / password):")
	for _, r := range auth.Roles {
		if pw, ok := logins[r]; ok {
			fmt.Fprintf(app.Stdout, "  %-12s %-12s %s\n", r, string(r), pw)
		}
	}
}

// throwawayNode creates a node in a fresh temporary folder with a random
// passphrase and one user per role.
func (app *App) throwawayNode(ctx context.Context) (*node.Node, map[auth.Role]string, error) {
	dir, err := os.MkdirTemp("", "caravana-demo-*")
	if err != nil {
		return nil, nil, err
	}
	app.DataDir = filepath.Join(dir, "node")
	cfg := app.config(newPassword() + newPassword())
	n, logins, err := initWithRoles(ctx, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	app.DataDir = dir // remove the whole temporary folder on exit
	n.Dir = dir
	return n, logins, nil
}

func initWithRoles(ctx context.Context, cfg node.Config) (*node.Node, map[auth.Role]string, error) {
	logins := map[auth.Role]string{auth.Coordinator: newPassword()}
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "demo", AdminUser: string(auth.Coordinator), AdminPassword: logins[auth.Coordinator]})
	if err != nil {
		return nil, nil, err
	}
	return n, logins, nil
}

// addRoleUsers adds a user named after each non-coordinator role, hashing
// the passwords in parallel (each hash is deliberately slow).
func addRoleUsers(ctx context.Context, n *node.Node, logins map[auth.Role]string) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, r := range []auth.Role{auth.Volunteer, auth.Legal, auth.Medic} {
		pw := newPassword()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Auth.AddUser(ctx, operator(), string(r), r, pw)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				logins[r] = pw
			case errors.Is(err, auth.ErrUserExists):
			default:
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// demoNode opens the node in --data, creating it (with one user per role)
// when the folder holds none.
func (app *App) demoNode(ctx context.Context) (*node.Node, map[auth.Role]string, error) {
	_, err := os.Stat(filepath.Join(app.DataDir, crypto.KeyFileName))
	if errors.Is(err, os.ErrNotExist) {
		p, err := app.passphrase(true)
		if err != nil {
			return nil, nil, err
		}
		return initWithRoles(ctx, app.config(p))
	}
	n, err := app.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return n, map[auth.Role]string{}, nil
}
