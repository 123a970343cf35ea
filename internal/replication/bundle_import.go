package replication

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/node"
)

// Apply batches: bounded in events and in bytes so a bundle of any size is
// read and applied in bounded memory; all of them are applied in one
// transaction (ledger.ImportBatches).
const (
	applyBatchEvents = 20_000
	applyBatchBytes  = 32 << 20
	// maxNodeEvents bounds the enrolments and revocations kept from a
	// bundle to find its sender's key.
	maxNodeEvents = 10_000
	// maxApplyPasses bounds the re-reads that let a node's events follow
	// an enrolment that came in a later batch.
	maxApplyPasses = 8
	ageIntro       = "age-encryption.org/v1\n"
)

// ImportBundle reads a bundle addressed to this node and applies the
// events it lacks. The bundle is read and checked to its end first — age
// authentication of every chunk, the format, the organisation, the
// recipients, the count, and the sender's signature by an enrolled,
// unrevoked node — and only then applied, read batch by batch but in one
// transaction, through ledger.ImportBatches (which checks each node's
// chain and signatures again): all or nothing (S12), even if the apply
// fails or the node stops part-way. A bundle that fails any check applies
// nothing; one already imported, or older than what this node holds,
// changes nothing. Events stamped far in the future are held for review,
// reported among Rejected with ledger.ReasonFuture (S14). The sender's
// vector is recorded as what that peer holds.
//
// The file is read twice (check, then apply): r is re-read if it can
// seek, else copied first — still encrypted — to a temporary file in the
// node folder. Every batch is applied only if its bytes are the ones the
// first pass checked.
func ImportBundle(ctx context.Context, n *node.Node, r io.Reader, opts ...BundleOption) (BundleResult, error) {
	o := collectOptions(opts)
	src, cleanup, err := seekable(r, n.Dir)
	if err != nil {
		return BundleResult{}, fmt.Errorf("import bundle: %w", err)
	}
	defer cleanup()
	res, err := importBundle(ctx, n, src, o)
	if err != nil {
		return BundleResult{}, fmt.Errorf("import bundle: %w", err)
	}
	return res, nil
}

func importBundle(ctx context.Context, n *node.Node, src *rewinder, o bundleOptions) (BundleResult, error) {
	cutShort, err := checkEnvelope(src)
	if err != nil {
		return BundleResult{}, err
	}
	open := func() (*bundleDecoder, error) {
		if err := src.rewind(); err != nil {
			return nil, err
		}
		pt, err := age.Decrypt(bufio.NewReaderSize(src, 64<<10), n.Keys.AgeIdentity)
		if err != nil {
			return nil, ageError(err)
		}
		return newBundleDecoder(pt), nil
	}
	classify := func(err error) error {
		if se := (*streamError)(nil); errors.As(err, &se) {
			if cutShort || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: %v", ErrTruncated, err)
			}
			return fmt.Errorf("%w: %v", ErrTampered, err)
		}
		if errors.Is(err, errFormat) {
			return fmt.Errorf("%w: %v", ErrTampered, err)
		}
		return err
	}

	known, err := signers(ctx, n)
	if err != nil {
		return BundleResult{}, err
	}
	self, org := n.Keys.NodeID, n.Keys.OrgID()
	check := func(h *BundleHeader) error {
		switch {
		case h.Org != org:
			return fmt.Errorf("%w (organisation %s, this node's is %s)", ErrOtherOrg, h.Org, org)
		case !slices.Contains(h.Recipients, self):
			return fmt.Errorf("%w: it is for %s", ErrNotAddressed, strings.Join(h.Recipients, ", "))
		}
		if s, ok := known[h.Sender]; ok && s.Revoked {
			return fmt.Errorf("%w: node %s", ErrRevokedSender, h.Sender)
		}
		return nil
	}
	key := func(h *BundleHeader, nodeEvs []event.Event) (ed25519.PublicKey, error) {
		return senderKey(known, h.Sender, nodeEvs)
	}

	// Pass 1: check everything.
	dec, err := open()
	if err != nil {
		return BundleResult{}, err
	}
	v, err := verifyBundle(dec, check, key, o.batch, func(done, total int) { o.progress(done, 2*total) })
	if err != nil {
		return BundleResult{}, classify(err)
	}
	hdr := v.hdr
	total := int(hdr.Events)

	// Pass 2 (and more, rarely): apply, all in one transaction (S12: a
	// failure or a crash part-way applies nothing). A node's events
	// refused because its enrolment came in a later batch are taken on the
	// next pass.
	res := BundleResult{Sender: hdr.Sender, Created: hdr.Created, Events: hdr.Events}
	var last ledger.ImportResult
	appliedBefore := 0 // by the passes before the last
	all, err := n.Ledger.ImportBatches(ctx, func(apply func([]event.Event) (ledger.ImportResult, error)) error {
		for pass := 1; ; pass++ {
			dec, err := open()
			if err != nil {
				return err
			}
			appliedBefore = res.Applied
			last = ledger.ImportResult{}
			done := 0
			err = applyBundle(dec, v, func(batch []event.Event) error {
				r, err := apply(batch)
				if err != nil {
					return err
				}
				last.Applied += r.Applied
				last.Known += r.Known
				last.Rejected = mergeRejections(last.Rejected, r.Rejected)
				done += len(batch)
				o.progress(total+done, 2*total)
				return nil
			})
			if err != nil {
				return classify(err)
			}
			res.Applied += last.Applied
			waiting := slices.ContainsFunc(last.Rejected, func(r ledger.Rejection) bool { return r.Reason == ledger.ReasonNotEnrolled })
			if len(v.marks) <= 1 || last.Applied == 0 || !waiting || pass == maxApplyPasses {
				return nil
			}
		}
	})
	if err != nil {
		return BundleResult{}, err
	}
	// Held events whose time had come, applied as the import began, are
	// not the bundle's: they are in all.Applied but not in the passes'.
	res.Purged = all.Purged
	res.Known = last.Known - appliedBefore
	res.Rejected = last.Rejected
	if res.Rejected == nil {
		res.Rejected = []ledger.Rejection{}
	}
	for _, r := range res.Rejected {
		if r.Reason == ledger.ReasonFuture {
			res.Held += r.Count
		}
	}

	// What the sender holds, as of when it wrote the bundle. An older
	// bundle never lowers what a newer sync taught.
	heard := hdr.Created
	if now := time.Now().UTC(); heard.After(now) {
		heard = now // S14: a clock that runs ahead does not move ours
	}
	err = UpdatePeer(ctx, n.Store, hdr.Sender, func(p *Peer) {
		if p.Vector == nil {
			p.Vector = map[string]uint64{}
		}
		for node, seq := range hdr.Vector {
			p.Vector[node] = max(p.Vector[node], seq)
		}
		if heard.After(p.LastHeard) {
			p.LastHeard = heard
		}
		p.Pulled += int64(res.Applied)
	})
	if err != nil {
		return res, fmt.Errorf("record peer %s: %w", hdr.Sender, err)
	}
	return res, nil
}

// verified is what the first pass learnt: the header, and where the
// apply batches end with the digest of everything up to there.
type verified struct {
	hdr   BundleHeader
	marks []bundleMark
}

type bundleMark struct {
	events int64
	digest []byte
}

// verifyBundle reads a decrypted bundle to its end and checks it: check
// judges the header as soon as it is read; key gives the sender's key,
// told the bundle's enrolments and revocations (a node that has just
// joined learns its organisation's nodes from them).
func verifyBundle(d *bundleDecoder, check func(*BundleHeader) error,
	key func(*BundleHeader, []event.Event) (ed25519.PublicKey, error), batch int, progress func(done, total int)) (*verified, error) {
	hdr, err := d.readHeader()
	if err != nil {
		return nil, err
	}
	if err := check(hdr); err != nil {
		return nil, err
	}
	v := &verified{hdr: *hdr}
	var nodeEvs []event.Event
	var ev event.Event
	batchEvents, batchBytes := 0, 0
	mark := func() {
		v.marks = append(v.marks, bundleMark{events: d.events, digest: d.h.Sum(nil)})
		batchEvents, batchBytes = 0, 0
	}
	for {
		ok, err := d.next(&ev)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if strings.HasPrefix(ev.Kind, "node.") && len(nodeEvs) < maxNodeEvents {
			nodeEvs = append(nodeEvs, ev)
		}
		batchEvents++
		batchBytes += eventSize(&ev)
		if batchEvents >= batch || batchBytes >= applyBatchBytes || d.events == hdr.Events {
			mark()
			progress(int(d.events), int(hdr.Events))
		}
	}
	pub, err := key(hdr, nodeEvs)
	if err != nil {
		return nil, err
	}
	if err := d.verifySig(pub); err != nil {
		return nil, err
	}
	return v, nil
}

// applyBundle reads the same decrypted bundle again and hands its events
// to apply in the batches the first pass marked, each only once the
// digest of everything up to it matches what the first pass verified.
func applyBundle(d *bundleDecoder, v *verified, apply func([]event.Event) error) error {
	if _, err := d.readHeader(); err != nil {
		return err
	}
	var batch []event.Event
	for _, m := range v.marks {
		batch = batch[:0]
		for d.events < m.events {
			var ev event.Event
			ok, err := d.next(&ev)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: the bundle changed between its check and its import", ErrTampered)
			}
			batch = append(batch, ev)
		}
		if !bytes.Equal(d.h.Sum(nil), m.digest) {
			return fmt.Errorf("%w: the bundle changed between its check and its import", ErrTampered)
		}
		if err := apply(batch); err != nil {
			return err
		}
	}
	return nil
}

func eventSize(e *event.Event) int {
	return 128 + len(e.Node) + len(e.Actor) + len(e.Kind) + len(e.Subject) + len(e.Body) + len(e.Prev) + len(e.Hash) + len(e.Sig)
}

// signers are the nodes whose signatures this node accepts: the enrolled
// ones (with their revocation cuts) and the founding node it was told to
// trust when it joined (ledger.Trust), which is all a node that joined
// but has received nothing yet knows.
func signers(ctx context.Context, n *node.Node) (map[string]ledger.NodeInfo, error) {
	m, err := n.Ledger.Signers(ctx)
	if err != nil {
		return nil, fmt.Errorf("read enrolled nodes: %w", err)
	}
	return m, nil
}

// senderKey finds the key that must have signed a bundle from sender: an
// enrolled node's, or — for a node that has not heard of the sender yet —
// one enrolled by events in the bundle itself, each signed by a node
// already trusted (so a joining node can take its first bundle from any
// node of its organisation). A revocation of the sender, here or in the
// bundle, refuses it.
func senderKey(known map[string]ledger.NodeInfo, sender string, nodeEvs []event.Event) (ed25519.PublicKey, error) {
	trusted := make(map[string]ledger.NodeInfo, len(known))
	for id, nd := range known {
		trusted[id] = nd
	}
	valid := func(e *event.Event) bool {
		signer, ok := trusted[e.Node]
		return ok && signer.Accepts(e.Seq) && e.CheckHash() == nil && e.CheckSig(signer.SigningKey) == nil
	}
	for progress := true; progress; {
		progress = false
		for i := range nodeEvs {
			e := &nodeEvs[i]
			if e.Kind != ledger.KindNodeEnrolled || !valid(e) {
				continue
			}
			var nd ledger.NodeInfo
			if json.Unmarshal(e.Body, &nd) != nil || nd.ID == "" || len(nd.SigningKey) != ed25519.PublicKeySize {
				continue
			}
			if _, ok := trusted[nd.ID]; !ok {
				trusted[nd.ID] = ledger.NodeInfo{ID: nd.ID, SigningKey: nd.SigningKey}
				progress = true
			}
		}
	}
	s, ok := trusted[sender]
	if !ok {
		return nil, fmt.Errorf("%w: node %s", ErrUnknownSender, sender)
	}
	if s.Revoked {
		return nil, fmt.Errorf("%w: node %s", ErrRevokedSender, sender)
	}
	for i := range nodeEvs {
		e := &nodeEvs[i]
		if e.Kind != ledger.KindNodeRevoked || !valid(e) {
			continue
		}
		var b struct {
			Node string `json:"node"`
		}
		if json.Unmarshal(e.Body, &b) == nil && b.Node == sender {
			return nil, fmt.Errorf("%w: node %s (revoked by %s)", ErrRevokedSender, sender, e.Node)
		}
	}
	return s.SigningKey, nil
}

// mergeRejections adds rs to acc, one entry per node and reason.
func mergeRejections(acc, rs []ledger.Rejection) []ledger.Rejection {
	for _, r := range rs {
		i := slices.IndexFunc(acc, func(a ledger.Rejection) bool { return a.Node == r.Node && a.Reason == r.Reason })
		if i < 0 {
			acc = append(acc, r)
			continue
		}
		acc[i].Seq = min(acc[i].Seq, r.Seq)
		acc[i].Count += r.Count
	}
	sort.Slice(acc, func(i, j int) bool {
		if acc[i].Node != acc[j].Node {
			return acc[i].Node < acc[j].Node
		}
		return acc[i].Seq < acc[j].Seq
	})
	return acc
}

// checkEnvelope looks at the file outside its encryption: it must be an
// age file, and a complete bundle is its age header, a nonce and whole
// chunks (bundles are padded to whole chunks). cutShort reports a length
// that no complete bundle has; age's own checks come later.
func checkEnvelope(src *rewinder) (cutShort bool, err error) {
	if err := src.rewind(); err != nil {
		return false, err
	}
	intro := make([]byte, len(ageIntro))
	k, _ := io.ReadFull(src, intro)
	if string(intro[:k]) != ageIntro {
		if k == 0 {
			return false, fmt.Errorf("%w: the file is empty", ErrNotBundle)
		}
		if strings.HasPrefix(ageIntro, string(intro[:k])) {
			return false, fmt.Errorf("%w: it ends inside its header", ErrTruncated)
		}
		return false, fmt.Errorf("%w: it is not an age-encrypted file", ErrNotBundle)
	}
	if err := src.rewind(); err != nil {
		return false, err
	}
	hdr, err := age.ExtractHeader(bufio.NewReader(src))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return false, fmt.Errorf("%w: it ends inside its header", ErrTruncated)
		}
		return false, fmt.Errorf("%w: its header is damaged", ErrTampered)
	}
	payload := src.size - int64(len(hdr)) - ageNonce
	return payload <= 0 || payload%(ageChunk+ageOverhead) != 0, nil
}

// ageError says why age would not open a bundle.
func ageError(err error) error {
	var none *age.NoIdentityMatchError
	switch {
	case errors.As(err, &none):
		return fmt.Errorf("%w: none of its %d recipients is this node", ErrNotAddressed, len(none.StanzaTypes))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: it ends after its header", ErrTruncated)
	case strings.Contains(err.Error(), "header MAC"):
		return fmt.Errorf("%w: its header fails authentication", ErrTampered)
	default:
		return fmt.Errorf("%w: %v", ErrTampered, err)
	}
}

// rewinder reads a bundle file from its start as often as needed.
type rewinder struct {
	rs               io.ReadSeeker
	start, size, pos int64
}

func (r *rewinder) rewind() error {
	if _, err := r.rs.Seek(r.start, io.SeekStart); err != nil {
		return fmt.Errorf("rewind: %w", err)
	}
	r.pos = 0
	return nil
}

// Read stops at the size measured at the start, so a file that grows
// between the passes is read the same way both times.
func (r *rewinder) Read(p []byte) (int, error) {
	left := r.size - r.pos
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.rs.Read(p)
	r.pos += int64(n)
	return n, err
}

// seekable gives r as a rewinder: itself if it can seek, else a copy in a
// temporary file (ciphertext only, removed by cleanup) in dir.
func seekable(r io.Reader, dir string) (*rewinder, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err1 := rs.Seek(0, io.SeekCurrent)
		end, err2 := rs.Seek(0, io.SeekEnd)
		if err1 == nil && err2 == nil {
			return &rewinder{rs: rs, start: start, size: end - start}, func() {}, nil
		}
	}
	f, err := os.CreateTemp(dir, ".bundle-*.tmp")
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	size, err := io.Copy(f, r)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	return &rewinder{rs: f, size: size}, cleanup, nil
}
