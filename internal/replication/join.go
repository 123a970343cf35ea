package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/node"
)

// JoinOptions are the choices of `caravana init --join`.
type JoinOptions struct {
	// Config says where the new node lives and its passphrase.
	Config node.Config
	// Name labels the new node (default: the invitation's label).
	Name string
	// URLs, when set, replace the invitation's URLs of the inviter.
	URLs []string
	// Client syncs the new node at once (nil: defaults).
	Client *Client
	// Progress follows that first sync.
	Progress func(Progress)
}

// JoinResult says how a join went.
type JoinResult struct {
	Node *node.Node // the new node, open; the caller closes it
	URL  string     // where the inviter answered
	Sync Report     // the first sync with the inviter
}

// ErrJoinedNotSynced wraps a failed first sync: the node was created and
// enrolled, and syncing again finishes the job.
var ErrJoinedNotSynced = errors.New("the node joined, but its first sync failed; run `caravana sync --peer URL` to finish")

// Join creates a new node that joins the organisation of inv: it makes the
// node's keys, sends the join request to the inviter, opens the data key
// the inviter answers with, creates the node (no genesis: its enrolment is
// in the inviter's log), trusts the founder, records the inviter as a peer
// and syncs with it at once. If only that sync fails, the node is returned
// with an error wrapping ErrJoinedNotSynced.
func Join(ctx context.Context, inv Invitation, opt JoinOptions) (JoinResult, error) {
	cfg := opt.Config
	if time.Now().After(inv.Expires) {
		return JoinResult{}, ErrInviteExpired
	}
	// Refuse what node.Join would refuse before the invitation is spent.
	if err := crypto.CheckPassphrase(cfg.Passphrase); err != nil {
		return JoinResult{}, err
	}
	if err := node.CheckNew(ctx, cfg); err != nil {
		return JoinResult{}, err
	}
	name := opt.Name
	if name == "" {
		name = inv.Name
	}
	if err := checkName(name); err != nil {
		return JoinResult{}, err
	}
	urls := opt.URLs
	if len(urls) == 0 {
		urls = inv.URLs
	}
	c := opt.Client
	if c == nil {
		c = &Client{}
	}
	hc := c.HTTP
	if hc == nil {
		var err error
		if hc, err = NewHTTPClient(""); err != nil {
			return JoinResult{}, err
		}
	}
	keys, err := crypto.NewKeys(cfg.KDF)
	if err != nil {
		return JoinResult{}, fmt.Errorf("make node keys: %w", err)
	}
	req := JoinRequest{Invite: inv.ID, Node: keys.NodeID, Name: name,
		SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}
	req.Proof = ed25519.Sign(proofKey(inv.Secret), joinMessage(inv.Org, req))

	var resp JoinResponse
	var used string
	var errs []error
	for _, u := range urls {
		u = strings.TrimRight(u, "/")
		if err := checkURL(u); err != nil {
			return JoinResult{}, err
		}
		err := requestJoin(ctx, hc, u, inv, keys, req, &resp, c.clock())
		if err == nil {
			used = u
			break
		}
		var pe *ProtocolError
		if errors.As(err, &pe) || errors.Is(err, ErrBadResponse) {
			return JoinResult{}, fmt.Errorf("join via %s: %w", u, err) // the inviter answered: no use trying elsewhere
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	if used == "" {
		return JoinResult{}, fmt.Errorf("join: the inviting node did not answer (is it running `caravana serve`?): %w", errors.Join(errs...))
	}
	keyID, dataKey, err := grantFrom(inv, keys, resp)
	if err != nil {
		return JoinResult{}, fmt.Errorf("join: %w", err)
	}
	n, err := node.Join(ctx, cfg, keys, cfg.Passphrase, keyID, dataKey)
	if err != nil {
		return JoinResult{}, fmt.Errorf("join: create the node (the invitation is now used): %w", err)
	}
	res := JoinResult{Node: n, URL: used}
	fail := func(err error) (JoinResult, error) {
		n.Close()
		return JoinResult{}, err
	}
	if err := n.Ledger.Trust(ctx, ledger.NodeInfo{ID: inv.Founder.ID, Name: inv.Founder.Name, SigningKey: inv.Founder.SigningKey}); err != nil {
		return fail(fmt.Errorf("join: %w", err))
	}
	if err := UpdatePeer(ctx, n.Store, inv.Inviter.ID, func(p *Peer) {
		p.URL, p.Key = used, inv.Inviter.SigningKey
	}); err != nil {
		return fail(fmt.Errorf("join: record the inviter: %w", err))
	}
	res.Sync, err = c.Sync(ctx, n, used, opt.Progress)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrJoinedNotSynced, err)
	}
	return res, nil
}

// requestJoin sends the join request, signed by the new node's key, and
// checks that the answer is signed by the inviter.
func requestJoin(ctx context.Context, hc *http.Client, base string, inv Invitation, keys *crypto.Keys, jr JoinRequest, out *JoinResponse, now time.Time) error {
	body, err := json.Marshal(jr)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+PathJoin, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "identity")
	signRequest(req, inv.Org, keys.NodeID, keys.Signing, body, now)
	ans, hdr, err := roundTrip(hc, req)
	if err != nil {
		return err
	}
	if hdr.Get(HeaderNode) != inv.Inviter.ID {
		return ErrBadResponse
	}
	if err := verifyResponse(hdr, inv.Org, http.StatusOK, inv.Inviter.SigningKey, req.Header.Get(HeaderSignature), ans); err != nil {
		return err
	}
	data, perr := decodeBody(hdr.Get("Content-Encoding"), ans)
	if perr != nil {
		return errors.New(perr.Msg)
	}
	return decodeStrict(data, out)
}
