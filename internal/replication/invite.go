package replication

// Enrolment by invitation. A coordinator writes a one-time invitation file
// (`caravana node invite`); the new device makes its own keys and sends a
// join request to the inviting node, proving it holds the invitation's
// secret; the inviter enrols it (a node.enrolled event in the log) and
// answers with the organisation's data key, encrypted to the new node's age
// key and signed by the inviter's node key.
//
// The proof is an ed25519 signature by a key derived from the secret: the
// inviter keeps only the public half (a one-way function of the secret), so
// its database, even read in the clear on a PostgreSQL hub, lets nobody
// join. An HMAC keyed by the secret would need the secret itself kept.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"

	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/store"
)

// localInvite is the local-document kind of an invitation's record on the
// inviting node (not an event: it is not synced).
const localInvite = "invite"

// DefaultInviteTTL is how long an invitation stays valid by default.
const DefaultInviteTTL = 72 * time.Hour

// maxInviteTTL bounds --expires: an invitation is a key to the organisation.
const maxInviteTTL = 30 * 24 * time.Hour

// maxJoinBody bounds a join request.
const maxJoinBody = 16 << 10

// NodeRef names a node and its signing key.
type NodeRef struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	SigningKey []byte `json:"signing_key"`
}

// Invitation is the one-time file a new device joins with. It holds a
// secret: whoever has it may join the organisation until it is used or
// expires, so it is written 0600 and should travel by hand.
type Invitation struct {
	Version int    `json:"version"`
	Org     string `json:"org"`
	// Founder is the organisation's founding node: the joining node's
	// trust anchor, from which every enrolment in the log is checked.
	Founder NodeRef `json:"founder"`
	// Inviter is the node that answers the join request, at URLs.
	Inviter NodeRef   `json:"inviter"`
	URLs    []string  `json:"urls"`
	ID      string    `json:"invite"`
	Secret  []byte    `json:"secret"`
	Name    string    `json:"name,omitempty"` // a label for the new node
	Expires time.Time `json:"expires"`
}

// inviteRecord is what the inviter keeps of an invitation.
type inviteRecord struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	ProofKey  []byte    `json:"proof_key"` // public half of the key derived from the secret
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Expires   time.Time `json:"expires"`
	// UsedBy is the node that joined with it; UsedKey its signing key (a
	// repeat of the same join, e.g. after a lost answer, is answered again).
	UsedBy  string    `json:"used_by,omitempty"`
	UsedKey []byte    `json:"used_key,omitempty"`
	UsedAt  time.Time `json:"used_at,omitzero"`
}

// proofKey derives the invitation's proof key from its secret.
func proofKey(secret []byte) ed25519.PrivateKey {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("caravana invite proof key v1"))
	return ed25519.NewKeyFromSeed(m.Sum(nil))
}

// InviteOptions are the choices of `caravana node invite`.
type InviteOptions struct {
	URLs  []string      // where the inviter is reached (it must be serving)
	Name  string        // label for the new node
	TTL   time.Duration // 0: DefaultInviteTTL
	Actor string        // who invites, for the record
}

// NewInvitation makes a one-time invitation to join n's organisation and
// records its proof key on n.
func NewInvitation(ctx context.Context, n *node.Node, opt InviteOptions) (Invitation, error) {
	if opt.TTL == 0 {
		opt.TTL = DefaultInviteTTL
	}
	if opt.TTL < time.Minute || opt.TTL > maxInviteTTL {
		return Invitation{}, fmt.Errorf("invite: expiry must be between 1 minute and %s", maxInviteTTL)
	}
	if len(opt.URLs) == 0 {
		return Invitation{}, errors.New("invite: give the URL(s) where this node serves (--url); the new node sends its join request there")
	}
	for _, u := range opt.URLs {
		if err := checkURL(u); err != nil {
			return Invitation{}, fmt.Errorf("invite: %w", err)
		}
	}
	if err := checkName(opt.Name); err != nil {
		return Invitation{}, fmt.Errorf("invite: %w", err)
	}
	founder, err := n.Ledger.Founder(ctx)
	if err != nil {
		return Invitation{}, fmt.Errorf("invite: this node does not know the organisation's founding node yet (sync first): %w", err)
	}
	self := NodeRef{ID: n.Keys.NodeID, SigningKey: n.Ledger.PublicKey()}
	if nodes, err := n.Ledger.NodeList(ctx); err == nil {
		for _, x := range nodes {
			if x.ID == self.ID {
				self.Name = x.Name
			}
		}
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	id := make([]byte, 8)
	rand.Read(id)
	now := time.Now().UTC()
	inv := Invitation{Version: 1, Org: n.Keys.OrgID(),
		Founder: NodeRef{ID: founder.ID, Name: founder.Name, SigningKey: founder.SigningKey},
		Inviter: self, URLs: opt.URLs, ID: hex.EncodeToString(id), Secret: secret, Name: opt.Name,
		Expires: now.Add(opt.TTL).Truncate(time.Second)}
	rec := inviteRecord{ID: inv.ID, Name: opt.Name, ProofKey: proofKey(secret).Public().(ed25519.PublicKey),
		CreatedBy: opt.Actor, CreatedAt: now, Expires: inv.Expires}
	data, err := json.Marshal(rec)
	if err != nil {
		return Invitation{}, err
	}
	err = n.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.LocalPut(ctx, localInvite, rec.ID, data); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{At: now.UnixMilli(), Actor: opt.Actor, Action: "node.invite",
			Record: "invite/" + rec.ID, Detail: "expires " + inv.Expires.Format(time.RFC3339)})
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("invite: record: %w", err)
	}
	return inv, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an http:// or https:// URL of a node", raw)
	}
	return nil
}

func checkName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("the node name must be at most 100 printable characters")
	}
	return nil
}

// WriteInvitation writes inv to path (0600), refusing to overwrite a file.
func WriteInvitation(path string, inv Invitation) error {
	data, err := json.MarshalIndent(inv, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write invitation: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write invitation: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write invitation: %w", err)
	}
	return f.Close()
}

// ReadInvitation reads and checks an invitation file.
func ReadInvitation(path string) (Invitation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Invitation{}, fmt.Errorf("read invitation: %w", err)
	}
	if len(data) > 64<<10 {
		return Invitation{}, fmt.Errorf("read invitation %s: too large to be one", path)
	}
	inv, err := DecodeInvitation(data)
	if err != nil {
		return Invitation{}, fmt.Errorf("read invitation %s: %w", path, err)
	}
	return inv, nil
}

// DecodeInvitation decodes and checks an invitation.
func DecodeInvitation(data []byte) (Invitation, error) {
	var inv Invitation
	if err := decodeStrict(data, &inv); err != nil {
		return inv, err
	}
	switch {
	case inv.Version != 1:
		return inv, fmt.Errorf("version %d is not one this program reads", inv.Version)
	case inv.Org == "" || inv.ID == "" || len(inv.ID) > maxID || len(inv.Org) > maxID:
		return inv, errors.New("missing organisation or invitation id")
	case len(inv.Secret) != 32:
		return inv, errors.New("missing or damaged secret")
	case !validRef(inv.Founder) || !validRef(inv.Inviter):
		return inv, errors.New("missing or damaged founder or inviter key")
	case len(inv.URLs) == 0:
		return inv, errors.New("no URL of the inviting node")
	case inv.Expires.IsZero():
		return inv, errors.New("no expiry")
	}
	for _, u := range inv.URLs {
		if err := checkURL(u); err != nil {
			return inv, err
		}
	}
	if err := checkName(inv.Name); err != nil {
		return inv, err
	}
	return inv, nil
}

func validRef(r NodeRef) bool {
	return len(r.SigningKey) == ed25519.PublicKeySize && r.ID == crypto.NodeIDFor(r.SigningKey)
}

// JoinRequest is what a new node sends to its inviter.
type JoinRequest struct {
	Invite       string `json:"invite"`
	Node         string `json:"node"`
	Name         string `json:"name"`
	SigningKey   []byte `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	// Proof is the invitation's proof key's signature over the rest.
	Proof []byte `json:"proof"`
}

// joinMessage is what the proof signs: every field, length-prefixed, and
// the organisation.
func joinMessage(org string, r JoinRequest) []byte {
	var b bytes.Buffer
	b.WriteString("caravana-join-v1")
	for _, part := range [][]byte{[]byte(org), []byte(r.Invite), []byte(r.Node), []byte(r.Name), r.SigningKey, []byte(r.AgeRecipient)} {
		binary.Write(&b, binary.BigEndian, uint32(len(part)))
		b.Write(part)
	}
	return b.Bytes()
}

// DecodeJoin decodes and checks a join request body.
func DecodeJoin(data []byte) (JoinRequest, error) {
	var r JoinRequest
	if err := decodeStrict(data, &r); err != nil {
		return r, err
	}
	switch {
	case r.Invite == "" || len(r.Invite) > maxID:
		return r, errors.New("missing invitation id")
	case len(r.SigningKey) != ed25519.PublicKeySize || r.Node != crypto.NodeIDFor(r.SigningKey):
		return r, errors.New("the node id does not match the signing key")
	case len(r.Proof) != ed25519.SignatureSize:
		return r, errors.New("missing proof")
	case len(r.AgeRecipient) > 200:
		return r, errors.New("the age recipient is not one")
	}
	if _, err := age.ParseX25519Recipient(r.AgeRecipient); err != nil {
		return r, errors.New("the age recipient is not one")
	}
	if err := checkName(r.Name); err != nil {
		return r, err
	}
	return r, nil
}

// JoinResponse carries the organisation's data key, sealed to the new
// node's age key. The whole answer is signed by the inviter's node key.
type JoinResponse struct {
	Org    string `json:"org"`
	Node   string `json:"node"`
	Sealed []byte `json:"sealed"`
}

// joinGrant is the sealed part.
type joinGrant struct {
	Org     string `json:"org"`
	Invite  string `json:"invite"`
	Node    string `json:"node"`
	KeyID   string `json:"key_id"`
	DataKey []byte `json:"data_key"`
}

// Errors of a join, as the inviter answers them.
var (
	errBadInvite     = &ProtocolError{http.StatusForbidden, "bad_invite", "no such invitation, or the proof does not match it"}
	errInviteExpired = &ProtocolError{http.StatusForbidden, "invite_expired", "the invitation has expired; ask for a new one"}
	errInviteUsed    = &ProtocolError{http.StatusConflict, "invite_used", "the invitation was already used by another node; ask for a new one"}
)

// Join answers POST /sync/v1/join: it checks the proof and the
// invitation, enrols the new node and sends it the data key.
func (s *Server) Join(w http.ResponseWriter, r *http.Request) {
	sr, perr := readSignature(r.Header, s.now())
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	data, perr := readBody(r.Body, maxJoinBody)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	req, err := DecodeJoin(data)
	if err != nil {
		writeProtocolError(w, badRequest("join: %v", err))
		return
	}
	org := s.n.Keys.OrgID()
	// The request is signed by the key being enrolled: the new node holds it.
	sum := sha256.Sum256(data)
	if sr.node != req.Node || !sr.verify(org, r.Method, r.URL.Path, req.SigningKey, sum[:]) {
		writeProtocolError(w, errBadSig)
		return
	}
	if !s.replay.fresh(sr.node, sr.nonce, sr.at, s.now()) {
		writeProtocolError(w, errReplay)
		return
	}
	resp, perr := s.join(r.Context(), org, req)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	s.answer(w, r, sr.sig, resp)
}

func (s *Server) join(ctx context.Context, org string, req JoinRequest) (JoinResponse, *ProtocolError) {
	now := s.now().UTC()
	var rec inviteRecord
	// The proof is checked on a read first: requests without one never
	// reach the writer.
	found, err := getLocal(ctx, s.n.Store, localInvite, req.Invite, &rec)
	if err != nil {
		s.log.Error("sync: join: read invitation", "err", err)
		return JoinResponse{}, errInternal
	}
	if !found || len(rec.ProofKey) != ed25519.PublicKeySize || !ed25519.Verify(rec.ProofKey, joinMessage(org, req), req.Proof) {
		return JoinResponse{}, errBadInvite
	}
	var perr *ProtocolError
	claimed := false
	// Check and claim the invitation in one transaction: one invitation
	// enrols one node, whatever races. It is claimed before the node is
	// enrolled: a crash between the two leaves it used and the node not
	// enrolled (ask for a new one), never one invitation for two nodes.
	err = s.n.Store.Update(ctx, func(tx store.Tx) error {
		data, err := tx.LocalGet(ctx, localInvite, req.Invite)
		if errors.Is(err, store.ErrNotFound) {
			perr = errBadInvite
			return nil
		}
		if err != nil {
			return err
		}
		rec = inviteRecord{}
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("invitation record: %w", err)
		}
		if len(rec.ProofKey) != ed25519.PublicKeySize || !ed25519.Verify(rec.ProofKey, joinMessage(org, req), req.Proof) {
			perr = errBadInvite
			return nil
		}
		repeat := rec.UsedBy == req.Node && bytes.Equal(rec.UsedKey, req.SigningKey)
		switch {
		case rec.UsedBy != "" && !repeat:
			perr = errInviteUsed
			return nil
		case !now.Before(rec.Expires):
			perr = errInviteExpired
			return nil
		case repeat:
			return nil // answered again: the first answer may have been lost
		}
		nodes, err := ledger.Nodes(ctx, tx)
		if err != nil {
			return err
		}
		for _, x := range nodes {
			if x.ID == req.Node {
				perr = &ProtocolError{http.StatusConflict, "already_enrolled", "a node with this key is already enrolled"}
				return nil
			}
		}
		rec.UsedBy, rec.UsedKey, rec.UsedAt = req.Node, req.SigningKey, now
		out, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		claimed = true
		return tx.LocalPut(ctx, localInvite, rec.ID, out)
	})
	if err != nil {
		s.log.Error("sync: join: claim invitation", "err", err)
		return JoinResponse{}, errInternal
	}
	if perr != nil {
		return JoinResponse{}, perr
	}
	if claimed {
		info := ledger.NodeInfo{ID: req.Node, Name: req.Name, SigningKey: req.SigningKey, AgeRecipient: req.AgeRecipient}
		if err := s.n.Ledger.Enrol(ctx, "invite:"+rec.ID, info); err != nil {
			s.log.Error("sync: join: enrol", "err", err)
			rec.UsedBy, rec.UsedKey, rec.UsedAt = "", nil, time.Time{}
			if err := putLocal(context.WithoutCancel(ctx), s.n.Store, localInvite, rec.ID, rec); err != nil {
				s.log.Error("sync: join: release invitation", "err", err)
			}
			return JoinResponse{}, errInternal
		}
		s.log.Info("sync: node enrolled by invitation", "invite", rec.ID, "node", req.Node)
	}
	grant, err := json.Marshal(joinGrant{Org: org, Invite: rec.ID, Node: req.Node, KeyID: s.n.Keys.KeyID, DataKey: s.n.Keys.DataKey[:]})
	if err != nil {
		return JoinResponse{}, errInternal
	}
	rcpt, err := age.ParseX25519Recipient(req.AgeRecipient)
	if err != nil {
		return JoinResponse{}, badRequest("join: the age recipient is not one")
	}
	var sealed bytes.Buffer
	aw, err := age.Encrypt(&sealed, rcpt)
	if err != nil {
		return JoinResponse{}, errInternal
	}
	if _, err := aw.Write(grant); err != nil {
		return JoinResponse{}, errInternal
	}
	if err := aw.Close(); err != nil {
		return JoinResponse{}, errInternal
	}
	return JoinResponse{Org: org, Node: s.n.Keys.NodeID, Sealed: sealed.Bytes()}, nil
}

func getLocal(ctx context.Context, st store.Store, kind, id string, v any) (bool, error) {
	found := false
	err := st.View(ctx, func(tx store.ReadTx) error {
		data, err := tx.LocalGet(ctx, kind, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return json.Unmarshal(data, v)
	})
	return found, err
}

func putLocal(ctx context.Context, st store.Store, kind, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return st.Update(ctx, func(tx store.Tx) error { return tx.LocalPut(ctx, kind, id, data) })
}

// Errors of joining, on the new node's side.
var (
	// ErrWrongOrg means the key the inviter sent is not the organisation
	// the invitation names.
	ErrWrongOrg = errors.New("the inviter's answer is for another organisation than the invitation's")
	// ErrInviteExpired means the invitation's expiry has passed.
	ErrInviteExpired = errors.New("the invitation has expired; ask for a new one")
)

// grantFrom checks a join answer and opens its grant.
func grantFrom(inv Invitation, keys *crypto.Keys, resp JoinResponse) (keyID string, dataKey [32]byte, err error) {
	if resp.Node != inv.Inviter.ID || resp.Org != inv.Org {
		return "", dataKey, ErrWrongOrg
	}
	pt, err := age.Decrypt(bytes.NewReader(resp.Sealed), keys.AgeIdentity)
	if err != nil {
		return "", dataKey, fmt.Errorf("open the data key: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(pt, 4096))
	if err != nil {
		return "", dataKey, fmt.Errorf("open the data key: %w", err)
	}
	var g joinGrant
	if err := decodeStrict(data, &g); err != nil {
		return "", dataKey, fmt.Errorf("open the data key: %w", err)
	}
	if len(g.DataKey) != 32 || g.KeyID == "" || g.Node != keys.NodeID || g.Invite != inv.ID {
		return "", dataKey, errors.New("the data key the inviter sent is not for this node and invitation")
	}
	copy(dataKey[:], g.DataKey)
	// The organisation id is derived from the data key: the key must be
	// the one of the organisation the invitation (and answer) name.
	probe := crypto.Keys{DataKey: dataKey}
	if g.Org != inv.Org || probe.OrgID() != inv.Org {
		return "", [32]byte{}, ErrWrongOrg
	}
	return g.KeyID, dataKey, nil
}
