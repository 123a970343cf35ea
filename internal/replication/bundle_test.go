package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/store"
)

func bundleImport(t *testing.T, n *node.Node, data []byte) BundleResult {
	t.Helper()
	res, err := ImportBundle(context.Background(), n, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if total := res.Applied + res.Known + bundleRejectedCount(res); int64(total) != res.Events {
		t.Fatalf("applied %d + known %d + refused %d != %d events", res.Applied, res.Known, bundleRejectedCount(res), res.Events)
	}
	return res
}

func bundleRejectedCount(res BundleResult) int {
	c := 0
	for _, r := range res.Rejected {
		c += r.Count
	}
	return c
}

// TestBundleRoundTrip: a node that joined and has received nothing takes
// its organisation's whole log from a bundle and converges; the same file
// again, or an old one after a newer sync, changes nothing; the answer
// bundle carries only what the founder lacks, by the vector it learnt.
func TestBundleRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	bundleRegister(t, a, "Ana", "Beto")
	b := bundleJoin(t, a, a, "rear")

	first := bundleExport(t, a, false, b)
	res := bundleImport(t, b, first)
	vecA, _ := a.Ledger.Vector(ctx)
	if res.Applied != int(vecA[a.Keys.NodeID]) || res.Known != 0 || len(res.Rejected) != 0 || res.Sender != a.Keys.NodeID {
		t.Fatalf("first import: %+v (a holds %v)", res, vecA)
	}
	sa, sb := bundleSnapshot(t, a), bundleSnapshot(t, b)
	if sa.hash != sb.hash {
		t.Fatalf("state differs after the bundle: %s vs %s", sa.hash, sb.hash)
	}
	p, found, err := GetPeer(ctx, b.Store, a.Keys.NodeID)
	if err != nil || !found || p.Vector[a.Keys.NodeID] != vecA[a.Keys.NodeID] || p.LastHeard.IsZero() || p.Pulled != int64(res.Applied) {
		t.Fatalf("b's record of a: %+v %v %v", p, found, err)
	}

	// The same file twice: all known, nothing changes.
	again := bundleImport(t, b, first)
	if again.Applied != 0 || again.Known != res.Applied || len(again.Rejected) != 0 {
		t.Fatalf("second import: %+v", again)
	}
	if s := bundleSnapshot(t, b); !s.same(sb) {
		t.Fatal("importing the same bundle again changed the node")
	}

	// b answers: its bundle for a carries b's own events only, since b
	// knows from a's bundle what a holds.
	bundleRegister(t, b, "Carla")
	answer := bundleExport(t, b, false, a)
	res = bundleImport(t, a, answer)
	vecB, _ := b.Ledger.Vector(ctx)
	if res.Events != int64(vecB[b.Keys.NodeID]) || res.Applied != int(res.Events) {
		t.Fatalf("answer: %+v (b holds %v)", res, vecB)
	}
	if ha, hb := bundleSnapshot(t, a).hash, bundleSnapshot(t, b).hash; ha != hb {
		t.Fatalf("state differs after the answer: %s vs %s", ha, hb)
	}
	// With --all, everything travels, and is known.
	everything := bundleExport(t, b, true, a)
	res = bundleImport(t, a, everything)
	vecB, _ = b.Ledger.Vector(ctx)
	if res.Events != int64(vecB[a.Keys.NodeID]+vecB[b.Keys.NodeID]) || res.Applied != 0 {
		t.Fatalf("--all: %+v (b holds %v)", res, vecB)
	}

	// More happens and reaches b live, and by a newer bundle (all held
	// already); then the old bundle turns up.
	bundleRegister(t, a, "Dora")
	bundleDeliver(t, a, b)
	if newer := bundleImport(t, b, bundleExport(t, a, false, b)); newer.Applied != 0 || newer.Events == 0 {
		t.Fatalf("newer bundle: %+v", newer)
	}
	before := bundleSnapshot(t, b)
	old := bundleImport(t, b, first)
	if old.Applied != 0 || len(old.Rejected) != 0 {
		t.Fatalf("old bundle: %+v", old)
	}
	after := bundleSnapshot(t, b)
	if after.hash != before.hash || !after.same(before) {
		t.Fatalf("an old bundle changed the node: %+v -> %+v", before, after)
	}
}

// TestBundleSeveralRecipients: one file for two fresh nodes; each
// converges, and a third node it is not for cannot read it.
func TestBundleSeveralRecipients(t *testing.T) {
	a := bundleFounder(t)
	bundleRegister(t, a, "Ana")
	b := bundleJoin(t, a, a, "rear")
	c := bundleJoin(t, a, a, "shelter")
	d := bundleJoin(t, a, a, "legal")
	bundleDeliver(t, a, d)
	data := bundleExport(t, a, false, c, b)
	want := bundleSnapshot(t, a).hash
	for _, n := range []*node.Node{b, c} {
		res := bundleImport(t, n, data)
		if res.Applied == 0 {
			t.Fatalf("%s applied nothing", n.Keys.NodeID)
		}
		if got := bundleSnapshot(t, n).hash; got != want {
			t.Fatalf("%s: state %s, want %s", n.Keys.NodeID, got, want)
		}
	}
	bundleRefused(t, d, data, ErrNotAddressed)
}

// TestBundleFromNonFounder: a node enrolled by another than the founder
// takes its first bundle from that node: the sender is known through the
// enrolments in the bundle, signed by the founder it trusts.
func TestBundleFromNonFounder(t *testing.T) {
	a := bundleFounder(t)
	b := bundleJoin(t, a, a, "rear")
	bundleDeliver(t, a, b)
	bundleRegister(t, b, "Beto")
	c := bundleJoin(t, a, b, "shelter") // enrolled by b
	res := bundleImport(t, c, bundleExport(t, b, false, c))
	if res.Applied == 0 || len(res.Rejected) != 0 {
		t.Fatalf("import: %+v", res)
	}
	if hb, hc := bundleSnapshot(t, b).hash, bundleSnapshot(t, c).hash; hb != hc {
		t.Fatalf("state differs: %s vs %s", hb, hc)
	}
}

// TestBundleBatches: a bundle applied in many small batches, whose node
// events come before the enrolment that admits them (a later batch), is
// applied whole by a second pass.
func TestBundleBatches(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	// c's events must come first in the bundle: a node id below a's.
	var c *node.Node
	for c == nil {
		keys, err := crypto.NewKeys(bundleKDF)
		if err != nil {
			t.Fatal(err)
		}
		if keys.NodeID < a.Keys.NodeID {
			c = bundleJoinKeys(t, a, a, "shelter", keys)
		}
	}
	bundleDeliver(t, a, c)
	bundleRegister(t, c, "Carla", "Cira", "Cora")
	bundleDeliver(t, c, a)
	bundleRegister(t, a, "Ana")
	b := bundleJoin(t, a, a, "rear")

	var buf bytes.Buffer
	if _, err := ExportBundle(ctx, a, []string{b.Keys.NodeID}, false, &buf); err != nil {
		t.Fatal(err)
	}
	res, err := ImportBundle(ctx, b, bytes.NewReader(buf.Bytes()), withApplyBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != int(res.Events) || res.Known != 0 || len(res.Rejected) != 0 {
		t.Fatalf("import in small batches: %+v", res)
	}
	if ha, hb := bundleSnapshot(t, a).hash, bundleSnapshot(t, b).hash; ha != hb {
		t.Fatalf("state differs: %s vs %s", ha, hb)
	}
}

// TestBundleUnseekable: a bundle from a pipe is copied (still encrypted)
// to a temporary file in the node folder, which is gone afterwards.
func TestBundleUnseekable(t *testing.T) {
	a := bundleFounder(t)
	bundleRegister(t, a, "Ana")
	b := bundleJoin(t, a, a, "rear")
	data := bundleExport(t, a, false, b)
	res, err := ImportBundle(context.Background(), b, io.MultiReader(bytes.NewReader(data)))
	if err != nil || res.Applied == 0 {
		t.Fatalf("import from a pipe: %+v %v", res, err)
	}
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if bytes.HasPrefix([]byte(e.Name()), []byte(".bundle-")) {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestBundleFile: outside its encryption a bundle shows nothing: no node
// id, organisation or name; and its length is the age header, the nonce
// and whole chunks, which is how a cut file is recognised.
func TestBundleFile(t *testing.T) {
	a := bundleFounder(t)
	bundleRegister(t, a, "Anacleta")
	b := bundleJoin(t, a, a, "rear")
	data := bundleExport(t, a, false, b)
	for _, secret := range []string{a.Keys.NodeID, b.Keys.NodeID, a.Keys.OrgID(), "Anacleta", "caravana", "person.registered", "front"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the bundle file shows %q", secret)
		}
	}
	src, _, err := seekable(bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	cut, err := checkEnvelope(src)
	if err != nil || cut {
		t.Fatalf("a complete bundle's length looks cut (%v): age chunking is not what bundle_codec.go assumes", err)
	}
}

// TestBundleRefusals: every kind of bad bundle is refused for its reason
// and changes nothing on the importing node.
func TestBundleRefusals(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	bundleRegister(t, a, "Ana")
	b := bundleJoin(t, a, a, "rear")
	c := bundleJoin(t, a, a, "shelter")
	bundleDeliver(t, a, b)
	bundleDeliver(t, a, c)
	// Enough people for a bundle of several age chunks.
	for i := range 150 {
		bundleRegister(t, a, fmt.Sprintf("Persona%02d", i))
	}
	good := bundleExport(t, a, false, b)
	if len(good) < 2*(ageChunk+ageOverhead) {
		t.Fatalf("the test bundle is %d bytes: fewer than two chunks", len(good))
	}

	t.Run("tampered", func(t *testing.T) {
		hdr := bundleAgeHeaderLen(t, good)
		positions := []int{}
		for i := 0; i < hdr+ageNonce; i++ {
			positions = append(positions, i)
		}
		for i := hdr + ageNonce; i < len(good); i += 509 {
			positions = append(positions, i)
		}
		positions = append(positions, len(good)-1)
		before := bundleSnapshot(t, b)
		for _, i := range positions {
			bad := bytes.Clone(good)
			bad[i] ^= 0x04
			_, err := ImportBundle(ctx, b, bytes.NewReader(bad))
			switch {
			case err == nil:
				t.Fatalf("byte %d changed: accepted", i)
			case i >= hdr && !errors.Is(err, ErrTampered):
				t.Fatalf("byte %d of the encrypted content changed: %v", i, err)
			case !errors.Is(err, ErrTampered) && !errors.Is(err, ErrNotBundle) && !errors.Is(err, ErrNotAddressed):
				// A changed recipient stanza reads as addressed to
				// someone else: age cannot tell the two apart.
				t.Fatalf("byte %d of the header changed: %v", i, err)
			}
		}
		if after := bundleSnapshot(t, b); !before.same(after) {
			t.Fatal("a tampered bundle changed the node")
		}
	})

	t.Run("forged by another recipient", func(t *testing.T) {
		// Any recipient can decrypt and re-encrypt; only the signature
		// tells: change one event, re-encrypt to b.
		plain := bundlePlaintext(t, b, good)
		i := bytes.Index(plain, []byte("person.registered"))
		if i < 0 {
			t.Fatal("no event found in the plaintext")
		}
		plain[i+len("person.registered")+5] ^= 1
		bundleRefused(t, b, bundleSeal(t, plain, b), ErrTampered)
		// Events dropped from the end: the count no longer matches.
		bundleRefused(t, b, bundleSeal(t, plain[:len(plain)/2], b), ErrTruncated, ErrTampered)
	})

	t.Run("truncated", func(t *testing.T) {
		hdr := bundleAgeHeaderLen(t, good)
		for _, k := range []int{5, 30, hdr - 1, hdr, hdr + 10, hdr + ageNonce, hdr + ageNonce + 100,
			hdr + ageNonce + ageChunk + ageOverhead, len(good) - 200, len(good) - 1} {
			if k <= 0 || k >= len(good) {
				continue
			}
			bundleRefused(t, b, good[:k], ErrTruncated)
		}
		bundleRefused(t, b, good[:0], ErrNotBundle)
	})

	t.Run("another organisation", func(t *testing.T) {
		x := bundleFounder(t) // a second organisation
		bundleRegister(t, x, "Xena")
		// x knows b's keys (say, b was enrolled there by mistake).
		if err := x.Ledger.Enrol(ctx, "test", bundleNodeInfo(b)); err != nil {
			t.Fatal(err)
		}
		bundleRefused(t, b, bundleExport(t, x, true, b), ErrOtherOrg)
	})

	t.Run("addressed to another node", func(t *testing.T) {
		bundleRefused(t, b, bundleExport(t, a, false, c), ErrNotAddressed)
		// Encrypted to b, but its signed header names only c.
		plain := bundleResign(t, bundlePlaintext(t, b, good), a.Keys.Signing, func(h *BundleHeader) {
			h.Recipients = []string{c.Keys.NodeID}
		})
		bundleRefused(t, b, bundleSeal(t, plain, b), ErrNotAddressed)
	})

	t.Run("unknown sender", func(t *testing.T) {
		u := bundleJoin(t, a, nil, "stray") // has the data key, never enrolled
		bundleDeliver(t, a, u)
		bundleRefused(t, b, bundleExport(t, u, false, b), ErrUnknownSender)
	})

	t.Run("revoked sender", func(t *testing.T) {
		r := bundleJoin(t, a, a, "office") // its own recipient: b stays as it is
		bundleDeliver(t, a, r)
		d := bundleJoin(t, a, a, "seized")
		bundleDeliver(t, a, d)
		if _, err := a.Ledger.Revoke(ctx, "test", d.Keys.NodeID); err != nil {
			t.Fatal(err)
		}
		stale := bundleExport(t, d, false, r) // before d hears of it
		bundleDeliver(t, a, d)                // d now holds its own revocation
		told := bundleExport(t, d, false, r)
		// r has not heard of d at all: the bundle enrols it and revokes it.
		bundleRefused(t, r, told, ErrRevokedSender)
		bundleDeliver(t, a, r)
		bundleRefused(t, r, stale, ErrRevokedSender)
	})

	t.Run("not a bundle", func(t *testing.T) {
		garbage := make([]byte, 3000)
		for i := range garbage {
			garbage[i] = byte(i * 7)
		}
		bundleRefused(t, b, garbage, ErrNotBundle)
		bundleRefused(t, b, []byte("name,surname\nAna,Canario\n"), ErrNotBundle)
		bundleRefused(t, b, bundleSeal(t, []byte("just some text, encrypted to b"), b), ErrNotBundle)
		bundleRefused(t, b, bundlePlaintext(t, b, good), ErrNotBundle) // decrypted: not for sending
	})

	t.Run("newer format", func(t *testing.T) {
		plain := bundlePlaintext(t, b, good)
		plain[len(bundleMagic)+1] = bundleVersion + 1
		bundleRefused(t, b, bundleSeal(t, plain, b), ErrNewerFormat)
	})

	t.Run("changed between check and import", func(t *testing.T) {
		bundleRegister(t, a, "Dora")
		other := bundleExport(t, a, false, b)
		r := &bundleSwapReader{first: good, then: other, swapAfter: 3}
		before := bundleSnapshot(t, b)
		if _, err := ImportBundle(ctx, b, r, withApplyBatch(1)); !errors.Is(err, ErrTampered) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("a bundle swapped after its check: %v", err)
		}
		if after := bundleSnapshot(t, b); !before.same(after) {
			t.Fatal("a bundle swapped after its check changed the node")
		}
	})

	// After all that, the genuine bundle still applies.
	res := bundleImport(t, b, good)
	if res.Applied == 0 {
		t.Fatalf("the genuine bundle: %+v", res)
	}
}

// TestBundleExportRefuses: unknown, revoked or own recipients, or none.
func TestBundleExportRefuses(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	b := bundleJoin(t, a, a, "rear")
	c := bundleJoin(t, a, a, "seized")
	if _, err := a.Ledger.Revoke(ctx, "test", c.Keys.NodeID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to   []string
		want error
	}{
		{[]string{"0123456789abcdef"}, ErrUnknownRecipient},
		{[]string{b.Keys.NodeID, "nobody"}, ErrUnknownRecipient},
		{[]string{c.Keys.NodeID}, ErrRevokedRecipient},
		{[]string{a.Keys.NodeID}, nil},
		{nil, nil},
	} {
		var buf bytes.Buffer
		_, err := ExportBundle(ctx, a, tc.to, false, &buf)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("export to %v: %v, want %v", tc.to, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("export to %v wrote %d bytes before refusing", tc.to, buf.Len())
		}
	}
	// By name, too.
	var buf bytes.Buffer
	info, err := ExportBundle(ctx, a, []string{"REAR"}, false, &buf)
	if err != nil || len(info.Recipients) != 1 || info.Recipients[0] != b.Keys.NodeID {
		t.Fatalf("export by name: %+v %v", info, err)
	}
}

// bundleSwapReader serves first until it has been rewound swapAfter times, then
// then: a file replaced between the check and the import.
type bundleSwapReader struct {
	first, then []byte
	swapAfter   int
	seeks       int
	r           *bytes.Reader
}

func (s *bundleSwapReader) Read(p []byte) (int, error) {
	if s.r == nil {
		s.r = bytes.NewReader(s.first)
	}
	return s.r.Read(p)
}

func (s *bundleSwapReader) Seek(off int64, whence int) (int64, error) {
	if s.r == nil {
		s.r = bytes.NewReader(s.first)
	}
	if whence == io.SeekStart {
		s.seeks++
		if s.seeks > s.swapAfter {
			s.r = bytes.NewReader(s.then)
		}
	}
	return s.r.Seek(off, whence)
}

// bundleFutureEvents appends count events to n's own log stamped skew
// ahead: what a node whose clock runs ahead writes.
func bundleFutureEvents(t *testing.T, n *node.Node, count int, skew time.Duration) {
	t.Helper()
	ctx := context.Background()
	err := n.Store.Update(ctx, func(tx store.Tx) error {
		head, err := tx.Head(ctx, n.Keys.NodeID)
		if err != nil {
			return err
		}
		at := time.Now().Add(skew).UnixMilli()
		for i := range count {
			e := event.Event{Node: n.Keys.NodeID, Seq: head.Seq + 1, HLC: event.MakeHLC(at, uint16(i)), Actor: "test",
				Kind: "test.future", Subject: "test/1", Body: json.RawMessage(`{}`), Prev: head.Hash}
			e.Seal(n.Keys.Signing)
			if err := tx.InsertEvent(ctx, &e); err != nil {
				return err
			}
			head.Seq, head.Hash = e.Seq, e.Hash
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBundleHeldFuture: a bundle's events stamped two hours ahead are
// held for review, reported as such, and not applied; importing the same
// bundle again holds nothing twice.
func TestBundleHeldFuture(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	bundleRegister(t, a, "Ana")
	b := bundleJoin(t, a, a, "rear")
	bundleFutureEvents(t, a, 2, 2*time.Hour)
	data := bundleExport(t, a, false, b)
	vecA, _ := a.Ledger.Vector(ctx)
	head := vecA[a.Keys.NodeID]

	for range 2 {
		res := bundleImport(t, b, data)
		want := ledger.Rejection{Node: a.Keys.NodeID, Seq: head - 1, Count: 2, Reason: ledger.ReasonFuture}
		if len(res.Rejected) != 1 || res.Rejected[0] != want {
			t.Fatalf("import: %+v, want held %v", res, want)
		}
		vecB, _ := b.Ledger.Vector(ctx)
		if vecB[a.Keys.NodeID] != head-2 {
			t.Fatalf("b holds %d of a's events, want %d", vecB[a.Keys.NodeID], head-2)
		}
		runs, err := b.Ledger.Held(ctx)
		if err != nil || len(runs) != 1 || runs[0].Node != a.Keys.NodeID || runs[0].First != head-1 || runs[0].Count != 2 {
			t.Fatalf("held on b: %+v %v", runs, err)
		}
	}
}

// TestBundleAllOrNothing (S12): a bundle whose apply fails after several
// batches — the file changes under it near its end — leaves the node
// exactly as it was: nothing of the batches before the failure stays.
func TestBundleAllOrNothing(t *testing.T) {
	ctx := context.Background()
	a := bundleFounder(t)
	b := bundleJoin(t, a, a, "rear")
	for i := range 150 {
		bundleRegister(t, a, fmt.Sprintf("Persona%02d", i))
	}
	good := bundleExport(t, a, false, b)
	if len(good) < 2*(ageChunk+ageOverhead) {
		t.Fatalf("the test bundle is %d bytes: fewer than two chunks", len(good))
	}
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0x04 // the last chunk no longer authenticates
	before := bundleSnapshot(t, b)
	const batch = 10
	var total, reached int
	r := &bundleSwapReader{first: good, then: bad, swapAfter: 3}
	_, err := ImportBundle(ctx, b, r, withApplyBatch(batch), WithProgress(func(done, all int) { total, reached = all/2, max(reached, done) }))
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("a bundle whose end changed after its check: %v", err)
	}
	if applied := reached - total; applied < 3*batch {
		t.Fatalf("the apply failed after %d events: the test needs it to fail after several batches", applied)
	}
	if after := bundleSnapshot(t, b); !before.same(after) {
		t.Fatalf("a bundle that failed part-way changed the node: %+v -> %+v", before, after)
	}
	// The genuine bundle applies whole.
	if res := bundleImport(t, b, good); res.Applied != int(res.Events) {
		t.Fatalf("the genuine bundle: %+v", res)
	}
	if ha, hb := bundleSnapshot(t, a).hash, bundleSnapshot(t, b).hash; ha != hb {
		t.Fatalf("state differs: %s vs %s", ha, hb)
	}
}
