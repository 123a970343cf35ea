package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"

	"caravana/internal/ledger"
	"caravana/internal/node"
)

// Client syncs a node with its peers over HTTP.
type Client struct {
	// HTTP is the client used; nil means NewHTTPClient("").
	HTTP *http.Client
	// Batch is the events asked for or sent per request (0: DefaultBatch).
	Batch int
	// Plain turns compression off (gzip is on by default: links in the
	// field are slow and events shrink to about a third).
	Plain bool
	now   func() time.Time
}

// NewHTTPClient returns an HTTP client for sync with sensible timeouts.
// caFile, when set, is a PEM file of certificate authorities trusted for
// https:// peers besides the system's (e.g. the organisation's own CA or a
// peer's self-signed certificate).
func NewHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.ResponseHeaderTimeout = 5 * time.Minute // the peer imports a push before it answers
	tr.DisableCompression = true               // we ask for gzip ourselves, and check what was signed
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("peer CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("peer CA file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Minute,
		// A redirect would re-send a signed request somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// Progress reports how far a sync has got.
type Progress struct {
	Phase string // "pull" or "push"
	Done  int64  // events received (pull) or sent (push) so far
	Total int64  // estimate of what this phase will move, from the vectors
}

// Report says what one sync did.
type Report struct {
	Peer string `json:"peer"` // the peer's node id
	URL  string `json:"url"`
	// Pulled: events received and applied here; Known: received but
	// already held; Purged: events of revoked nodes dropped here.
	Pulled int `json:"pulled"`
	Known  int `json:"known"`
	Purged int `json:"purged"`
	// Pushed: events sent and applied by the peer; PushedKnown: sent but
	// already held there.
	Pushed      int `json:"pushed"`
	PushedKnown int `json:"pushed_known"`
	// Rejected are events refused here; PeerRejected by the peer.
	Rejected     []ledger.Rejection `json:"rejected"`
	PeerRejected []ledger.Rejection `json:"peer_rejected"`
	// Bytes on the wire (bodies), both ways, and the requests made.
	BytesSent     int64         `json:"bytes_sent"`
	BytesReceived int64         `json:"bytes_received"`
	Requests      int           `json:"requests"`
	Took          time.Duration `json:"took_ns"`
	// Importing is the part of Took spent applying received batches here,
	// and Waiting the part spent waiting for the peer's answers while
	// pulling (the next batch is fetched while one is applied).
	Importing time.Duration `json:"importing_ns"`
	Waiting   time.Duration `json:"waiting_ns"`
}

// Errors of a sync.
var (
	// ErrPeerRevoked means the peer is a revoked node: it is sent nothing.
	ErrPeerRevoked = errors.New("the peer is a revoked node: nothing is sent to it or taken from it")
	// ErrPeerUnknown means the peer's node is not enrolled as far as this
	// node knows.
	ErrPeerUnknown = errors.New("the peer is not an enrolled node of this organisation as far as this node knows (sync with the node that invited it, or the hub, first)")
	// ErrNoProgress means a peer kept offering what this node refuses.
	ErrNoProgress = errors.New("the sync makes no progress: the peer keeps offering events this node refuses")
)

// Sync pulls from and pushes to the node at url, with default settings.
func Sync(ctx context.Context, n *node.Node, url string, progress func(Progress)) (Report, error) {
	return (&Client{}).Sync(ctx, n, url, progress)
}

// session is one sync with one peer.
type session struct {
	c        *Client
	n        *node.Node
	base     string
	http     *http.Client
	batch    int
	org      string
	peer     string // the peer's node id once it has answered
	peerKey  ed25519.PublicKey
	peerVec  map[string]uint64 // the peer's vector as last answered
	heard    time.Time
	rep      *Report
	progress func(Progress)
}

// Sync pulls everything the peer at url holds that n lacks, importing
// each batch as it comes, then pushes what the peer lacks by the vector it
// answered with. A sync cut at any point leaves both sides with whole
// batches applied: the next one carries on from the vectors, and nothing
// is lost or applied twice. The peer's state (when heard, its vector,
// counts, the last error) is recorded on n.
func (c *Client) Sync(ctx context.Context, n *node.Node, url string, progress func(Progress)) (rep Report, err error) {
	start := c.clock()
	base := strings.TrimRight(url, "/")
	if err := checkURL(base); err != nil {
		return Report{}, fmt.Errorf("sync: %w", err)
	}
	rep.URL = base
	hc := c.HTTP
	if hc == nil {
		if hc, err = NewHTTPClient(""); err != nil {
			return Report{}, err
		}
	}
	batch := c.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	s := &session{c: c, n: n, base: base, http: hc, batch: min(batch, MaxBatch), org: n.Keys.OrgID(), rep: &rep, progress: progress}
	if s.progress == nil {
		s.progress = func(Progress) {}
	}
	err = s.pull(ctx)
	if err == nil {
		err = s.push(ctx)
	}
	rep.Peer = s.peer
	rep.Took = c.clock().Sub(start)
	if rep.Rejected == nil {
		rep.Rejected = []ledger.Rejection{}
	}
	if rep.PeerRejected == nil {
		rep.PeerRejected = []ledger.Rejection{}
	}
	s.record(ctx, err)
	if err != nil {
		return rep, fmt.Errorf("sync with %s: %w", base, err)
	}
	return rep, nil
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// pull imports batches until the peer has nothing more for us. One
// request is in flight while the previous batch is imported: the peer
// reads and encodes the next batch, and this node decodes it, on another
// core than the import's.
func (s *session) pull(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		ask  map[string]uint64
		resp PullResponse
		err  error
	}
	var inflight chan fetched
	fetch := func(ask, held map[string]uint64) {
		ch := make(chan fetched, 1)
		go func() {
			f := fetched{ask: ask}
			f.err = s.call(ctx, PathPull, PullRequest{Vector: ask, Held: held, Limit: s.batch}, &f.resp)
			ch <- f
		}()
		inflight = ch
	}
	// Never return with a request still running.
	defer func() {
		if inflight != nil {
			cancel()
			<-inflight
		}
	}()
	// skip holds nodes whose offered events this node refused this time:
	// the next request claims them up to the peer's head, so the peer goes
	// on to the rest instead of offering the same refused run again.
	skip := map[string]uint64{}
	var last map[string]uint64
	held := func() (map[string]uint64, error) {
		vec, err := s.n.Ledger.Vector(ctx)
		if err != nil {
			return nil, fmt.Errorf("read vector: %w", err)
		}
		if vec == nil {
			vec = map[string]uint64{}
		}
		return vec, nil
	}
	ask := func() (a, h map[string]uint64, err error) {
		if h, err = held(); err != nil {
			return nil, nil, err
		}
		a = maps.Clone(h)
		for id, seq := range skip {
			a[id] = max(a[id], seq)
		}
		if last != nil && maps.Equal(a, last) {
			return nil, nil, ErrNoProgress
		}
		last = a
		return a, h, nil
	}
	first, h, err := ask()
	if err != nil {
		return err
	}
	fetch(first, h)
	var done, total int64
	for {
		t0 := time.Now()
		f := <-inflight
		s.rep.Waiting += time.Since(t0)
		inflight = nil
		if f.err != nil {
			return f.err
		}
		resp := f.resp
		s.peerVec = resp.Vector
		if total == 0 {
			total = Behind(resp.Vector, f.ask)
		}
		if resp.More && len(resp.Events) > 0 {
			// Ask for the next batch as if this one were applied already.
			ahead := maps.Clone(f.ask)
			for _, e := range resp.Events {
				ahead[e.Node] = max(ahead[e.Node], e.Seq)
			}
			h, err := held()
			if err != nil {
				return err
			}
			fetch(ahead, h)
		}
		if len(resp.Events) > 0 {
			t1 := time.Now()
			res, err := s.n.Ledger.Import(ctx, resp.Events)
			s.rep.Importing += time.Since(t1)
			if err != nil {
				return err
			}
			s.rep.Pulled += res.Applied
			s.rep.Known += res.Known
			s.rep.Purged += res.Purged
			s.rep.Rejected = append(s.rep.Rejected, res.Rejected...)
			for _, rej := range res.Rejected {
				skip[rej.Node] = max(skip[rej.Node], resp.Vector[rej.Node])
			}
			if len(res.Rejected) > 0 && inflight != nil {
				// The batch asked for ahead assumed this one applied whole.
				if f := <-inflight; f.err == nil {
					s.peerVec = f.resp.Vector
				}
				inflight = nil
			}
			done += int64(len(resp.Events))
			s.progress(Progress{Phase: "pull", Done: done, Total: max(total, done)})
		}
		if !resp.More {
			return nil
		}
		if inflight == nil {
			next, h, err := ask()
			if err != nil {
				return err
			}
			fetch(next, h)
		}
	}
}

// push sends what the peer lacks by its vector, in batches.
func (s *session) push(ctx context.Context) error {
	if s.peerVec == nil {
		return nil
	}
	// What was just pulled may say the peer itself is revoked: then it is
	// sent nothing.
	if _, err := s.keyOf(ctx, s.peer); err != nil {
		return err
	}
	theirs := maps.Clone(s.peerVec)
	vec, err := s.n.Ledger.Vector(ctx)
	if err != nil {
		return fmt.Errorf("read vector: %w", err)
	}
	total := Behind(vec, theirs)
	var done int64
	for {
		evs, more, err := s.n.Ledger.Missing(ctx, theirs, s.batch)
		if err != nil {
			return fmt.Errorf("read events to send: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		if vec, err = s.n.Ledger.Vector(ctx); err != nil {
			return fmt.Errorf("read vector: %w", err)
		}
		req := PushRequest{Events: evs, Vector: vec}
		body, trimmed, err := encodeBounded(&req, &req.Events, maxJSON)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		more = more || trimmed
		evs = req.Events
		var resp PushResponse
		if err := s.call(ctx, PathPush, encoded(body), &resp); err != nil {
			return err
		}
		s.rep.Pushed += resp.Result.Applied
		s.rep.PushedKnown += resp.Result.Known
		s.rep.PeerRejected = append(s.rep.PeerRejected, resp.Result.Rejected...)
		s.peerVec = resp.Vector
		next := maps.Clone(resp.Vector)
		if next == nil {
			next = map[string]uint64{}
		}
		// What the peer refused is not offered again in this sync.
		for _, rej := range resp.Result.Rejected {
			for _, e := range evs {
				if e.Node == rej.Node {
					next[e.Node] = max(next[e.Node], e.Seq)
				}
			}
		}
		if maps.Equal(next, theirs) {
			return ErrNoProgress
		}
		theirs = next
		done += int64(len(evs))
		s.progress(Progress{Phase: "push", Done: done, Total: max(total, done)})
		if !more {
			return nil
		}
	}
}

// call sends one signed request and checks and decodes the signed answer.
func (s *session) call(ctx context.Context, path string, in, out any) error {
	body, ok := in.(encoded)
	if !ok {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	wire := []byte(body)
	var err error
	if !s.c.Plain {
		if wire, err = gzipBytes(body); err != nil {
			return fmt.Errorf("compress request: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(wire))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.c.Plain {
		req.Header.Set("Accept-Encoding", "identity")
	} else {
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Accept-Encoding", "gzip")
	}
	signRequest(req, s.org, s.n.Keys.NodeID, s.n.Keys.Signing, wire, s.c.clock())
	s.rep.Requests++
	s.rep.BytesSent += int64(len(wire))
	ans, hdr, err := roundTrip(s.http, req)
	s.rep.BytesReceived += int64(len(ans))
	if err != nil {
		return err
	}
	if err := s.authenticate(ctx, hdr, req.Header.Get(HeaderSignature), ans); err != nil {
		return err
	}
	data, perr := decodeBody(hdr.Get("Content-Encoding"), ans)
	if perr != nil {
		return fmt.Errorf("the peer's answer: %s", perr.Msg)
	}
	// The answer is signed by an enrolled node (checked above), so it is
	// read leniently: a newer peer may add fields. json.Unmarshal also
	// skips the buffer regrowth of a Decoder, a sixth of the CPU time of
	// pulling a large log.
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the peer's answer: %w", err)
	}
	return nil
}

// roundTrip sends req and reads a bounded answer; a refusal becomes a
// *ProtocolError.
func roundTrip(hc *http.Client, req *http.Request) ([]byte, http.Header, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("reach the peer: %w", err)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return ans, nil, fmt.Errorf("read the peer's answer: %w", err)
	}
	if len(ans) > MaxBody {
		return nil, nil, errors.New("the peer's answer is too large")
	}
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		json.Unmarshal(ans, &eb)
		if eb.Code == "" {
			eb.Code, eb.Error = "http", http.StatusText(resp.StatusCode)
		}
		return ans, nil, &ProtocolError{Status: resp.StatusCode, Code: printable(eb.Code, 40), Msg: printable(eb.Error, 200)}
	}
	return ans, resp.Header, nil
}

// printable keeps what a peer said short and free of control characters,
// so it can be shown and logged.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// authenticate checks that an answer is signed by an enrolled, unrevoked
// node of the organisation, and by the same one throughout the sync.
func (s *session) authenticate(ctx context.Context, h http.Header, reqSig string, body []byte) error {
	id := h.Get(HeaderNode)
	if id == "" {
		return ErrBadResponse
	}
	if s.peer == "" {
		if id == s.n.Keys.NodeID {
			return errors.New("the peer is this node itself")
		}
		key, err := s.keyOf(ctx, id)
		if err != nil {
			return err
		}
		s.peer, s.peerKey = id, key
	} else if id != s.peer {
		return ErrBadResponse
	}
	if err := verifyResponse(h, s.org, http.StatusOK, s.peerKey, reqSig, body); err != nil {
		return err
	}
	s.heard = s.c.clock().UTC()
	return nil
}

// keyOf finds a peer's signing key: from the log (refusing a revoked
// node), else from the peer's record (the inviter's key, from the
// invitation, before its enrolment has arrived).
func (s *session) keyOf(ctx context.Context, id string) (ed25519.PublicKey, error) {
	nodes, err := s.n.Ledger.NodeList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	for _, x := range nodes {
		if x.ID == id {
			if x.Revoked {
				return nil, ErrPeerRevoked
			}
			return x.SigningKey, nil
		}
	}
	p, found, err := GetPeer(ctx, s.n.Store, id)
	if err != nil {
		return nil, fmt.Errorf("read peer: %w", err)
	}
	if found && len(p.Key) == ed25519.PublicKeySize {
		return p.Key, nil
	}
	return nil, ErrPeerUnknown
}

// record keeps what this sync learnt of the peer.
func (s *session) record(ctx context.Context, syncErr error) {
	ctx = context.WithoutCancel(ctx)
	id := s.peer
	if id == "" {
		// It did not answer (or not validly): record the failure on the
		// peer last seen at this URL, if any. A URL never answered from
		// has no node id to record under; the caller reports the error.
		known, err := Peers(ctx, s.n.Store)
		if err != nil {
			return
		}
		for _, p := range known {
			if p.URL == s.base {
				id = p.Node
			}
		}
		if id == "" {
			return
		}
	}
	now := s.c.clock().UTC()
	err := UpdatePeer(ctx, s.n.Store, id, func(p *Peer) {
		p.URL = s.base
		if !s.heard.IsZero() {
			p.LastHeard = s.heard
		}
		if s.peerVec != nil {
			p.Vector = s.peerVec
		}
		p.Pulled += int64(s.rep.Pulled)
		p.Pushed += int64(s.rep.Pushed)
		if syncErr == nil {
			p.LastSync, p.LastError, p.LastErrorAt = now, "", time.Time{}
		} else {
			p.LastError, p.LastErrorAt = printable(syncErr.Error(), 300), now
		}
	})
	if err != nil && syncErr == nil {
		s.n.Log.Warn("sync: cannot record peer state", "peer", id, "err", err)
	}
}
