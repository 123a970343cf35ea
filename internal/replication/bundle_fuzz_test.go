package replication

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime/metrics"
	"testing"
	"time"

	"caravana/internal/event"
)

// The fuzz bundles are signed by a fixed key and come from a fixed sender.
var bundleFuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

const bundleFuzzSender = "f00dfeedf00dfeed"

// bundleFuzzChain makes count signed, chained events of one node after
// from (the chain starting at an arbitrary hash when from > 0).
func bundleFuzzChain(node string, from uint64, count int, kind string) []event.Event {
	var prev []byte
	if from > 0 {
		prev = bytes.Repeat([]byte{byte(from)}, 32)
	}
	var out []event.Event
	for i := range count {
		e := event.Event{Node: node, Seq: from + uint64(i) + 1, HLC: event.HLC(1<<20 + i), Actor: "cli:test", Kind: kind,
			Subject: fmt.Sprintf("person/%d", i), Body: []byte(fmt.Sprintf(`{"fields":{"n":"s1.%d"}}`, i)), Prev: prev}
		e.Seal(bundleFuzzKey)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// bundleFuzzPlain encodes a signed plaintext bundle of evs (which must
// have the shape the header's vectors give); unpadded, it is small
// enough for the fuzzer to work on.
func bundleFuzzPlain(t testing.TB, from map[string]uint64, evs []event.Event, pad bool) []byte {
	t.Helper()
	vec := map[string]uint64{}
	for k, v := range from {
		vec[k] = v
	}
	for _, e := range evs {
		vec[e.Node] = max(vec[e.Node], e.Seq)
	}
	h := BundleHeader{Format: bundleFormat, Version: bundleVersion, Org: "0123456789abcdef", Sender: bundleFuzzSender,
		Recipients: []string{"a1b2c3d4e5f60718"}, Created: time.Unix(1_800_000_000, 0).UTC(), Vector: vec, From: from,
		Events: int64(len(evs))}
	var buf bytes.Buffer
	enc := newBundleEncoder(&buf)
	enc.noPad = !pad
	if err := enc.begin(&h); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := enc.event(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.finish(bundleFuzzKey); err != nil {
		t.Fatal(err)
	}
	if pad && buf.Len()%ageChunk != 0 {
		t.Fatalf("plaintext of %d bytes is not whole chunks", buf.Len())
	}
	return buf.Bytes()
}

// bundleFuzzSeeds are genuine bundles: the only inputs the reader may accept.
func bundleFuzzSeeds(t testing.TB) [][]byte {
	one := bundleFuzzChain("aaaaaaaaaaaaaaaa", 0, 3, "person.registered")
	two := bundleFuzzChain("bbbbbbbbbbbbbbbb", 2, 2, "node.enrolled")
	odd := bundleFuzzChain("cccccccccccccccc", 0, 2, "checkin.recorded")
	odd[1].Hash = bytes.Repeat([]byte{9}, 32) // stored hash and link kept as they are
	return [][]byte{
		bundleFuzzPlain(t, nil, nil, false),
		bundleFuzzPlain(t, nil, one, false),
		bundleFuzzPlain(t, map[string]uint64{"bbbbbbbbbbbbbbbb": 2, "dddddddddddddddd": 5}, append(one, two...), false),
		bundleFuzzPlain(t, nil, odd, false),
		bundleFuzzPlain(t, nil, one[:1], true),
	}
}

func bundleFuzzVerify(data []byte) (*verified, error) {
	key := func(h *BundleHeader, _ []event.Event) (ed25519.PublicKey, error) {
		if h.Sender != bundleFuzzSender {
			return nil, ErrUnknownSender
		}
		return bundleFuzzKey.Public().(ed25519.PublicKey), nil
	}
	return verifyBundle(newBundleDecoder(bytes.NewReader(data)), func(*BundleHeader) error { return nil }, key, 2, func(int, int) {})
}

// bundleAllocated is how many bytes the program has allocated so far
// (runtime/metrics: no stop-the-world, unlike runtime.ReadMemStats).
func bundleAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestBundleCodec: the seeds read back as written, event for event.
func TestBundleCodec(t *testing.T) {
	one := bundleFuzzChain("aaaaaaaaaaaaaaaa", 0, 3, "person.registered")
	two := bundleFuzzChain("bbbbbbbbbbbbbbbb", 2, 2, "node.enrolled")
	odd := bundleFuzzChain("cccccccccccccccc", 0, 2, "checkin.recorded")
	odd[1].Hash = bytes.Repeat([]byte{9}, 32)
	want := append(append(append([]event.Event{}, one...), two...), odd...)
	data := bundleFuzzPlain(t, map[string]uint64{"bbbbbbbbbbbbbbbb": 2}, want, true)
	v, err := bundleFuzzVerify(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	if err := applyBundle(newBundleDecoder(bytes.NewReader(data)), v, func(b []event.Event) error {
		got = append(got, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d events read, %d written", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Node != g.Node || w.Seq != g.Seq || w.HLC != g.HLC || w.Actor != g.Actor || w.Kind != g.Kind || w.Subject != g.Subject ||
			!bytes.Equal(w.Body, g.Body) || !bytes.Equal(w.Prev, g.Prev) || !bytes.Equal(w.Hash, g.Hash) || !bytes.Equal(w.Sig, g.Sig) {
			t.Fatalf("event %d read back as\n%+v\nwritten as\n%+v", i, g, w)
		}
	}
	// One event of a node out of order, or a header count that lies,
	// breaks the shape even with a valid signature.
	swapped := append(append([]event.Event{}, one[1], one[0]), one[2])
	if _, err := bundleFuzzVerify(bundleFuzzPlain(t, nil, swapped, false)); !errors.Is(err, errFormat) {
		t.Fatalf("events out of order: %v", err)
	}
}

// FuzzBundleReader feeds the reader (after decryption) arbitrary
// plaintexts. It must never panic, must allocate in proportion to its
// input, must give every refusal a reason, and must accept — and so apply
// — only the genuine bundles the key signed, byte for byte.
func FuzzBundleReader(f *testing.F) {
	seeds := bundleFuzzSeeds(f)
	genuine := map[string]bool{}
	for _, s := range seeds {
		genuine[string(s)] = true
		f.Add(s)
		// Cut, and with a byte changed in the middle of the content.
		f.Add(s[:len(s)/3])
		c := bytes.Clone(s)
		c[len(bundleMagic)+40] ^= 1
		f.Add(c)
	}
	f.Add([]byte{})
	f.Add([]byte(bundleMagic))
	f.Add(append([]byte(bundleMagic), 0, 2))
	f.Add(append([]byte(bundleMagic), 0, 1, frameHeader, 0xff, 0xff, 0xff, 0x7f))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := bundleAllocated()
		v, err := bundleFuzzVerify(data)
		if alloc := bundleAllocated() - before; alloc > 1<<20+64*uint64(len(data)) {
			t.Fatalf("%d bytes of input made the reader allocate %d bytes", len(data), alloc)
		}
		if err != nil {
			for _, reason := range []error{errFormat, ErrTruncated, ErrTampered, ErrNotBundle, ErrNewerFormat, ErrUnknownSender} {
				if errors.Is(err, reason) {
					return
				}
			}
			t.Fatalf("refused with no reason: %v", err)
		}
		if !genuine[string(data)] {
			t.Fatalf("accepted %d bytes the key never signed", len(data))
		}
		applied := int64(0)
		if err := applyBundle(newBundleDecoder(bytes.NewReader(data)), v, func(b []event.Event) error {
			applied += int64(len(b))
			return nil
		}); err != nil || applied != v.hdr.Events {
			t.Fatalf("a verified bundle applied %d of %d events: %v", applied, v.hdr.Events, err)
		}
	})
}
