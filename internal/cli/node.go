package cli

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/replication"
)

// NewNodeCommand groups the commands about the organisation's nodes.
func NewNodeCommand(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Invite, list and revoke the nodes of the organisation; print this node's id",
		Long: `Every device that runs Caravana for the organisation is a node with its own signing key,
recorded in the log by the node that enrolled it, so every node knows whose events to accept.

A coordinator invites a new device with 'caravana node invite', which writes a one-time
invitation file; the new device joins with 'caravana init --join FILE' while this node
serves ('caravana serve'). A lost or seized device is cut off with 'caravana node revoke'.`,
	}
	cmd.AddCommand(newNodeInvite(app), newNodeID(app), newNodeList(app), newNodeRevoke(app))
	return cmd
}

func newNodeInvite(app *App) *cobra.Command {
	var out, name string
	var urls []string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "invite --out FILE --url URL",
		Short: "Write a one-time invitation for a new device to join the organisation",
		Long: `Write a one-time invitation file (mode 0600) for a new device: the organisation id, its
founding node's key (the new node's trust anchor), this node's id, key and URL(s), and a random
secret. This node keeps only a key derived from the secret, marks the invitation used when a
device joins with it, and refuses it once used or expired.

The new device runs 'caravana init --data DIR --join FILE', which contacts this node at
--url: this node must be serving ('caravana serve') and reachable from the device then.
The file is a key to the organisation until it is used: carry it by hand, delete it after.`,
		Example: `  caravana node invite --out rear.invite --url http://192.168.4.1:8080 --name "rear guard"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out FILE is required")
			}
			if len(urls) == 0 {
				return usagef("--url is required: the address where this node serves ('caravana serve'), as the new device will reach it")
			}
			if _, err := os.Stat(out); err == nil {
				return usagef("%s already exists", out)
			}
			return app.withNode(cmd, func(n *node.Node) error {
				inv, err := replication.NewInvitation(cmd.Context(), n, replication.InviteOptions{URLs: urls, Name: name,
					TTL: expires, Actor: operator().Actor()})
				if err != nil {
					return err
				}
				if err := replication.WriteInvitation(out, inv); err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(map[string]any{"file": out, "invite": inv.ID, "org": inv.Org, "expires": inv.Expires, "urls": inv.URLs})
				}
				fmt.Fprintf(app.Stdout, "Wrote invitation %s to %s (valid until %s, one use)\n", inv.ID, out, inv.Expires.Local().Format(time.RFC1123))
				fmt.Fprintf(app.Stdout, "On the new device: caravana init --data DIR --join %s\n", out)
				fmt.Fprintln(app.Stdout, "Keep this node serving at", inv.URLs[0], "until it has joined.")
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "invitation file to write (refuses to overwrite)")
	cmd.Flags().StringArrayVar(&urls, "url", nil, "URL where this node serves, as the new device reaches it (repeatable)")
	cmd.Flags().StringVar(&name, "name", "", "a label for the new node, e.g. \"rear guard\"")
	cmd.Flags().DurationVar(&expires, "expires", replication.DefaultInviteTTL, "how long the invitation stays valid")
	return cmd
}

func newNodeID(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print this node's id and age recipient (no passphrase needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, rcpt, pub, err := crypto.PublicInfo(app.DataDir)
			if err != nil {
				return fmt.Errorf("node id: %w", err)
			}
			if app.JSON {
				return app.printJSON(map[string]any{"node_id": id, "age_recipient": rcpt, "signing_key": pub})
			}
			fmt.Fprintln(app.Stdout, id)
			fmt.Fprintln(app.Stdout, rcpt)
			return nil
		},
	}
}

func newNodeList(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the organisation's enrolled nodes (and revoked ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				nodes, err := n.Ledger.NodeList(cmd.Context())
				if err != nil {
					return err
				}
				if nodes == nil {
					nodes = []ledger.NodeInfo{}
				}
				if app.JSON {
					return app.printJSON(nodes)
				}
				names := map[string]string{}
				for _, x := range nodes {
					names[x.ID] = x.Name
				}
				tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tNAME\tENROLLED BY\tENROLLED AT (UTC)\tSTATUS")
				for _, x := range nodes {
					status := "active"
					if x.Revoked {
						status = fmt.Sprintf("revoked after event %d", x.RevokedAfter)
					}
					if x.ID == n.Keys.NodeID {
						status += " (this node)"
					}
					by := x.EnrolledBy
					if nm := names[by]; nm != "" {
						by += " (" + nm + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Name, by, time.UnixMilli(x.EnrolledAt).UTC().Format("2006-01-02 15:04"), status)
				}
				return tw.Flush()
			})
		},
	}
}

func newNodeRevoke(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NODE",
		Short: "Cut a node off (a lost or seized device): it is sent nothing more, and its later events are refused",
		Long: `Revoke a node: events it signed after the last one this node holds are refused by every node
(the cut is a sequence number, so all nodes keep exactly the same events of it), and no node
sends it anything more. Other nodes learn of the revocation at their next sync, so sync soon.
Revocation cannot be undone; a recovered device joins again with a new invitation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.withNode(cmd, func(n *node.Node) error {
				info, err := n.Ledger.Revoke(cmd.Context(), operator().Actor(), args[0])
				if errors.Is(err, ledger.ErrUnknownNode) {
					return usagef("no enrolled node has id %q ('caravana node list' shows them)", args[0])
				}
				if err != nil {
					return err
				}
				if app.JSON {
					return app.printJSON(info)
				}
				fmt.Fprintf(app.Stdout, "Revoked %s: its events after number %d are refused. Sync so the other nodes learn of it.\n",
					info.ID, info.RevokedAfter)
				return nil
			})
		},
	}
}

// joinFlags are init's flags for joining an organisation.
type joinFlags struct {
	file   string
	peers  []string
	caFile string
}

func (f *joinFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "join", "", "join an existing organisation with this invitation file")
	cmd.Flags().StringArrayVar(&f.peers, "peer", nil, "with --join: reach the inviting node at this URL instead of the invitation's (repeatable)")
	cmd.Flags().StringVar(&f.caFile, "peer-ca", "", "with --join: PEM file of CAs trusted for an https:// inviter, besides the system's")
}

// initJoin is `caravana init --join FILE`.
func (app *App) initJoin(cmd *cobra.Command, f joinFlags, name string) error {
	for _, fl := range []string{"admin", "admin-password-file"} {
		if cmd.Flags().Changed(fl) {
			return usagef("--%s does not go with --join: the organisation's users arrive with the first sync", fl)
		}
	}
	inv, err := replication.ReadInvitation(f.file)
	if err != nil {
		return err
	}
	hc, err := replication.NewHTTPClient(f.caFile)
	if err != nil {
		return err
	}
	p, err := app.passphrase(true)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := replication.Join(cmd.Context(), inv, replication.JoinOptions{Config: app.config(p), Name: name, URLs: f.peers,
		Client: &replication.Client{HTTP: hc}, Progress: app.syncProgress(inv.Inviter.ID)})
	if res.Node != nil {
		defer res.Node.Close()
	}
	if err != nil {
		if res.Node != nil {
			fmt.Fprintf(app.Stderr, "Node %s was created in %s and enrolled.\n", res.Node.Keys.NodeID, app.DataDir)
		}
		return fmt.Errorf("init --join: %w", err)
	}
	n := res.Node
	if app.JSON {
		return app.printJSON(map[string]any{"node_id": n.Keys.NodeID, "data": app.DataDir, "age_recipient": n.Keys.AgeRecipient,
			"org": n.Keys.OrgID(), "inviter": inv.Inviter.ID, "url": res.URL, "sync": res.Sync})
	}
	fmt.Fprintf(app.Stdout, "Joined organisation %s as node %s in %s (%s)\n", n.Keys.OrgID(), n.Keys.NodeID, app.DataDir,
		time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(app.Stdout, "Received %d events from %s at %s\n", res.Sync.Pulled, inv.Inviter.ID, res.URL)
	ca := ""
	if f.caFile != "" {
		ca = " --peer-ca " + f.caFile
	}
	fmt.Fprintf(app.Stdout, "Delete %s now: it is used. Next: caravana serve --data %s --sync-every 30s --peer %s%s\n", f.file, app.DataDir, res.URL, ca)
	return nil
}
