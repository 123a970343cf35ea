package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/demo"
	"caravana/internal/node"
)

// maxAsOfAge is how far back --as-of may go: the journey is dated from it,
// and a node refuses check-ins and marks more than 90 days old.
const maxAsOfAge = 80 * 24 * time.Hour

// demoFlags are the demo command's options.
type demoFlags struct {
	people     int
	seed       int64
	serve, add bool
	addr, asOf string
}

// ref checks the options that need no node, before anything is created,
// and returns the time the caravan is dated at: now, or midnight (UTC)
// at the start of --as-of.
func (f demoFlags) ref(now time.Time) (time.Time, error) {
	if f.people < 1 || f.people > 2_000_000 {
		return time.Time{}, usagef("--people must be between 1 and 2,000,000")
	}
	if f.asOf == "" {
		return now.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, f.asOf)
	if err != nil {
		return time.Time{}, usagef("--as-of: want YYYY-MM-DD: %v", err)
	}
	today := now.UTC().Truncate(24 * time.Hour)
	switch {
	case t.After(today):
		return time.Time{}, usagef("--as-of %s is after today (%s, UTC)", f.asOf, today.Format(time.DateOnly))
	case t.Before(today.Add(-maxAsOfAge)):
		return time.Time{}, usagef("--as-of %s is more than %d days ago: the journey is dated from it, and a node refuses check-ins more than 90 days old",
			f.asOf, int(maxAsOfAge.Hours()/24))
	}
	return t, nil
}

// NewDemoCommand fills a node with a synthetic caravan, and can serve it.
func NewDemoCommand(app *App) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fill a node with a synthetic caravan (7,200 people by default); --serve to browse it",
		Long: `Generate a synthetic caravan like the October 2018 one — about 2,300 children and 2,200
adult women, mostly Honduran, in realistic households — register it in a node, and walk it
through its first week: check-ins at four checkpoints, people lost on the way, incidents,
hazards and the first supplies.

With --serve and neither --data nor CARAVANA_DATA, the node is a throwaway one in a temporary
folder, wiped when the command ends (Ctrl-C included); the command prints the URL and a login
for each role. With --data DIR, or CARAVANA_DATA set, the node is NOT a throwaway: demo fills
the node in DIR and keeps it, creating it first (with a login for each role) if the folder
holds none. It refuses a node that already holds people, unless --add.

The same --seed and --as-of give the same caravan and journey (but new ids and card codes).
--as-of dates everything: ages are counted on that day, and the journey has got to its
midnight (UTC). It must be within the last 80 days: a node refuses check-ins more than 90
days old.`,
		Example: `  caravana demo --serve
  caravana demo --data ./demo-node --people 1000 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.runDemo(cmd, f)
		},
	}
	cmd.Flags().IntVar(&f.people, "people", 7200, "how many people")
	cmd.Flags().Int64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same caravan")
	cmd.Flags().StringVar(&f.asOf, "as-of", "", "date the caravan is dated at, YYYY-MM-DD, within the last 80 days (default: now)")
	cmd.Flags().BoolVar(&f.serve, "serve", false, "serve the node afterwards (a throwaway node unless --data or CARAVANA_DATA)")
	cmd.Flags().BoolVar(&f.add, "add", false, "add a caravan to a node that already holds people")
	cmd.Flags().StringVar(&f.addr, "addr", envOr("CARAVANA_ADDR", "127.0.0.1:8080"), "with --serve: address to serve on (env CARAVANA_ADDR)")
	return cmd
}

func (app *App) runDemo(cmd *cobra.Command, f demoFlags) error {
	ref, err := f.ref(time.Now())
	if err != nil {
		return err
	}
	throwaway := f.serve && !cmd.Flags().Changed("data") && os.Getenv("CARAVANA_DATA") == ""
	// A busy port or a refused address is reported before anything is built.
	var url string
	var ln net.Listener
	if f.serve {
		if ln, err = app.listen(f.addr, "", ""); err != nil {
			return err
		}
		defer ln.Close()
		url = fmt.Sprintf("http://%s/", ln.Addr())
	}
	var passphrase string
	exists := false
	if !throwaway {
		_, err := os.Stat(filepath.Join(app.DataDir, crypto.KeyFileName))
		exists = err == nil
		if passphrase, err = app.passphrase(!exists); err != nil {
			return err
		}
	}

	// From here on Ctrl-C or SIGTERM stops the build, and whatever this
	// command created is removed (the deferred finish). Before, there is
	// nothing to remove, and a passphrase prompt must stay interruptible.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The clock starts once nothing more is asked of the user: what it
	// measures is what they wait for, from the keys to the last event.
	began := time.Now()
	// Drawing the caravan is pure computation: it runs while the node's
	// keys are derived.
	caravan := make(chan demo.Caravan, 1)
	go func() { caravan <- demo.Generate(f.seed, f.people, ref) }()
	var d *demoNode
	switch {
	case throwaway:
		d, err = app.throwawayNode(ctx)
	case exists:
		d, err = app.existingDemoNode(ctx, passphrase, f.add)
	default:
		d, err = app.newDemoNode(ctx, passphrase)
	}
	if err != nil {
		return err
	}
	failed := true
	defer func() { d.finish(failed) }()

	// Creating or unlocking the node took 256 to 320 MiB for its Argon2id
	// derivations, garbage now. Collected at once, that memory is reused
	// by the role users' hashes and the caravan; left to the next automatic
	// collection (when the heap doubles), they would fault in fresh pages
	// instead: about 0.4 s of kernel time on two cores, and 200 MB more.
	runtime.GC()
	filled, err := d.fill(ctx, <-caravan, f.seed, ref)
	if err != nil {
		return d.explain(ctx, err)
	}
	if !f.serve {
		d.close() // part of what the user waits for: the last checkpoint
	}
	failed = false
	took := time.Since(began)

	if app.JSON && !f.serve {
		return app.printJSON(map[string]any{"data": app.DataDir, "people": filled.People, "households": filled.Households,
			"events": filled.Events, "seconds": took.Seconds(), "logins": d.logins, "journey": filled.Travelled})
	}
	what := "opening the node"
	if d.created {
		what = "the node's keys and logins"
	}
	fmt.Fprintf(app.Stdout, "Demo caravan: %d people in %d households (%d events), registered in %s.\n",
		filled.People, filled.Households, filled.Events, filled.Registered.Round(time.Millisecond))
	fmt.Fprintf(app.Stdout, "Done in %s, all told: %s, the caravan, its journey and supplies.\n", took.Round(10*time.Millisecond), what)
	if throwaway {
		printTravelled(app, filled.Travelled, url)
	} else {
		printTravelled(app, filled.Travelled, "")
	}
	if !f.serve {
		d.printLogins(app)
		return nil
	}
	return app.serve(ctx, d.n, ln, "", "", func(url string) {
		fmt.Fprintf(app.Stdout, "\nOpen %s\n", url)
		d.printLogins(app)
		if throwaway {
			fmt.Fprintln(app.Stdout, "This node is a throwaway: it is wiped when you stop it (Ctrl-C).")
		}
	})
}

// fill writes the caravan into the node, dated from ref, and adds the role
// users to a node this command created. Their slow password hashes run
// beside the writes, which are mostly one goroutine's work.
func (d *demoNode) fill(ctx context.Context, c demo.Caravan, seed int64, ref time.Time) (demo.Filled, error) {
	var wg sync.WaitGroup
	var usersErr error
	if d.created {
		wg.Go(func() { usersErr = addRoleUsers(ctx, d.n, d.logins) })
	}
	filled, err := demo.Fill(ctx, demo.Services{Registry: d.n.Registry, Journey: d.n.Journey, Supply: d.n.Supply, Ledger: d.n.Ledger},
		operator(), c, seed, ref)
	wg.Wait()
	return filled, errors.Join(err, usersErr)
}

// demoNode is the node a demo fills, and what to undo if it fails.
type demoNode struct {
	n      *node.Node
	logins map[auth.Role]string // the users this command created, by role
	// created: this command created the node, so a failure removes it.
	created, throwaway bool
	dir                string // the node folder
	// parent, when set, is a folder this command made for the node, removed
	// with it: the temporary folder of a throwaway, or a new --data folder.
	parent string
	closed bool
}

func (d *demoNode) close() {
	if !d.closed {
		d.n.Close()
		d.closed = true
	}
}

// finish closes the node and removes it if it is a throwaway, or if this
// command created it and failed (a half-filled node is no use to anyone).
func (d *demoNode) finish(failed bool) {
	d.close()
	if d.throwaway || (failed && d.created) {
		node.Wipe(d.dir)
		switch {
		case d.throwaway:
			os.RemoveAll(d.parent)
		case d.parent != "":
			os.Remove(d.parent) // only if nothing else was put in it meanwhile
		}
	}
}

// explain says what a failure left behind.
func (d *demoNode) explain(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	switch {
	case d.throwaway:
		return fmt.Errorf("demo: %w; the throwaway node was removed", err)
	case d.created:
		return fmt.Errorf("demo: %w; the node it created in %s was removed", err, d.dir)
	default:
		return fmt.Errorf("demo: %w; the node in %s may hold part of the caravan", err, d.dir)
	}
}

func (d *demoNode) printLogins(app *App) {
	if len(d.logins) == 0 {
		fmt.Fprintln(app.Stdout, "Log in with the node's own users (demo adds users only to a node it creates).")
		return
	}
	fmt.Fprintln(app.Stdout, "Logins (role, user, password):")
	for _, r := range auth.Roles {
		if pw, ok := d.logins[r]; ok {
			fmt.Fprintf(app.Stdout, "  %-12s %-12s %s\n", r, string(r), pw)
		}
	}
}

// throwawayNode creates a node in a fresh temporary folder with a random
// passphrase (nobody will ever need it).
func (app *App) throwawayNode(ctx context.Context) (*demoNode, error) {
	dir, err := os.MkdirTemp("", "caravana-demo-*")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	app.DataDir = filepath.Join(dir, "node")
	d, err := initDemoNode(ctx, app.config(newPassword()+newPassword()))
	if err != nil {
		os.RemoveAll(dir)
		if ctx.Err() != nil {
			return nil, errors.New("demo: interrupted; the throwaway node was removed")
		}
		return nil, err
	}
	d.throwaway, d.parent = true, dir
	return d, nil
}

// newDemoNode creates a node in --data, which holds none.
func (app *App) newDemoNode(ctx context.Context, passphrase string) (*demoNode, error) {
	_, statErr := os.Stat(app.DataDir)
	d, err := initDemoNode(ctx, app.config(passphrase))
	if err != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			os.Remove(app.DataDir) // made by node.Init, which leaves nothing in it on error
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("demo: interrupted; the node it created in %s was removed", app.DataDir)
		}
		return nil, fmt.Errorf("init %s: %w", app.DataDir, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		d.parent = app.DataDir
	}
	return d, nil
}

// existingDemoNode opens the node in --data, which must hold nobody yet
// (unless add): a demo is no place to mix synthetic people with real ones.
func (app *App) existingDemoNode(ctx context.Context, passphrase string, add bool) (*demoNode, error) {
	n, err := node.Open(ctx, app.config(passphrase))
	if err != nil {
		return nil, err
	}
	people, err := n.Registry.PeopleCount(ctx, operator())
	if err == nil && people > 0 && !add {
		err = fmt.Errorf("the node in %s already holds %d people: demo fills only a node without people "+
			"(give a new folder for a new node, or --add to add a caravan anyway)", app.DataDir, people)
	}
	if err != nil {
		n.Close()
		return nil, err
	}
	return &demoNode{n: n, dir: app.DataDir, logins: map[auth.Role]string{}}, nil
}

// initDemoNode creates a node with a coordinator called coordinator.
func initDemoNode(ctx context.Context, cfg node.Config) (*demoNode, error) {
	logins := map[auth.Role]string{auth.Coordinator: newPassword()}
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "demo", AdminUser: string(auth.Coordinator), AdminPassword: logins[auth.Coordinator]})
	if err != nil {
		return nil, err
	}
	d := &demoNode{n: n, logins: logins, created: true, dir: cfg.Dir}
	if err := ctx.Err(); err != nil {
		d.finish(true)
		return nil, err
	}
	return d, nil
}

// addRoleUsers adds a user named after each non-coordinator role. The
// hashes are made one after another: each is deliberately slow and
// already spread over four threads, and one at a time they hold a third
// of the memory (64 MiB) and leave the caravan's writer more of the cores.
func addRoleUsers(ctx context.Context, n *node.Node, logins map[auth.Role]string) error {
	for _, r := range []auth.Role{auth.Volunteer, auth.Legal, auth.Medic} {
		pw := newPassword()
		_, err := n.Auth.AddUser(ctx, operator(), string(r), r, pw)
		switch {
		case err == nil:
			logins[r] = pw
		case errors.Is(err, auth.ErrUserExists):
		default:
			return fmt.Errorf("demo user %s: %w", r, err)
		}
	}
	return nil
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+-]+$`)
