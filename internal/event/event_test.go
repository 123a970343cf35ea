package event_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"caravana/internal/event"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func baseEvent() event.Event {
	return event.Event{
		Node: "a1b2c3d4e5f60718", Seq: 7, HLC: event.MakeHLC(1_700_000_000_000, 3), Actor: "ana",
		Kind: "person.registered", Subject: "person/42", Body: json.RawMessage(`{"surname":"s1.x.y"}`),
		Prev: bytes.Repeat([]byte{0xab}, 32),
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := baseEvent()
	want := base.ComputeHash()
	if len(want) != 32 {
		t.Fatalf("hash length %d, want 32", len(want))
	}
	tests := []struct {
		name   string
		change func(e *event.Event)
	}{
		{"node", func(e *event.Event) { e.Node = "a1b2c3d4e5f60719" }},
		{"seq", func(e *event.Event) { e.Seq++ }},
		{"seq high bit", func(e *event.Event) { e.Seq |= 1 << 63 }},
		{"hlc logical", func(e *event.Event) { e.HLC++ }},
		{"hlc millis", func(e *event.Event) { e.HLC += 1 << 16 }},
		{"actor", func(e *event.Event) { e.Actor = "ann" }},
		{"actor emptied", func(e *event.Event) { e.Actor = "" }},
		{"kind", func(e *event.Event) { e.Kind = "person.updated" }},
		{"subject", func(e *event.Event) { e.Subject = "person/43" }},
		{"body", func(e *event.Event) { e.Body = json.RawMessage(`{"surname":"s1.x.z"}`) }},
		{"body whitespace", func(e *event.Event) { e.Body = json.RawMessage(`{"surname": "s1.x.y"}`) }},
		{"prev", func(e *event.Event) { e.Prev = bytes.Repeat([]byte{0xac}, 32) }},
		{"prev removed", func(e *event.Event) { e.Prev = nil }},
		// Length prefixes: moving bytes between adjacent fields changes the hash.
		{"actor/kind boundary", func(e *event.Event) { e.Actor, e.Kind = "anap", "erson.registered" }},
		{"kind/subject boundary", func(e *event.Event) { e.Kind, e.Subject = "person.registeredp", "erson/42" }},
		{"node/actor via empty", func(e *event.Event) { e.Node, e.Actor = "", "a1b2c3d4e5f60718ana" }},
	}
	seen := map[string]string{string(want): "base"}
	for _, tt := range tests {
		e := baseEvent()
		tt.change(&e)
		got := e.ComputeHash()
		if prev, dup := seen[string(got)]; dup {
			t.Errorf("changing %s gives the same hash as %s", tt.name, prev)
		}
		seen[string(got)] = tt.name
	}
	// Hash and signature are outside what the hash covers.
	e := baseEvent()
	e.Hash, e.Sig = []byte("x"), []byte("y")
	if !bytes.Equal(e.ComputeHash(), want) {
		t.Error("Hash/Sig fields change the computed hash")
	}
	// Stored events come back with nil for an empty prev; both must hash alike.
	e = baseEvent()
	e.Prev = []byte{}
	n := baseEvent()
	n.Prev = nil
	if !bytes.Equal(e.ComputeHash(), n.ComputeHash()) {
		t.Error("empty and nil prev hash differently")
	}
}

func TestSealCheckSig(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, _ := newKey(t)
	e := baseEvent()
	e.Seal(priv)
	if err := e.CheckHash(); err != nil {
		t.Fatalf("CheckHash after Seal: %v", err)
	}
	if err := e.CheckSig(pub); err != nil {
		t.Fatalf("CheckSig after Seal: %v", err)
	}
	tests := []struct {
		name     string
		pub      ed25519.PublicKey
		change   func(e *event.Event)
		hashErr  error
		checkErr error
	}{
		{"another node's key", otherPub, nil, nil, event.ErrBadSignature},
		{"short key", pub[:10], nil, nil, event.ErrBadSignature},
		{"nil key", nil, nil, nil, event.ErrBadSignature},
		{"signature bit flipped", pub, func(e *event.Event) { e.Sig[5] ^= 1 }, nil, event.ErrBadSignature},
		{"signature missing", pub, func(e *event.Event) { e.Sig = nil }, nil, event.ErrBadSignature},
		{"body changed after sealing", pub, func(e *event.Event) { e.Body = json.RawMessage(`{}`) }, event.ErrBadHash, nil},
		{"hash replaced by the new content's", pub, func(e *event.Event) {
			e.Body = json.RawMessage(`{}`)
			e.Hash = e.ComputeHash()
		}, nil, event.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := baseEvent()
			e.Seal(priv)
			if tt.change != nil {
				tt.change(&e)
			}
			if err := e.CheckHash(); !errors.Is(err, tt.hashErr) || (tt.hashErr == nil && err != nil) {
				t.Errorf("CheckHash = %v, want %v", err, tt.hashErr)
			}
			if tt.checkErr != nil {
				if err := e.CheckSig(tt.pub); !errors.Is(err, tt.checkErr) {
					t.Errorf("CheckSig = %v, want %v", err, tt.checkErr)
				}
			}
		})
	}
}

// chain makes n sealed events of one node, seq 1..n.
func chain(priv ed25519.PrivateKey, node string, n int) []event.Event {
	out := make([]event.Event, n)
	var prev []byte
	for i := range out {
		e := event.Event{Node: node, Seq: uint64(i + 1), HLC: event.MakeHLC(1_700_000_000_000+int64(i), 0),
			Actor: "ana", Kind: "test.add", Subject: "counter/1", Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Prev: prev}
		e.Seal(priv)
		out[i] = e
		prev = e.Hash
	}
	return out
}

func cloneRun(run []event.Event) []event.Event {
	out := make([]event.Event, len(run))
	for i, e := range run {
		e.Body = append(json.RawMessage(nil), e.Body...)
		e.Prev = append([]byte(nil), e.Prev...)
		e.Hash = append([]byte(nil), e.Hash...)
		e.Sig = append([]byte(nil), e.Sig...)
		out[i] = e
	}
	return out
}

func TestVerifyRun(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	good := chain(priv, "n1", 6)
	// forged3 reuses seq 3 with other content, properly signed by the node.
	forged3 := good[2]
	forged3.Body = json.RawMessage(`{"n":999}`)
	forged3.Seal(priv)

	tests := []struct {
		name    string
		prev    []byte
		prevSeq uint64
		run     func(r []event.Event) []event.Event
		allSigs bool
		want    error
	}{
		{"good chain", nil, 0, nil, false, nil},
		{"good chain, all signatures", nil, 0, nil, true, nil},
		{"empty run", nil, 0, func(r []event.Event) []event.Event { return nil }, true, nil},
		{"run continuing a stored prefix", good[2].Hash, 3, func(r []event.Event) []event.Event { return r[3:] }, true, nil},
		{"gap", nil, 0, func(r []event.Event) []event.Event { return append(r[:2:2], r[3:]...) }, false, event.ErrBrokenChain},
		{"missing first", nil, 0, func(r []event.Event) []event.Event { return r[1:] }, false, event.ErrBrokenChain},
		{"reordered pair", nil, 0, func(r []event.Event) []event.Event { r[2], r[3] = r[3], r[2]; return r }, false, event.ErrBrokenChain},
		{"duplicate event", nil, 0, func(r []event.Event) []event.Event { return append(r[:3:3], r[2:]...) }, false, event.ErrBrokenChain},
		{"changed body", nil, 0, func(r []event.Event) []event.Event { r[2].Body = json.RawMessage(`{"n":7}`); return r }, false, event.ErrBadHash},
		{"changed body, re-hashed", nil, 0, func(r []event.Event) []event.Event {
			r[2].Body = json.RawMessage(`{"n":7}`)
			r[2].Hash = r[2].ComputeHash()
			return r
		}, false, event.ErrBrokenChain},
		{"changed body of the last, re-hashed", nil, 0, func(r []event.Event) []event.Event {
			r[5].Body = json.RawMessage(`{"n":7}`)
			r[5].Hash = r[5].ComputeHash()
			return r
		}, false, event.ErrBadSignature},
		{"wrong prev in the middle", nil, 0, func(r []event.Event) []event.Event { r[3].Prev = r[1].Hash; return r }, false, event.ErrBrokenChain},
		{"wrong prev, re-hashed", nil, 0, func(r []event.Event) []event.Event {
			r[3].Prev = r[1].Hash
			r[3].Hash = r[3].ComputeHash()
			return r
		}, false, event.ErrBrokenChain},
		{"first event has a prev", nil, 0, func(r []event.Event) []event.Event { r[0].Prev = []byte("x"); return r }, false, event.ErrBrokenChain},
		{"run does not follow the given prev", good[1].Hash, 3, func(r []event.Event) []event.Event { return r[3:] }, false, event.ErrBrokenChain},
		{"run does not follow the given seq", good[2].Hash, 2, func(r []event.Event) []event.Event { return r[3:] }, false, event.ErrBrokenChain},
		{"bad signature on the last", nil, 0, func(r []event.Event) []event.Event { r[5].Sig[0] ^= 1; return r }, false, event.ErrBadSignature},
		{"last signed by another key", nil, 0, func(r []event.Event) []event.Event { r[5].Seal(otherPriv); return r }, false, event.ErrBadSignature},
		// One signature per run is the design: the chain carries it to the others.
		{"bad signature in the middle, last only", nil, 0, func(r []event.Event) []event.Event { r[2].Sig[0] ^= 1; return r }, false, nil},
		{"bad signature in the middle, all", nil, 0, func(r []event.Event) []event.Event { r[2].Sig[0] ^= 1; return r }, true, event.ErrBadSignature},
		{"sequence number reused with other content", nil, 0, func(r []event.Event) []event.Event { r[2] = forged3; return r }, false, event.ErrBrokenChain},
		{"sequence number reused, all signatures", nil, 0, func(r []event.Event) []event.Event { r[2] = forged3; return r }, true, event.ErrBrokenChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := cloneRun(good)
			if tt.run != nil {
				run = tt.run(run)
			}
			err := event.VerifyRun(tt.prev, tt.prevSeq, run, pub, tt.allSigs)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("VerifyRun = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBeforeAndID(t *testing.T) {
	h := event.MakeHLC(1000, 0)
	tests := []struct {
		a, b event.Event
		want bool
	}{
		{event.Event{HLC: h, Node: "b", Seq: 9}, event.Event{HLC: h + 1, Node: "a", Seq: 1}, true},
		{event.Event{HLC: h + 1, Node: "a", Seq: 1}, event.Event{HLC: h, Node: "b", Seq: 9}, false},
		{event.Event{HLC: h, Node: "a", Seq: 9}, event.Event{HLC: h, Node: "b", Seq: 1}, true},
		{event.Event{HLC: h, Node: "b", Seq: 1}, event.Event{HLC: h, Node: "a", Seq: 9}, false},
		{event.Event{HLC: h, Node: "a", Seq: 1}, event.Event{HLC: h, Node: "a", Seq: 2}, true},
		{event.Event{HLC: h, Node: "a", Seq: 2}, event.Event{HLC: h, Node: "a", Seq: 2}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Before(&tt.b); got != tt.want {
			t.Errorf("%s@%d Before %s@%d = %v, want %v", tt.a.ID(), tt.a.HLC, tt.b.ID(), tt.b.HLC, got, tt.want)
		}
	}
	e := event.Event{Node: "a1b2", Seq: 42}
	if got := e.ID(); got != "a1b2/42" {
		t.Errorf("ID = %q", got)
	}
}
