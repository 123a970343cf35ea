package replication

// The live sync protocol (HTTP, under /sync/v1/):
//
//	POST /sync/v1/pull  {"vector": {node: seq}, "limit": n}  -> {"events": [...], "more": bool, "vector": {...}}
//	POST /sync/v1/push  {"events": [...], "vector": {...}}   -> {"result": ImportResult, "vector": {...}}
//	POST /sync/v1/join  JoinRequest                          -> JoinResponse
//
// Every request carries the calling node's id, the time, a random nonce and
// an ed25519 signature by its node key over the organisation id, method,
// path, node, time, nonce and the SHA-256 of the body as sent (after any
// Content-Encoding), so the server authenticates before it decompresses or
// decodes anything. Every successful answer is signed by the server's node
// key over its status, node, time, the request's signature (binding the
// answer to that request) and the SHA-256 of its body as sent. There is no
// shared password: a node is who its key says, and its key is in the log.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"caravana/internal/event"
	"caravana/internal/ledger"
)

// Header names.
const (
	HeaderNode      = "Caravana-Node"
	HeaderTime      = "Caravana-Time" // unix milliseconds
	HeaderNonce     = "Caravana-Nonce"
	HeaderSignature = "Caravana-Signature"
)

// Paths of the endpoints.
const (
	PathPull = "/sync/v1/pull"
	PathPush = "/sync/v1/push"
	PathJoin = "/sync/v1/join"
)

// Limits. A request or answer above them is refused, not truncated.
const (
	// MaxSkew is how far a request's clock may be from the server's.
	MaxSkew = 5 * time.Minute
	// MaxBody bounds a request or answer body as sent (compressed or not).
	MaxBody = 48 << 20
	// MaxDecoded bounds a body after decompression.
	MaxDecoded = 96 << 20
	// MaxBatch bounds the events in one pull answer or push request.
	MaxBatch = 20_000
	// DefaultBatch is the events asked for or sent per request.
	DefaultBatch = 5_000
	// maxJSON bounds the encoded JSON of one answer or push, well inside
	// MaxBody: a batch that would be larger (big events, such as route
	// files) is sent in smaller parts.
	maxJSON = MaxBody / 2
	// maxVector bounds the nodes named in a version vector.
	maxVector = 10_000
	// maxID bounds a node id, invite id or similar short token.
	maxID = 64
)

// PullRequest asks for the events a holder of Vector lacks. Held, when
// set, is what the caller really holds: a caller that asks for the next
// batch while it still applies the last one claims that batch in Vector,
// and the server records only Held as the caller's state.
type PullRequest struct {
	Vector map[string]uint64 `json:"vector"`
	Held   map[string]uint64 `json:"held,omitempty"`
	Limit  int               `json:"limit"`
}

// PullResponse is up to Limit of them, in each node's sequence order;
// More says more remain; Vector is the server's own version vector.
type PullResponse struct {
	Events []event.Event     `json:"events"`
	More   bool              `json:"more"`
	Vector map[string]uint64 `json:"vector"`
}

// PushRequest delivers events the server lacks; Vector is the sender's.
type PushRequest struct {
	Events []event.Event     `json:"events"`
	Vector map[string]uint64 `json:"vector"`
}

// PushResponse says what the server's Import did, and its vector after.
type PushResponse struct {
	Result ledger.ImportResult `json:"result"`
	Vector map[string]uint64   `json:"vector"`
}

// ErrorBody is every error answer: {"error": "...", "code": "..."}.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// ProtocolError is an answer the server refused a request with.
type ProtocolError struct {
	Status int
	Code   string
	Msg    string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("peer refused the request (%d %s): %s", e.Status, e.Code, e.Msg)
}

// Errors a server answers with; the code is stable.
var (
	errNoSignature = &ProtocolError{http.StatusUnauthorized, "unauthenticated", "sign the request with the node key (Caravana-Node, -Time, -Nonce, -Signature)"}
	errBadSig      = &ProtocolError{http.StatusUnauthorized, "bad_signature", "the request signature does not verify"}
	errStale       = &ProtocolError{http.StatusUnauthorized, "stale", "the request time is more than 5 minutes from the server's clock"}
	errReplay      = &ProtocolError{http.StatusUnauthorized, "replay", "this request was already received"}
	errUnknownNode = &ProtocolError{http.StatusForbidden, "unknown_node", "the calling node is not enrolled in this organisation"}
	errRevokedNode = &ProtocolError{http.StatusForbidden, "revoked", "the calling node was revoked"}
	errTooLarge    = &ProtocolError{http.StatusRequestEntityTooLarge, "too_large", "the request body is too large"}
	errEncoding    = &ProtocolError{http.StatusUnsupportedMediaType, "unsupported_encoding", "send the body as application/json, plain or gzip"}
	errInternal    = &ProtocolError{http.StatusInternalServerError, "internal", "internal error; it has been logged"}
	errBusy        = &ProtocolError{http.StatusServiceUnavailable, "busy", "too many sync requests in flight; retry shortly"}
)

func badRequest(format string, args ...any) *ProtocolError {
	return &ProtocolError{Status: http.StatusBadRequest, Code: "bad_request", Msg: fmt.Sprintf(format, args...)}
}

var b64 = base64.RawURLEncoding

// requestMessage is what a request signature covers.
func requestMessage(org, method, path, node, ts, nonce string, bodySum []byte) []byte {
	var b bytes.Buffer
	b.WriteString("caravana-sync-v1 request\n")
	for _, s := range []string{org, method, path, node, ts, nonce, hex.EncodeToString(bodySum)} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// responseMessage is what an answer's signature covers.
func responseMessage(org string, status int, node, ts, reqSig string, bodySum []byte) []byte {
	var b bytes.Buffer
	b.WriteString("caravana-sync-v1 response\n")
	for _, s := range []string{org, strconv.Itoa(status), node, ts, reqSig, hex.EncodeToString(bodySum)} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// signRequest sets the signature headers on req for body (as sent).
func signRequest(req *http.Request, org, node string, key ed25519.PrivateKey, body []byte, now time.Time) {
	nonce := make([]byte, 16)
	rand.Read(nonce) // never fails (crypto/rand panics instead)
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	ns := b64.EncodeToString(nonce)
	sum := sha256.Sum256(body)
	sig := ed25519.Sign(key, requestMessage(org, req.Method, req.URL.Path, node, ts, ns, sum[:]))
	req.Header.Set(HeaderNode, node)
	req.Header.Set(HeaderTime, ts)
	req.Header.Set(HeaderNonce, ns)
	req.Header.Set(HeaderSignature, b64.EncodeToString(sig))
}

// signedRequest is what the server learnt from a request's headers.
type signedRequest struct {
	node, ts, nonce, sig string
	at                   time.Time
	rawSig               []byte
}

// readSignature parses the signature headers and checks the time window.
func readSignature(h http.Header, now time.Time) (signedRequest, *ProtocolError) {
	s := signedRequest{node: h.Get(HeaderNode), ts: h.Get(HeaderTime), nonce: h.Get(HeaderNonce), sig: h.Get(HeaderSignature)}
	if s.node == "" || s.ts == "" || s.nonce == "" || s.sig == "" {
		return s, errNoSignature
	}
	if len(s.node) > maxID || len(s.nonce) > maxID || len(s.ts) > 20 {
		return s, errBadSig
	}
	ms, err := strconv.ParseInt(s.ts, 10, 64)
	if err != nil {
		return s, errBadSig
	}
	s.at = time.UnixMilli(ms)
	if d := now.Sub(s.at); d > MaxSkew || d < -MaxSkew {
		return s, errStale
	}
	if s.rawSig, err = b64.DecodeString(s.sig); err != nil || len(s.rawSig) != ed25519.SignatureSize {
		return s, errBadSig
	}
	return s, nil
}

// verify checks the request signature under pub.
func (s signedRequest) verify(org, method, path string, pub ed25519.PublicKey, bodySum []byte) bool {
	return len(pub) == ed25519.PublicKeySize &&
		ed25519.Verify(pub, requestMessage(org, method, path, s.node, s.ts, s.nonce, bodySum), s.rawSig)
}

// signResponse sets an answer's signature headers.
func signResponse(h http.Header, org string, status int, node string, key ed25519.PrivateKey, reqSig string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	sum := sha256.Sum256(body)
	h.Set(HeaderNode, node)
	h.Set(HeaderTime, ts)
	h.Set(HeaderSignature, b64.EncodeToString(ed25519.Sign(key, responseMessage(org, status, node, ts, reqSig, sum[:]))))
}

// ErrBadResponse means an answer was not signed by the node it claims, or
// not for the request it answers.
var ErrBadResponse = errors.New("the peer's answer is not signed by an enrolled node of this organisation")

// verifyResponse checks an answer's signature under pub.
func verifyResponse(h http.Header, org string, status int, pub ed25519.PublicKey, reqSig string, body []byte) error {
	node, ts := h.Get(HeaderNode), h.Get(HeaderTime)
	sig, err := b64.DecodeString(h.Get(HeaderSignature))
	if err != nil || len(sig) != ed25519.SignatureSize || len(pub) != ed25519.PublicKeySize {
		return ErrBadResponse
	}
	sum := sha256.Sum256(body)
	if !ed25519.Verify(pub, responseMessage(org, status, node, ts, reqSig, sum[:]), sig) {
		return ErrBadResponse
	}
	return nil
}

// replayCache remembers the nonces of accepted requests for as long as
// their timestamps are acceptable, so a captured request cannot be sent
// again. Only authenticated requests are remembered, so its size is
// bounded by honest traffic.
type replayCache struct {
	mu    sync.Mutex
	seen  map[string]time.Time // node + nonce -> until when to remember it
	swept time.Time
}

func newReplayCache() *replayCache { return &replayCache{seen: map[string]time.Time{}} }

// fresh records (node, nonce) and reports whether it was new.
func (c *replayCache) fresh(node, nonce string, at, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) > MaxSkew/5 {
		for k, until := range c.seen {
			if now.After(until) {
				delete(c.seen, k)
			}
		}
		c.swept = now
	}
	k := node + "\x00" + nonce
	if _, ok := c.seen[k]; ok {
		return false
	}
	// Keep it until its timestamp leaves the window on the far side.
	c.seen[k] = at.Add(MaxSkew)
	return true
}

// encoded is a body already encoded as JSON.
type encoded []byte

// encodeBounded encodes v, which holds a batch of events, as JSON,
// halving the batch until it fits limit bytes; trimmed reports that
// events were left for later.
func encodeBounded[T any](v *T, events *[]event.Event, limit int) (data []byte, trimmed bool, err error) {
	for {
		if data, err = json.Marshal(v); err != nil {
			return nil, false, err
		}
		if len(data) <= limit || len(*events) <= 1 {
			return data, trimmed, nil
		}
		*events = (*events)[:len(*events)/2]
		trimmed = true
	}
}

// decodeStrict reads exactly one JSON value into v, refusing unknown
// fields, and says where a malformed body went wrong without quoting it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("malformed JSON at byte offset %d", max(syn.Offset-1, 0))
		case errors.As(err, &typ):
			return fmt.Errorf("a field has the wrong JSON type (byte offset %d)", typ.Offset)
		case errors.Is(err, io.EOF):
			return errors.New("empty body: send a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("the body ends early, at byte offset %d", dec.InputOffset())
		}
		return fmt.Errorf("malformed request near byte offset %d (unknown fields are refused)", dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("the body must hold one JSON value; more follows at byte offset %d", dec.InputOffset())
	}
	return nil
}

func checkVector(v map[string]uint64) error {
	if len(v) > maxVector {
		return fmt.Errorf("vector names %d nodes; at most %d", len(v), maxVector)
	}
	for id := range v {
		if id == "" || len(id) > maxID {
			return errors.New("vector: a node id is empty or too long")
		}
	}
	return nil
}

func checkEvents(evs []event.Event) error {
	if len(evs) > MaxBatch {
		return fmt.Errorf("%d events in one request; at most %d", len(evs), MaxBatch)
	}
	for i := range evs {
		e := &evs[i]
		if e.Node == "" || len(e.Node) > maxID || e.Seq == 0 {
			return fmt.Errorf("events[%d]: missing node or sequence number", i)
		}
	}
	return nil
}

// DecodePull decodes and checks a pull request body.
func DecodePull(data []byte) (PullRequest, error) {
	var r PullRequest
	if err := decodeStrict(data, &r); err != nil {
		return r, err
	}
	if err := checkVector(r.Vector); err != nil {
		return r, err
	}
	if err := checkVector(r.Held); err != nil {
		return r, err
	}
	if r.Limit < 0 {
		return r, errors.New("limit must not be negative")
	}
	switch {
	case r.Limit == 0:
		r.Limit = DefaultBatch
	case r.Limit > MaxBatch:
		r.Limit = MaxBatch
	}
	return r, nil
}

// DecodePush decodes and checks a push request body.
func DecodePush(data []byte) (PushRequest, error) {
	var r PushRequest
	if err := decodeStrict(data, &r); err != nil {
		return r, err
	}
	if err := checkVector(r.Vector); err != nil {
		return r, err
	}
	if err := checkEvents(r.Events); err != nil {
		return r, err
	}
	return r, nil
}
