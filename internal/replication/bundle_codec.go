package replication

import (
	"bytes"
	stdcrypto "crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"caravana/internal/event"
)

// The plaintext of a bundle (what age encrypts), version 1. Every integer
// is big-endian or an unsigned varint (encoding/binary, minimal form).
//
//	magic    "caravana-bundle\n"          16 bytes: the format name
//	version  uint16                        1
//	frames   type byte, length uvarint, payload:
//	  'H'  header: JSON BundleHeader       exactly one, first, <= 1 MiB
//	  'E'  one event (below)               header.Events of them, <= 8 MiB each
//	  'P'  padding: zero bytes             at most one, after the events
//	  'S'  signature: 64 bytes             last; the stream ends right after it
//
// The signature is Ed25519ph (RFC 8032, SHA-512 prehash, context
// "caravana bundle v1") by the sender's node key over every byte before
// the 'S' frame, so a bundle is signed while it streams. The padding makes
// the plaintext a whole number of age's 64 KiB chunks: every complete
// bundle file is then header + nonce + k full chunks, so a cut file is
// told from a damaged one by its length alone (and the length says less
// about how many events it holds).
//
// An event payload is a flags byte, then the event's fields:
//
//	flags    bit 0: same node as the previous event, seq one more (node and seq omitted)
//	         bit 1: prev is the previous event's hash (omitted; needs bit 0)
//	         bit 2: hash is the content hash (omitted; recomputed when read)
//	node     string  (unless bit 0)
//	seq      uvarint (unless bit 0)
//	hlc      uint64
//	actor, kind, subject, body   string each
//	prev     bytes   (unless bit 1)
//	hash     bytes   (unless bit 2)
//	sig      bytes
//
// where string and bytes are a uvarint length and the bytes. The omissions
// lose nothing: a writer omits a field only when the reader will rebuild
// exactly the stored value, so every event arrives as it was signed.
//
// Events come node by node, each node's events in sequence order with no
// holes: for every node in header.Vector, exactly the events after
// header.From[node] up to header.Vector[node]. A reader checks that shape,
// the count and the signature before anything is applied.
const (
	bundleMagic   = "caravana-bundle\n"
	bundleFormat  = "caravana-bundle"
	bundleVersion = 1

	frameHeader = 'H'
	frameEvent  = 'E'
	framePad    = 'P'
	frameSig    = 'S'

	evFollows   = 1 << 0
	evPrevLink  = 1 << 1
	evHashCalc  = 1 << 2
	evAllFlags  = evFollows | evPrevLink | evHashCalc
	sigContext  = "caravana bundle v1"
	sigFrameLen = 1 + 1 + ed25519.SignatureSize

	// Bounds on everything a reader accepts (S18).
	maxHeaderBytes = 1 << 20
	maxEventBytes  = 8 << 20
	maxPadBytes    = ageChunk + 16
	maxRecipients  = 256
	maxVectorNodes = 1 << 14
	maxIDLen       = 128

	// ageChunk is age's fixed plaintext chunk size, and ageOverhead the
	// tag added to each chunk (the age v1 format; a test checks it).
	ageChunk    = 64 << 10
	ageOverhead = 16
	ageNonce    = 16
)

// BundleHeader is the first frame of a bundle: who sent it, to whom, and
// what it holds.
type BundleHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Org is the organisation's id (crypto.Keys.OrgID); a bundle from
	// another organisation is refused.
	Org string `json:"org"`
	// Sender is the node that wrote and signed the bundle.
	Sender string `json:"sender"`
	// Recipients are the nodes it is encrypted to.
	Recipients []string  `json:"recipients"`
	Created    time.Time `json:"created"`
	// Vector is the sender's version vector when it wrote the bundle: what
	// it holds. A recipient records it as what the sender is known to hold.
	Vector map[string]uint64 `json:"vector"`
	// From is the vector the events start after: the least every
	// recipient was last heard to hold (empty for --all, or for a
	// recipient never heard from).
	From map[string]uint64 `json:"from,omitempty"`
	// Events is how many events follow.
	Events int64 `json:"events"`
	All    bool  `json:"all,omitempty"`
}

// check validates a header's own consistency and bounds.
func (h *BundleHeader) check(version int) error {
	switch {
	case h.Format != bundleFormat || h.Version != version:
		return fmt.Errorf("header names format %q version %d", h.Format, h.Version)
	case h.Org == "" || len(h.Org) > maxIDLen:
		return errors.New("header has no organisation id")
	case h.Sender == "" || len(h.Sender) > maxIDLen:
		return errors.New("header has no sender")
	case len(h.Recipients) == 0 || len(h.Recipients) > maxRecipients:
		return fmt.Errorf("header has %d recipients", len(h.Recipients))
	case len(h.Vector) > maxVectorNodes || len(h.From) > maxVectorNodes:
		return errors.New("header vector too large")
	case h.Events < 0:
		return errors.New("header has a negative event count")
	}
	var want int64
	for node, hi := range h.Vector {
		if node == "" || len(node) > maxIDLen {
			return errors.New("header vector has a bad node id")
		}
		if from := h.From[node]; hi > from {
			if hi-from > 1<<40 {
				return errors.New("header vector out of range")
			}
			want += int64(hi - from)
		}
	}
	if want != h.Events {
		return fmt.Errorf("header counts %d events but its vectors span %d", h.Events, want)
	}
	return nil
}

// lastEvent is what the next event's flags refer to.
type lastEvent struct {
	ok   bool
	node string
	seq  uint64
	hash []byte
}

// bundleEncoder writes the plaintext of a bundle.
type bundleEncoder struct {
	w      io.Writer
	h      hash.Hash
	n      int64 // plaintext bytes written
	buf    []byte
	last   lastEvent
	events int64
	noPad  bool // tests only: small plaintexts for the fuzzer
}

func newBundleEncoder(w io.Writer) *bundleEncoder {
	return &bundleEncoder{w: w, h: sha512.New()}
}

func (e *bundleEncoder) write(p []byte, signed bool) error {
	if signed {
		e.h.Write(p)
	}
	e.n += int64(len(p))
	_, err := e.w.Write(p)
	return err
}

func (e *bundleEncoder) frame(typ byte, payload []byte) error {
	var pre [1 + binary.MaxVarintLen64]byte
	pre[0] = typ
	k := binary.PutUvarint(pre[1:], uint64(len(payload)))
	signed := typ != frameSig
	if err := e.write(pre[:1+k], signed); err != nil {
		return err
	}
	return e.write(payload, signed)
}

// begin writes the magic, the version and the header.
func (e *bundleEncoder) begin(h *BundleHeader) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if len(data) > maxHeaderBytes {
		return fmt.Errorf("bundle header is %d bytes; at most %d", len(data), maxHeaderBytes)
	}
	pre := append([]byte(bundleMagic), 0, bundleVersion)
	if err := e.write(pre, true); err != nil {
		return err
	}
	return e.frame(frameHeader, data)
}

// event writes one event.
func (e *bundleEncoder) event(ev *event.Event) error {
	b := e.buf[:0]
	var flags byte
	follows := e.last.ok && ev.Node == e.last.node && ev.Seq == e.last.seq+1
	if follows {
		flags |= evFollows
		if len(ev.Prev) > 0 && bytes.Equal(ev.Prev, e.last.hash) {
			flags |= evPrevLink
		}
	}
	if len(ev.Hash) > 0 && bytes.Equal(ev.Hash, ev.ComputeHash()) {
		flags |= evHashCalc
	}
	b = append(b, flags)
	if !follows {
		b = appendBytes(b, []byte(ev.Node))
		b = binary.AppendUvarint(b, ev.Seq)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ev.HLC))
	b = appendBytes(b, []byte(ev.Actor))
	b = appendBytes(b, []byte(ev.Kind))
	b = appendBytes(b, []byte(ev.Subject))
	b = appendBytes(b, ev.Body)
	if flags&evPrevLink == 0 {
		b = appendBytes(b, ev.Prev)
	}
	if flags&evHashCalc == 0 {
		b = appendBytes(b, ev.Hash)
	}
	b = appendBytes(b, ev.Sig)
	e.buf = b
	if len(b) > maxEventBytes {
		return fmt.Errorf("event %s is %d bytes; a bundle carries events up to %d", ev.ID(), len(b), maxEventBytes)
	}
	if err := e.frame(frameEvent, b); err != nil {
		return err
	}
	e.last = lastEvent{ok: true, node: ev.Node, seq: ev.Seq, hash: append(e.last.hash[:0], ev.Hash...)}
	e.events++
	return nil
}

// finish pads the plaintext to whole age chunks and signs it.
func (e *bundleEncoder) finish(priv ed25519.PrivateKey) error {
	// Find p so that padding frame (1 + uvarint(p) + p) and signature frame
	// end exactly on a chunk boundary.
	rem := (e.n + 1 + sigFrameLen) % ageChunk
	need := (ageChunk - rem) % ageChunk
	pad := -1
	for t := need; pad < 0; t += ageChunk {
		for k := int64(1); k <= 3; k++ {
			if p := t - k; p >= 0 && int64(uvarintLen(uint64(p))) == k {
				pad = int(p)
				break
			}
		}
	}
	if !e.noPad {
		if err := e.frame(framePad, make([]byte, pad)); err != nil {
			return err
		}
	}
	sig, err := priv.Sign(nil, e.h.Sum(nil), &ed25519.Options{Hash: stdcrypto.SHA512, Context: sigContext})
	if err != nil {
		return fmt.Errorf("sign bundle: %w", err)
	}
	return e.frame(frameSig, sig)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func uvarintLen(v uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], v)
}
