// Package event is the node's event log: the immutable, signed, hash-chained
// record of every change. Tables elsewhere are projections of it; it is also
// the audit trail, the sync unit and the backup.
package event

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Event is one change, as signed by the node that made it.
type Event struct {
	Node    string          `json:"node"`
	Seq     uint64          `json:"seq"`
	HLC     HLC             `json:"hlc"`
	Actor   string          `json:"actor"`
	Kind    string          `json:"kind"`
	Subject string          `json:"subject"`
	Body    json.RawMessage `json:"body"`
	Prev    []byte          `json:"prev"`
	Hash    []byte          `json:"hash"`
	Sig     []byte          `json:"sig"`
}

var (
	// ErrBadHash means an event's hash does not match its content.
	ErrBadHash = errors.New("event hash does not match its content")
	// ErrBadSignature means the signature does not verify under the node's key.
	ErrBadSignature = errors.New("event signature does not verify")
	// ErrBrokenChain means an event does not follow its node's previous event.
	ErrBrokenChain = errors.New("event breaks its node's hash chain")
)

// canonical is the byte string the hash covers: every field but Hash and Sig,
// length-prefixed so no two different events encode alike.
func (e *Event) canonical() []byte {
	var b bytes.Buffer
	b.WriteString("caravana-event-v1")
	str := func(s string) {
		binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	str(e.Node)
	binary.Write(&b, binary.BigEndian, e.Seq)
	binary.Write(&b, binary.BigEndian, uint64(e.HLC))
	str(e.Actor)
	str(e.Kind)
	str(e.Subject)
	str(string(e.Body))
	str(string(e.Prev))
	return b.Bytes()
}

// ComputeHash returns the SHA-256 of the event's canonical encoding.
func (e *Event) ComputeHash() []byte {
	sum := sha256.Sum256(e.canonical())
	return sum[:]
}

// Seal sets Hash and signs it with the node's key.
func (e *Event) Seal(priv ed25519.PrivateKey) {
	e.Hash = e.ComputeHash()
	e.Sig = ed25519.Sign(priv, e.Hash)
}

// CheckHash verifies that Hash matches the content.
func (e *Event) CheckHash() error {
	if !bytes.Equal(e.Hash, e.ComputeHash()) {
		return fmt.Errorf("%s/%d: %w", e.Node, e.Seq, ErrBadHash)
	}
	return nil
}

// CheckSig verifies the signature over Hash.
func (e *Event) CheckSig(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, e.Hash, e.Sig) {
		return fmt.Errorf("%s/%d: %w", e.Node, e.Seq, ErrBadSignature)
	}
	return nil
}

// VerifyRun checks a contiguous run of one node's events that follows prev
// (the hash of the event before the run; nil before seq 1). Every hash and
// link is checked. Because each event commits to its predecessor's hash, a
// valid signature on the last event authenticates the whole run; allSigs asks
// for every signature anyway (audits).
func VerifyRun(prev []byte, prevSeq uint64, run []Event, pub ed25519.PublicKey, allSigs bool) error {
	for i := range run {
		e := &run[i]
		if e.Seq != prevSeq+1 {
			return fmt.Errorf("%s/%d: %w: expected seq %d", e.Node, e.Seq, ErrBrokenChain, prevSeq+1)
		}
		if !bytes.Equal(e.Prev, prev) {
			return fmt.Errorf("%s/%d: %w", e.Node, e.Seq, ErrBrokenChain)
		}
		if err := e.CheckHash(); err != nil {
			return err
		}
		if allSigs || i == len(run)-1 {
			if err := e.CheckSig(pub); err != nil {
				return err
			}
		}
		prev, prevSeq = e.Hash, e.Seq
	}
	return nil
}

// ID is a stable identity for an event across nodes.
func (e *Event) ID() string { return fmt.Sprintf("%s/%d", e.Node, e.Seq) }

// Before orders events by (HLC, node, seq): the order of last-writer-wins.
func (e *Event) Before(o *Event) bool {
	if e.HLC != o.HLC {
		return e.HLC < o.HLC
	}
	if e.Node != o.Node {
		return e.Node < o.Node
	}
	return e.Seq < o.Seq
}
