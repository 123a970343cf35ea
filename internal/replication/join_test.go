package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/store"
)

// TestJoin: a node joins by invitation through the inviter's server: it
// gets the organisation's data key, its enrolment, the users and people,
// and records the inviter as a peer; the invitation is then used.
func TestJoin(t *testing.T) {
	ctx := context.Background()
	a := liveFounder(t)
	liveRegister(t, a, "Ana", 3)
	_, ts := liveServe(t, a)
	inv := liveInvite(t, a, ts.URL, time.Hour)
	cfg := liveConfig(t)
	res, err := Join(ctx, inv, JoinOptions{Config: cfg, Name: "rear guard"})
	if err != nil {
		t.Fatal(err)
	}
	b := res.Node
	defer b.Close()
	if b.Keys.OrgID() != a.Keys.OrgID() || b.Keys.NodeID == a.Keys.NodeID {
		t.Fatalf("org %s node %s; want org %s and a new node", b.Keys.OrgID(), b.Keys.NodeID, a.Keys.OrgID())
	}
	if res.Sync.Pulled == 0 || res.URL != ts.URL {
		t.Fatalf("first sync: %+v", res)
	}
	nodes, err := b.Ledger.NodeList(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("nodes known to the new node: %+v %v", nodes, err)
	}
	for _, x := range nodes {
		if x.ID == b.Keys.NodeID && (x.Name != "rear guard" || x.EnrolledBy != a.Keys.NodeID || x.AgeRecipient != b.Keys.AgeRecipient) {
			t.Fatalf("the new node's enrolment: %+v", x)
		}
	}
	if _, _, _, err := b.Auth.Login(ctx, b.Throttle, "ana", "long enough pw", "127.0.0.1"); err != nil {
		t.Fatalf("the founder's coordinator cannot log in on the new node: %v", err)
	}
	if liveState(t, a) != liveState(t, b) {
		t.Fatal("the new node's state differs from the inviter's after the first sync")
	}
	p, found, err := GetPeer(ctx, b.Store, a.Keys.NodeID)
	if err != nil || !found || p.URL != ts.URL || p.LastSync.IsZero() {
		t.Fatalf("inviter as peer: %+v %v %v", p, found, err)
	}
	// The key file holds the organisation's key under the new passphrase.
	b.Close()
	again, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("reopen the joined node: %v", err)
	}
	again.Close()
	// The invitation is spent.
	var rec inviteRecord
	err = a.Store.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.LocalGet(ctx, localInvite, inv.ID)
		if err != nil {
			return err
		}
		return json.Unmarshal(data, &rec)
	})
	if err != nil || rec.UsedBy != b.Keys.NodeID || rec.UsedAt.IsZero() {
		t.Fatalf("invite record: %+v %v", rec, err)
	}
	if len(rec.ProofKey) != ed25519.PublicKeySize || bytes.Contains(mustJSON(t, rec), inv.Secret) {
		t.Fatal("the inviter keeps the secret instead of its proof key")
	}
	if st, err := os.Stat(filepath.Join(cfg.Dir, crypto.KeyFileName)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestJoinRefused: a wrong proof, a used or expired invitation, another
// organisation and an answer not signed by the inviter are all refused, and
// nothing is enrolled or created.
func TestJoinRefused(t *testing.T) {
	ctx := context.Background()
	a := liveFounder(t)
	srv, ts := liveServe(t, a)
	enrolled := func() int {
		nodes, err := a.Ledger.NodeList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(nodes)
	}
	try := func(inv Invitation) (string, error) {
		cfg := liveConfig(t)
		res, err := Join(ctx, inv, JoinOptions{Config: cfg})
		if err == nil {
			t.Cleanup(func() { res.Node.Close() })
		} else if _, serr := os.Stat(cfg.Dir); serr == nil {
			t.Errorf("a refused join left %s behind", cfg.Dir)
		}
		return cfg.Dir, err
	}
	code := func(err error) string {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return ""
	}

	t.Run("bad proof", func(t *testing.T) {
		inv := liveInvite(t, a, ts.URL, time.Hour)
		inv.Secret = bytes.Repeat([]byte{7}, 32)
		if _, err := try(inv); code(err) != "bad_invite" {
			t.Fatalf("err = %v", err)
		}
		inv.ID = "0000000000000000" // no such invitation: the same answer
		if _, err := try(inv); code(err) != "bad_invite" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("used", func(t *testing.T) {
		inv := liveInvite(t, a, ts.URL, time.Hour)
		if _, err := try(inv); err != nil {
			t.Fatal(err)
		}
		if _, err := try(inv); code(err) != "invite_used" {
			t.Fatalf("second use: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		inv := liveInvite(t, a, ts.URL, time.Minute)
		srv.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		defer func() { srv.now = time.Now }()
		if _, err := try(inv); code(err) != "invite_expired" {
			t.Fatalf("err = %v", err)
		}
		inv.Expires = time.Now().Add(-time.Second) // the new node checks too, before asking
		if _, err := try(inv); !errors.Is(err, ErrInviteExpired) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("another organisation", func(t *testing.T) {
		inv := liveInvite(t, a, ts.URL, time.Hour)
		inv.Org = "00000000000000ff"
		if _, err := try(inv); code(err) != "bad_signature" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("answer not from the inviter", func(t *testing.T) {
		inv := liveInvite(t, a, ts.URL, time.Hour)
		impostor, _ := crypto.NewKeys(liveKDF)
		inv.Inviter = NodeRef{ID: impostor.NodeID, SigningKey: impostor.Signing.Public().(ed25519.PublicKey)}
		if _, err := try(inv); !errors.Is(err, ErrBadResponse) {
			t.Fatalf("err = %v", err)
		}
	})
	before := enrolled()
	t.Run("a data key of another organisation", func(t *testing.T) {
		// An inviter's answer (signed, for this node) whose data key is
		// not the invitation's organisation's: refused before anything is made.
		inv := liveInvite(t, a, ts.URL, time.Hour)
		keys, _ := crypto.NewKeys(liveKDF)
		other := crypto.Keys{DataKey: [32]byte{1, 2, 3}}
		grant, _ := json.Marshal(joinGrant{Org: inv.Org, Invite: inv.ID, Node: keys.NodeID, KeyID: "k", DataKey: other.DataKey[:]})
		rcpt, _ := age.ParseX25519Recipient(keys.AgeRecipient)
		var sealed bytes.Buffer
		w, _ := age.Encrypt(&sealed, rcpt)
		w.Write(grant)
		w.Close()
		if _, _, err := grantFrom(inv, keys, JoinResponse{Org: inv.Org, Node: inv.Inviter.ID, Sealed: sealed.Bytes()}); !errors.Is(err, ErrWrongOrg) {
			t.Fatalf("err = %v", err)
		}
		// And sealed to another node's age key: it does not open.
		if _, _, err := grantFrom(inv, liveOtherKeys(t), JoinResponse{Org: inv.Org, Node: inv.Inviter.ID, Sealed: sealed.Bytes()}); err == nil {
			t.Fatal("a grant for another node opened")
		}
	})
	if got := enrolled(); got != before {
		t.Fatalf("refused joins enrolled nodes: %d -> %d", before, got)
	}
	// The founder, the first join in "used", and the one whose invitation
	// named another inviter: the real inviter enrolled it and answered,
	// but the new node refused an answer its invitation does not vouch for.
	if got := enrolled(); got != 3 {
		t.Fatalf("%d nodes enrolled, want 3", got)
	}
}

func liveOtherKeys(t *testing.T) *crypto.Keys {
	k, err := crypto.NewKeys(liveKDF)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJoinRepeatAnswered: the same join request (same node, same keys)
// sent again, e.g. after a lost answer, is answered again, without a second
// enrolment; another node with the same invitation is refused.
func TestJoinRepeatAnswered(t *testing.T) {
	ctx := context.Background()
	a := liveFounder(t)
	_, ts := liveServe(t, a)
	inv := liveInvite(t, a, ts.URL, time.Hour)
	keys, _ := crypto.NewKeys(liveKDF)
	req := JoinRequest{Invite: inv.ID, Node: keys.NodeID, Name: "x", SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}
	req.Proof = ed25519.Sign(proofKey(inv.Secret), joinMessage(inv.Org, req))
	hc, _ := NewHTTPClient("")
	for i := range 2 {
		var resp JoinResponse
		if err := requestJoin(ctx, hc, ts.URL, inv, keys, req, &resp, time.Now()); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if _, _, err := grantFrom(inv, keys, resp); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	nodes, _ := a.Ledger.NodeList(ctx)
	if len(nodes) != 2 {
		t.Fatalf("%d nodes enrolled, want 2", len(nodes))
	}
	// The proof binds the keys: another node cannot reuse it.
	thief, _ := crypto.NewKeys(liveKDF)
	stolen := req
	stolen.Node, stolen.SigningKey, stolen.AgeRecipient = thief.NodeID, thief.Signing.Public().(ed25519.PublicKey), thief.AgeRecipient
	var resp JoinResponse
	var pe *ProtocolError
	if err := requestJoin(ctx, hc, ts.URL, inv, thief, stolen, &resp, time.Now()); !errors.As(err, &pe) || pe.Code != "bad_invite" {
		t.Fatalf("a proof reused with other keys: %v", err)
	}
}

// TestJoinThenSyncLater: if the first sync after a join fails, the node
// is there, enrolled, with the inviter recorded as a peer with its key;
// a later sync (which needs that key: nothing is in the new node's log
// yet) finishes the job.
func TestJoinThenSyncLater(t *testing.T) {
	ctx := context.Background()
	a := liveFounder(t)
	liveRegister(t, a, "Ana", 2)
	_, h := liveMux(a)
	var down atomic.Bool
	down.Store(true)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() && r.URL.Path == PathPull {
			writeProtocolError(w, errBusy)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	inv := liveInvite(t, a, ts.URL, time.Hour)
	res, err := Join(ctx, inv, JoinOptions{Config: liveConfig(t)})
	if !errors.Is(err, ErrJoinedNotSynced) || res.Node == nil {
		t.Fatalf("join with the first sync failing: %v", err)
	}
	b := res.Node
	defer b.Close()
	if nodes, _ := b.Ledger.NodeList(ctx); len(nodes) != 0 {
		t.Fatalf("the new node knows %d nodes before any sync", len(nodes))
	}
	p, found, err := GetPeer(ctx, b.Store, a.Keys.NodeID)
	if err != nil || !found || !bytes.Equal(p.Key, a.Ledger.PublicKey()) || p.LastError == "" {
		t.Fatalf("the inviter's record: %+v %v %v", p, found, err)
	}
	down.Store(false)
	if _, err := Sync(ctx, b, ts.URL, nil); err != nil {
		t.Fatal(err)
	}
	if liveState(t, a) != liveState(t, b) {
		t.Fatal("no convergence after the later sync")
	}
}
