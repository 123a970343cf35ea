package replication

// Bundles carry events between nodes by hand — a file on a USB stick —
// when no link joins them. A bundle is an age file (filippo.io/age,
// X25519) encrypted to its recipients' age keys, whose plaintext is
// signed by the sender's node key; bundle_codec.go describes the
// plaintext. A bundle holds every event the recipients may lack, by the
// version vectors the sender last heard from them, and the sender's own
// vector, which the recipient records as what the sender holds.
//
// Outside age, a bundle shows only its size, to the nearest 64 KiB, and
// how many recipients it has: not who sent it, to whom, or when.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/store"
)

// Why a bundle is refused. Every refusal wraps one of these, and applies
// nothing.
var (
	ErrNotBundle     = errors.New("not a caravana bundle")
	ErrNotAddressed  = errors.New("the bundle is not addressed to this node")
	ErrTruncated     = errors.New("the bundle is truncated")
	ErrTampered      = errors.New("the bundle is damaged or was tampered with")
	ErrOtherOrg      = errors.New("the bundle comes from another organisation")
	ErrUnknownSender = errors.New("the bundle's sender is not enrolled in this organisation")
	ErrRevokedSender = errors.New("the bundle's sender was revoked")
	ErrNewerFormat   = errors.New("the bundle was written by a newer caravana")
)

// Why an export is refused.
var (
	ErrUnknownRecipient = errors.New("no enrolled node has that id or name")
	ErrRevokedRecipient = errors.New("the node was revoked: it is sent nothing more")
)

// BundleInfo says what ExportBundle wrote.
type BundleInfo struct {
	Org        string    `json:"org"`
	Sender     string    `json:"sender"`
	Recipients []string  `json:"recipients"`
	Created    time.Time `json:"created"`
	All        bool      `json:"all"`
	Events     int64     `json:"events"`
	Bytes      int64     `json:"bytes"`
}

// BundleResult says what ImportBundle did.
type BundleResult struct {
	Sender  string    `json:"sender"`
	Created time.Time `json:"created"`
	Events  int64     `json:"events"`
	// Applied, Known and Rejected partition the bundle's events: new and
	// applied, already here, refused or held for review (with the reason;
	// never applied). Held counts those of Rejected held for review (S14:
	// stamped in the future), which apply later.
	Applied  int                `json:"applied"`
	Known    int                `json:"known"`
	Held     int                `json:"held"`
	Rejected []ledger.Rejection `json:"rejected"`
	// Purged counts events of revoked nodes dropped after their cut.
	Purged int `json:"purged"`
}

// BundleOption changes how a bundle is written or read.
type BundleOption func(*bundleOptions)

type bundleOptions struct {
	progress func(done, total int)
	batch    int // events per apply batch (tests make it small)
}

// WithProgress reports progress: done out of total steps (events written;
// on import, events checked and then applied).
func WithProgress(fn func(done, total int)) BundleOption {
	return func(o *bundleOptions) { o.progress = fn }
}

// withApplyBatch sets how many events each batch handed to
// ledger.ImportBatches holds.
func withApplyBatch(n int) BundleOption {
	return func(o *bundleOptions) { o.batch = n }
}

func collectOptions(opts []BundleOption) bundleOptions {
	var o bundleOptions
	for _, fn := range opts {
		fn(&o)
	}
	if o.progress == nil {
		o.progress = func(int, int) {}
	}
	if o.batch <= 0 {
		o.batch = applyBatchEvents
	}
	return o
}

// exportPage is how many events one read of the log brings.
const exportPage = 5000

// ExportBundle writes to w a bundle for the nodes in to (ids, or unique
// names, of enrolled nodes that are not revoked): every event they may
// lack by the vectors this node last heard from them — everything for a
// node never heard from, or with all — encrypted to their age keys and
// signed by this node. It streams: the log is read a page at a time.
func ExportBundle(ctx context.Context, n *node.Node, to []string, all bool, w io.Writer, opts ...BundleOption) (BundleInfo, error) {
	o := collectOptions(opts)
	nodes, err := n.Ledger.NodeList(ctx)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	ids, recips, err := bundleRecipients(nodes, to, n.Keys.NodeID)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	// A snapshot of what this node holds: events appended while the
	// bundle is written wait for the next one.
	snap, err := n.Ledger.Vector(ctx)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	for _, nd := range nodes {
		if hi, ok := snap[nd.ID]; ok && nd.Revoked {
			snap[nd.ID] = min(hi, nd.RevokedAfter)
		}
	}
	from := map[string]uint64{}
	if !all {
		if from, err = leastHeard(ctx, n.Store, ids, snap); err != nil {
			return BundleInfo{}, fmt.Errorf("export: %w", err)
		}
	}
	hdr := BundleHeader{Format: bundleFormat, Version: bundleVersion, Org: n.Keys.OrgID(), Sender: n.Keys.NodeID,
		Recipients: ids, Created: time.Now().UTC(), Vector: snap, From: from, All: all}
	for id, hi := range snap {
		if hi > from[id] {
			hdr.Events += int64(hi - from[id])
		}
	}

	cw := &countingWriter{w: w}
	aw, err := age.Encrypt(cw, recips...)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("export: encrypt: %w", err)
	}
	bw := bufio.NewWriterSize(aw, 256<<10)
	enc := newBundleEncoder(bw)
	if err := enc.begin(&hdr); err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	if err := writeMissing(ctx, n, enc, snap, from, int(hdr.Events), o.progress); err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	if enc.events != hdr.Events {
		return BundleInfo{}, fmt.Errorf("export: the log changed while the bundle was written (%d events, %d expected): run the export again", enc.events, hdr.Events)
	}
	if err := enc.finish(n.Keys.Signing); err != nil {
		return BundleInfo{}, fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return BundleInfo{}, fmt.Errorf("export: write: %w", err)
	}
	if err := aw.Close(); err != nil {
		return BundleInfo{}, fmt.Errorf("export: write: %w", err)
	}
	// The bundle holds the whole log a recipient lacks, personal data
	// sealed: who exported what, to whom, is in the audit trail (S10).
	if err := n.Ledger.Audit(ctx, store.AuditEntry{At: time.Now().UnixMilli(), Actor: "sync", Action: "sync.export",
		Record: "log", Detail: fmt.Sprintf("bundle of %d events for %s", hdr.Events, strings.Join(ids, ", "))}); err != nil {
		return BundleInfo{}, fmt.Errorf("export: audit: %w", err)
	}
	return BundleInfo{Org: hdr.Org, Sender: hdr.Sender, Recipients: ids, Created: hdr.Created, All: all,
		Events: hdr.Events, Bytes: cw.n}, nil
}

// bundleRecipients resolves the recipients to enrolled, unrevoked nodes
// other than self, and their age keys.
func bundleRecipients(nodes []ledger.NodeInfo, to []string, self string) ([]string, []age.Recipient, error) {
	if len(to) == 0 {
		return nil, nil, errors.New("no recipients: name at least one node")
	}
	var ids []string
	var recips []age.Recipient
	for _, want := range to {
		nd, err := findNode(nodes, want)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case nd.ID == self:
			return nil, nil, fmt.Errorf("recipient %s is this node itself", nd.ID)
		case nd.Revoked:
			return nil, nil, fmt.Errorf("recipient %s: %w", nd.ID, ErrRevokedRecipient)
		case slices.Contains(ids, nd.ID):
			continue
		}
		r, err := age.ParseX25519Recipient(nd.AgeRecipient)
		if err != nil {
			return nil, nil, fmt.Errorf("recipient %s has no usable age key: %w", nd.ID, err)
		}
		ids = append(ids, nd.ID)
		recips = append(recips, r)
	}
	if len(ids) > maxRecipients {
		return nil, nil, fmt.Errorf("%d recipients; a bundle has at most %d", len(ids), maxRecipients)
	}
	sort.Strings(ids)
	return ids, recips, nil
}

// findNode finds an enrolled node by id, or else by a name only it has.
func findNode(nodes []ledger.NodeInfo, want string) (ledger.NodeInfo, error) {
	for _, nd := range nodes {
		if nd.ID == want {
			return nd, nil
		}
	}
	var found []ledger.NodeInfo
	for _, nd := range nodes {
		if nd.Name != "" && strings.EqualFold(nd.Name, want) {
			found = append(found, nd)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ledger.NodeInfo{}, fmt.Errorf("recipient %q: %w", want, ErrUnknownRecipient)
	default:
		return ledger.NodeInfo{}, fmt.Errorf("recipient %q: %d nodes have that name; give its id", want, len(found))
	}
}

// leastHeard is, per node in snap, the least any recipient was last heard
// to hold (nothing for a recipient never heard from).
func leastHeard(ctx context.Context, st store.Store, ids []string, snap map[string]uint64) (map[string]uint64, error) {
	from := make(map[string]uint64, len(snap))
	for id := range snap {
		from[id] = math.MaxUint64
	}
	for _, id := range ids {
		p, _, err := GetPeer(ctx, st, id)
		if err != nil {
			return nil, err
		}
		for node, v := range from {
			from[node] = min(v, p.Vector[node])
		}
	}
	for node, v := range from {
		if v == 0 {
			delete(from, node)
		}
	}
	return from, nil
}

// writeMissing writes the events after from up to snap, page by page.
// Nodes done (or not in the snapshot) are given an infinite cursor so the
// log skips them.
func writeMissing(ctx context.Context, n *node.Node, enc *bundleEncoder, snap, from map[string]uint64, total int, progress func(int, int)) error {
	cursor := make(map[string]uint64, len(snap))
	for id, hi := range snap {
		cursor[id] = from[id]
		if from[id] >= hi {
			cursor[id] = math.MaxUint64
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		evs, more, err := n.Ledger.Missing(ctx, cursor, exportPage)
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		for i := range evs {
			e := &evs[i]
			hi, ok := snap[e.Node]
			if !ok || e.Seq > hi {
				cursor[e.Node] = math.MaxUint64
				continue
			}
			if err := enc.event(e); err != nil {
				return err
			}
			cursor[e.Node] = e.Seq
			if e.Seq == hi {
				cursor[e.Node] = math.MaxUint64
			}
		}
		progress(int(enc.events), total)
		if !more {
			return nil
		}
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
