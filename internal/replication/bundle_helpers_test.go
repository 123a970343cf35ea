package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"reflect"
	"testing"

	"filippo.io/age"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// Helpers for the bundle tests; named bundle* so they cannot clash with
// other tests of the package.

var bundleKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const bundlePassphrase = "correct horse battery"

// bundleFounder makes a new organisation's first node.
func bundleFounder(t testing.TB) *node.Node {
	t.Helper()
	n, err := node.Init(context.Background(), node.Config{Dir: t.TempDir(), Passphrase: bundlePassphrase, KDF: bundleKDF, PasswordKDF: bundleKDF},
		node.InitOptions{Name: "front", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// bundleJoin makes a node of founder's organisation that trusts the
// founder, enrolled by enroller (none: never enrolled). It has received
// nothing yet.
func bundleJoin(t testing.TB, founder, enroller *node.Node, name string) *node.Node {
	t.Helper()
	keys, err := crypto.NewKeys(bundleKDF)
	if err != nil {
		t.Fatal(err)
	}
	return bundleJoinKeys(t, founder, enroller, name, keys)
}

func bundleJoinKeys(t testing.TB, founder, enroller *node.Node, name string, keys *crypto.Keys) *node.Node {
	t.Helper()
	ctx := context.Background()
	j, err := node.Join(ctx, node.Config{Dir: t.TempDir(), KDF: bundleKDF, PasswordKDF: bundleKDF}, keys, bundlePassphrase,
		founder.Keys.KeyID, founder.Keys.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	root, err := founder.Ledger.Founder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Ledger.Trust(ctx, root); err != nil {
		t.Fatal(err)
	}
	if enroller != nil {
		if err := enroller.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: name,
			SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// bundleRegister registers people on n.
func bundleRegister(t testing.TB, n *node.Node, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := n.Registry.Register(context.Background(), auth.Operator("test"), registry.PersonInput{GivenNames: name,
			Surname1: "Canario", Sex: "F", BirthDate: "1990-01-01", Consent: registry.Consent{Registration: true, Tracing: true}}); err != nil {
			t.Fatal(err)
		}
	}
}

// bundleDeliver gives b everything a holds that b lacks, the way live
// sync would (no bundle).
func bundleDeliver(t testing.TB, a, b *node.Node) {
	t.Helper()
	ctx := context.Background()
	for {
		vec, err := b.Ledger.Vector(ctx)
		if err != nil {
			t.Fatal(err)
		}
		evs, more, err := a.Ledger.Missing(ctx, vec, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		res, err := b.Ledger.Import(ctx, evs)
		if err != nil || len(res.Rejected) > 0 {
			t.Fatalf("deliver: %+v %v", res, err)
		}
		if !more {
			return
		}
	}
}

// bundleExport writes a bundle from a for the nodes to.
func bundleExport(t testing.TB, from *node.Node, all bool, to ...*node.Node) []byte {
	t.Helper()
	var ids []string
	for _, n := range to {
		ids = append(ids, n.Keys.NodeID)
	}
	var buf bytes.Buffer
	info, err := ExportBundle(context.Background(), from, ids, all, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != int64(buf.Len()) {
		t.Fatalf("export says %d bytes, wrote %d", info.Bytes, buf.Len())
	}
	return buf.Bytes()
}

// bundleState is what a refused bundle must not change: the state hash,
// the vector, and what the node knows of its peers.
type bundleState struct {
	hash   string
	vector map[string]uint64
	peers  []Peer
}

func bundleSnapshot(t testing.TB, n *node.Node) bundleState {
	t.Helper()
	ctx := context.Background()
	rep, err := n.Ledger.Verify(ctx, true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep.Problems, err)
	}
	peers, err := Peers(ctx, n.Store)
	if err != nil {
		t.Fatal(err)
	}
	return bundleState{hash: rep.StateHash, vector: rep.Nodes, peers: peers}
}

func (s bundleState) same(o bundleState) bool {
	return s.hash == o.hash && reflect.DeepEqual(s.vector, o.vector) && reflect.DeepEqual(s.peers, o.peers)
}

// bundleRefused imports data into n and checks it is refused for want
// and changes nothing.
func bundleRefused(t *testing.T, n *node.Node, data []byte, want ...error) {
	t.Helper()
	before := bundleSnapshot(t, n)
	res, err := ImportBundle(context.Background(), n, bytes.NewReader(data))
	if err == nil {
		t.Fatalf("accepted: %+v", res)
	}
	ok := false
	for _, w := range want {
		ok = ok || errors.Is(err, w)
	}
	if !ok {
		t.Fatalf("refused for the wrong reason: %v (want %v)", err, want)
	}
	if after := bundleSnapshot(t, n); !before.same(after) {
		t.Fatalf("a refused bundle (%v) changed the node: %+v -> %+v", err, before, after)
	}
}

func bundleNodeInfo(n *node.Node) ledger.NodeInfo {
	return ledger.NodeInfo{ID: n.Keys.NodeID, Name: "x", SigningKey: n.Keys.Signing.Public().(ed25519.PublicKey),
		AgeRecipient: n.Keys.AgeRecipient}
}

// bundleAgeHeaderLen is the length of a bundle file's age header.
func bundleAgeHeaderLen(t testing.TB, data []byte) int {
	t.Helper()
	hdr, err := age.ExtractHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return len(hdr)
}

// bundlePlaintext decrypts a bundle file with n's age key.
func bundlePlaintext(t testing.TB, n *node.Node, data []byte) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(data), n.Keys.AgeIdentity)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// bundleSeal encrypts plain to the nodes' age keys.
func bundleSeal(t testing.TB, plain []byte, to ...*node.Node) []byte {
	t.Helper()
	var rs []age.Recipient
	for _, n := range to {
		r, err := age.ParseX25519Recipient(n.Keys.AgeRecipient)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleResign re-writes a decrypted bundle with its header edited,
// signed by signer: a bundle a genuine sender could have written.
func bundleResign(t testing.TB, plain []byte, signer ed25519.PrivateKey, edit func(*BundleHeader)) []byte {
	t.Helper()
	d := newBundleDecoder(bytes.NewReader(plain))
	hdr, err := d.readHeader()
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for {
		var e event.Event
		ok, err := d.next(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		evs = append(evs, e)
	}
	h := *hdr
	edit(&h)
	var buf bytes.Buffer
	enc := newBundleEncoder(&buf)
	if err := enc.begin(&h); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := enc.event(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.finish(signer); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
