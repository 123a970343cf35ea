package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/replication"
)

// The sync endpoints (/sync/v1/...) are answered by the replication
// package: node-signed requests, no session. The status page and its JSON
// twin are for coordinators.

// maxSyncBody caps a sync request body: the protocol's own bound, far
// above the API's, since a push carries thousands of events.
const maxSyncBody = replication.MaxBody

func isSyncProtocol(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/sync/v1/") }

type syncPeerRow struct {
	replication.PeerStatus
	Heard, Synced, ErrorAt string
}

type syncNodeRow struct {
	ledger.NodeInfo
	Enrolled string
	Self     bool
	By       string
}

// syncHeldRow is one node's events held for review (S14).
type syncHeldRow struct {
	ledger.HeldRun
	Name, StampedAt, DueAt, AheadBy string
}

type syncData struct {
	Self   string
	Events int64
	Peers  []syncPeerRow
	Nodes  []syncNodeRow
	Held   []syncHeldRow
	// MaxDrift is how far ahead, in minutes, an event may be stamped
	// before it is held.
	MaxDrift int
	Done     string
}

// aheadText says how far ahead a clock is, in days, hours and minutes.
func aheadText(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	if days > 0 {
		return fmt.Sprintf("%dd %dh %02dm", days, hours, mins)
	}
	return fmt.Sprintf("%dh %02dm", hours, mins)
}

func syncTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// syncPage lists the peers (when last heard, how far behind each side is,
// the last error), the events held for review because they are stamped in
// the future (with the command that releases them), and the enrolled
// nodes, with a revoke button for each.
func (s *Server) syncPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SyncRead); err != nil {
		return err
	}
	st, err := replication.ReadStatus(r.Context(), s.n)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, n := range st.Nodes {
		names[n.ID] = n.Name
	}
	held, err := s.n.Ledger.Held(r.Context())
	if err != nil {
		return err
	}
	d := syncData{Self: st.Node, Events: st.Events, MaxDrift: int(event.MaxDrift / time.Minute)}
	for _, h := range held {
		d.Held = append(d.Held, syncHeldRow{HeldRun: h, Name: names[h.Node], StampedAt: syncTime(h.Stamped), DueAt: syncTime(h.Due),
			AheadBy: aheadText(h.Ahead())})
	}
	switch done := r.URL.Query().Get("done"); done {
	case "revoked", "released":
		d.Done = done
	}
	for _, p := range st.Peers {
		d.Peers = append(d.Peers, syncPeerRow{PeerStatus: p, Heard: syncTime(p.LastHeard), Synced: syncTime(p.LastSync), ErrorAt: syncTime(p.LastErrorAt)})
	}
	for _, n := range st.Nodes {
		by := names[n.EnrolledBy]
		if by == "" {
			by = n.EnrolledBy
		}
		d.Nodes = append(d.Nodes, syncNodeRow{NodeInfo: n, Enrolled: syncTime(time.UnixMilli(n.EnrolledAt)), Self: n.ID == st.Node, By: by})
	}
	v := s.newView(r, c, "sync.title", "sync", d)
	switch d.Done {
	case "revoked":
		v.Flash = c.T("sync.done_revoked")
	case "released":
		v.Flash = c.T("sync.done_released")
	}
	return s.render(w, r, http.StatusOK, "sync", v)
}

// revokeNode cuts a node off. The form must tick "confirm": revocation
// cannot be undone, and a page without JavaScript has no dialog to ask.
func (s *Server) revokeNode(r *http.Request, c *reqCtx, id string) error {
	if err := auth.Check(c.p, auth.NodeRevoke); err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "1" {
		return invalid(registry.FieldError{Field: "confirm", Code: "required", Message: "tick the box to confirm"})
	}
	if id == s.n.Keys.NodeID {
		return invalid(registry.FieldError{Field: "node", Code: "self", Message: "a node cannot revoke itself"})
	}
	if _, err := s.n.Ledger.Revoke(r.Context(), c.p.Actor(), id); err != nil {
		if errors.Is(err, ledger.ErrUnknownNode) {
			return errNotFound
		}
		return err
	}
	return nil
}

func (s *Server) syncRevoke(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.revokeNode(r, c, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/sync?done=revoked")
}

// syncRelease applies a node's held events now: a coordinator has judged
// them sound though stamped in the future (a device with a wrong clock).
// The form must tick "confirm", as revocation's does: their timestamps
// will win over later edits until the clocks catch up.
func (s *Server) syncRelease(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SyncHold); err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "1" {
		return invalid(registry.FieldError{Field: "confirm", Code: "required", Message: "tick the box to confirm"})
	}
	if _, err := s.n.Ledger.Release(r.Context(), c.p.Actor(), r.PathValue("id")); err != nil {
		if errors.Is(err, ledger.ErrNotHeld) {
			return errNotFound
		}
		return err
	}
	return redirect(w, r, "/sync?done=released")
}

// apiSync is the status as JSON: this node, its vector, peers and nodes.
func (s *Server) apiSync(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SyncRead); err != nil {
		return err
	}
	st, err := replication.ReadStatus(r.Context(), s.n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
