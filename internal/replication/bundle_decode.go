package replication

import (
	"bufio"
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

	"caravana/internal/event"
)

// errFormat marks a bundle whose decrypted content breaks the format.
var errFormat = errors.New("malformed bundle")

// streamError is a failure of the reader under the decoder (for a bundle
// file: age refusing a chunk), kept apart from format errors so the caller
// can tell a damaged file from a cut one.
type streamError struct {
	off int64
	err error
}

func (e *streamError) Error() string { return fmt.Sprintf("at byte %d: %v", e.off, e.err) }
func (e *streamError) Unwrap() error { return e.err }

// bundleDecoder reads the plaintext of a bundle, checking its shape as it
// goes, and hashes what the signature covers.
type bundleDecoder struct {
	src    *sourceReader
	r      *bufio.Reader
	h      hash.Hash
	off    int64
	buf    bytes.Buffer
	hdr    BundleHeader
	last   lastEvent
	seen   map[string]uint64 // per node: the last seq read (from header.From)
	events int64
	sig    []byte
	done   bool
}

func newBundleDecoder(r io.Reader) *bundleDecoder {
	src := &sourceReader{r: r}
	return &bundleDecoder{src: src, r: bufio.NewReaderSize(src, 64<<10), h: sha512.New()}
}

// sourceReader remembers how the stream under the plaintext failed, if it
// did: a plaintext that ends cleanly but early is told from a file cut short.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (d *bundleDecoder) formatf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errFormat, d.off, fmt.Sprintf(format, args...))
}

// readErr turns a failed read into an error: the stream's own failure
// (for a file, age's), or a plaintext that ends before its signature.
func (d *bundleDecoder) readErr(err error) error {
	if d.src.err != nil {
		err = d.src.err
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: it ends at byte %d, before its signature", ErrTruncated, d.off)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the file ends before the bundle does", ErrTruncated)
	}
	return &streamError{off: d.off, err: err}
}

func (d *bundleDecoder) readFull(p []byte, signed bool) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if err != nil {
		return d.readErr(err)
	}
	if signed {
		d.h.Write(p)
	}
	return nil
}

// readHeader reads the magic, the version and the header frame.
func (d *bundleDecoder) readHeader() (*BundleHeader, error) {
	var pre [len(bundleMagic) + 2]byte
	if err := d.readFull(pre[:len(bundleMagic)], true); err != nil {
		if d.src.err == nil {
			return nil, fmt.Errorf("%w: it decrypts, but to something else", ErrNotBundle)
		}
		return nil, err
	}
	if string(pre[:len(bundleMagic)]) != bundleMagic {
		return nil, fmt.Errorf("%w: it decrypts, but to something else", ErrNotBundle)
	}
	if err := d.readFull(pre[len(bundleMagic):], true); err != nil {
		return nil, err
	}
	switch v := binary.BigEndian.Uint16(pre[len(bundleMagic):]); {
	case v > bundleVersion:
		return nil, fmt.Errorf("%w: format version %d; this program reads version %d: update caravana", ErrNewerFormat, v, bundleVersion)
	case v != bundleVersion:
		return nil, d.formatf("format version %d", v)
	}
	typ, payload, err := d.frame()
	if err != nil {
		return nil, err
	}
	if typ != frameHeader {
		return nil, d.formatf("the first frame is not the header")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.hdr); err != nil {
		return nil, d.formatf("header: %v", err)
	}
	if dec.More() {
		return nil, d.formatf("header: data after the JSON")
	}
	if err := d.hdr.check(bundleVersion); err != nil {
		return nil, d.formatf("%v", err)
	}
	d.seen = make(map[string]uint64, len(d.hdr.Vector))
	return &d.hdr, nil
}

// frame reads one frame; its payload is valid until the next call. The
// signature frame is not hashed.
func (d *bundleDecoder) frame() (byte, []byte, error) {
	typ, err := d.r.ReadByte()
	if err != nil {
		return 0, nil, d.readErr(err)
	}
	d.off++
	signed := typ != frameSig
	if signed {
		d.h.Write([]byte{typ})
	}
	var limit uint64
	switch typ {
	case frameHeader:
		limit = maxHeaderBytes
	case frameEvent:
		limit = maxEventBytes
	case framePad:
		limit = maxPadBytes
	case frameSig:
		limit = ed25519.SignatureSize
	default:
		return 0, nil, d.formatf("unknown frame type %#x", typ)
	}
	var lenBuf [binary.MaxVarintLen64]byte
	var n uint64
	for i := 0; ; i++ {
		if i == len(lenBuf) {
			return 0, nil, d.formatf("frame length too long")
		}
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, nil, d.readErr(err)
		}
		d.off++
		lenBuf[i] = c
		if c < 0x80 {
			v, k := binary.Uvarint(lenBuf[:i+1])
			if k != i+1 || uvarintLen(v) != k {
				return 0, nil, d.formatf("frame length not in minimal form")
			}
			n = v
			if signed {
				d.h.Write(lenBuf[:k])
			}
			break
		}
	}
	if n > limit {
		return 0, nil, d.formatf("frame %q of %d bytes; at most %d", typ, n, limit)
	}
	// Grow the buffer with the data that actually arrives, so a length
	// that lies costs nothing.
	d.buf.Reset()
	got, err := io.CopyN(&d.buf, d.r, int64(n))
	d.off += got
	if err != nil {
		return 0, nil, d.readErr(err)
	}
	if signed {
		d.h.Write(d.buf.Bytes())
	}
	return typ, d.buf.Bytes(), nil
}

// next reads the next event into ev. It returns false after the last
// event, once the padding, the signature and the end of the stream have
// been read (the signature is then in d.sig, unchecked).
func (d *bundleDecoder) next(ev *event.Event) (bool, error) {
	if d.done {
		return false, nil
	}
	typ, payload, err := d.frame()
	if err != nil {
		return false, err
	}
	if typ == frameEvent {
		if err := d.decodeEvent(payload, ev); err != nil {
			return false, err
		}
		return true, nil
	}
	if d.events != d.hdr.Events {
		return false, d.formatf("%d events where the header counts %d", d.events, d.hdr.Events)
	}
	if typ == framePad {
		for _, c := range payload {
			if c != 0 {
				return false, d.formatf("padding is not zero")
			}
		}
		if typ, payload, err = d.frame(); err != nil {
			return false, err
		}
	}
	if typ != frameSig || len(payload) != ed25519.SignatureSize {
		return false, d.formatf("expected the signature")
	}
	d.sig = bytes.Clone(payload)
	// The stream must end here: for a bundle file, this read is where age
	// authenticates the final chunk and checks nothing follows it.
	if _, err := d.r.ReadByte(); err == nil {
		return false, d.formatf("data after the signature")
	} else if err != io.EOF || d.src.err != nil {
		return false, d.readErr(err)
	}
	d.done = true
	return false, nil
}

func (d *bundleDecoder) decodeEvent(p []byte, ev *event.Event) error {
	if d.events >= d.hdr.Events {
		return d.formatf("more events than the header counts (%d)", d.hdr.Events)
	}
	bad := func(what string) error { return d.formatf("event %d: %s", d.events+1, what) }
	if len(p) == 0 || p[0]&^evAllFlags != 0 {
		return bad("unknown flags")
	}
	flags := p[0]
	p = p[1:]
	ok := true
	field := func() []byte {
		if !ok {
			return nil
		}
		var b []byte
		b, p, ok = cutBytes(p)
		return b
	}
	str := func() string { return string(field()) }
	raw := func() []byte {
		if b := field(); len(b) > 0 {
			return bytes.Clone(b)
		}
		return nil
	}
	*ev = event.Event{}
	if flags&evFollows != 0 {
		if !d.last.ok {
			return bad("follows no event")
		}
		ev.Node, ev.Seq = d.last.node, d.last.seq+1
	} else {
		ev.Node = str()
		if ok {
			var k int
			ev.Seq, k = binary.Uvarint(p)
			if k <= 0 || uvarintLen(ev.Seq) != k {
				return bad("bad sequence number")
			}
			p = p[k:]
		}
	}
	if !ok || len(p) < 8 {
		return bad("cut short")
	}
	ev.HLC = event.HLC(binary.BigEndian.Uint64(p))
	p = p[8:]
	ev.Actor, ev.Kind, ev.Subject = str(), str(), str()
	ev.Body = raw()
	switch {
	case flags&evPrevLink == 0:
		ev.Prev = raw()
	case flags&evFollows == 0:
		return bad("links to no previous event")
	default:
		ev.Prev = bytes.Clone(d.last.hash)
	}
	if flags&evHashCalc == 0 {
		ev.Hash = raw()
	}
	ev.Sig = raw()
	if !ok {
		return bad("cut short")
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	if flags&evHashCalc != 0 {
		ev.Hash = ev.ComputeHash()
	}
	// The shape: each node's events in order, no holes, within the vectors.
	hi, known := d.hdr.Vector[ev.Node]
	if !known {
		return bad("from a node outside the header's vector")
	}
	prev, started := d.seen[ev.Node]
	if !started {
		prev = d.hdr.From[ev.Node]
	}
	if ev.Seq != prev+1 || ev.Seq > hi {
		return bad(fmt.Sprintf("sequence %d out of order", ev.Seq))
	}
	d.seen[ev.Node] = ev.Seq
	d.last = lastEvent{ok: true, node: ev.Node, seq: ev.Seq, hash: append(d.last.hash[:0], ev.Hash...)}
	d.events++
	return nil
}

// cutBytes reads a uvarint-prefixed byte string off p.
func cutBytes(p []byte) (b, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || uvarintLen(n) != k || n > uint64(len(p)-k) {
		return nil, p, false
	}
	return p[k : k+int(n)], p[k+int(n):], true
}

// verifySig checks the bundle's signature under pub.
func (d *bundleDecoder) verifySig(pub ed25519.PublicKey) error {
	if !d.done {
		return errors.New("bundle not read to its end")
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: no usable key for its sender", ErrTampered)
	}
	if err := ed25519.VerifyWithOptions(pub, d.h.Sum(nil), d.sig, &ed25519.Options{Hash: stdcrypto.SHA512, Context: sigContext}); err != nil {
		return fmt.Errorf("%w: the sender's signature does not match its content", ErrTampered)
	}
	return nil
}
