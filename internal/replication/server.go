package replication

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/node"
)

// Server answers the sync endpoints of one node. It is safe for
// concurrent use; mount its handlers on the node's HTTP server.
type Server struct {
	n      *node.Node
	log    *slog.Logger
	replay *replayCache
	// slots bounds the sync requests decoded at once: each may hold tens
	// of megabytes of events in memory.
	slots chan struct{}
	now   func() time.Time
}

// NewServer returns the sync server of n.
func NewServer(n *node.Node, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{n: n, log: log, replay: newReplayCache(), slots: make(chan struct{}, 4), now: time.Now}
}

// Pull answers POST /sync/v1/pull.
func (s *Server) Pull(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, func(ctx context.Context, caller ledger.NodeInfo, body []byte) (any, *ProtocolError) {
		req, err := DecodePull(body)
		if err != nil {
			return nil, badRequest("pull: %v", err)
		}
		evs, more, err := s.n.Ledger.Missing(ctx, req.Vector, req.Limit)
		if err != nil {
			return nil, s.internal(r, "pull: missing", err)
		}
		vec, err := s.n.Ledger.Vector(ctx)
		if err != nil {
			return nil, s.internal(r, "pull: vector", err)
		}
		if evs == nil {
			evs = []event.Event{}
		}
		resp := PullResponse{Events: evs, More: more, Vector: vec}
		data, trimmed, err := encodeBounded(&resp, &resp.Events, maxJSON)
		if err != nil {
			return nil, s.internal(r, "pull: encode", err)
		}
		if trimmed {
			resp.More = true
			if data, err = json.Marshal(resp); err != nil {
				return nil, s.internal(r, "pull: encode", err)
			}
		}
		held := req.Held
		if held == nil {
			held = req.Vector
		}
		s.heard(ctx, caller.ID, held, 0, int64(len(resp.Events)))
		return encoded(data), nil
	})
}

// Push answers POST /sync/v1/push.
func (s *Server) Push(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, func(ctx context.Context, caller ledger.NodeInfo, body []byte) (any, *ProtocolError) {
		req, err := DecodePush(body)
		if err != nil {
			return nil, badRequest("push: %v", err)
		}
		res, err := s.n.Ledger.Import(ctx, req.Events)
		if err != nil {
			return nil, s.internal(r, "push: import", err)
		}
		if res.Rejected == nil {
			res.Rejected = []ledger.Rejection{}
		}
		for _, rej := range res.Rejected {
			s.log.Warn("sync: events from a peer refused", "from", caller.ID, "rejected", rej.String())
		}
		vec, err := s.n.Ledger.Vector(ctx)
		if err != nil {
			return nil, s.internal(r, "push: vector", err)
		}
		s.heard(ctx, caller.ID, req.Vector, int64(res.Applied), 0)
		return PushResponse{Result: res, Vector: vec}, nil
	})
}

func (s *Server) internal(r *http.Request, what string, err error) *ProtocolError {
	s.log.Error("sync request failed", "route", r.Pattern, "what", what, "err", err)
	return errInternal
}

// heard records what a calling node holds (its vector) and what moved.
func (s *Server) heard(ctx context.Context, id string, vec map[string]uint64, pulled, pushed int64) {
	now := s.now().UTC()
	err := UpdatePeer(context.WithoutCancel(ctx), s.n.Store, id, func(p *Peer) {
		p.LastHeard, p.Vector = now, vec
		p.Pulled += pulled
		p.Pushed += pushed
	})
	if err != nil {
		s.log.Warn("sync: cannot record peer state", "peer", id, "err", err)
	}
}

// handlerFunc does the work of an authenticated request.
type handlerFunc func(ctx context.Context, caller ledger.NodeInfo, body []byte) (any, *ProtocolError)

// serve authenticates a request, runs fn and sends its signed answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, fn handlerFunc) {
	// A big delivery over a slow link may take longer than the server's
	// general read and write timeouts.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(10 * time.Minute))
	rc.SetWriteDeadline(time.Now().Add(10 * time.Minute))
	sr, perr := readSignature(r.Header, s.now())
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	ctx := r.Context()
	// Who it claims to be is checked before the body is read: an unknown
	// or revoked node is refused without taking in what it sends (S13:
	// a revoked node is sent nothing more, and nothing of its is taken).
	caller, perr := s.caller(ctx, sr.node)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	if caller.Revoked {
		writeProtocolError(w, errRevokedNode)
		return
	}
	wait := time.NewTimer(time.Minute)
	defer wait.Stop()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-wait.C:
		writeProtocolError(w, errBusy)
		return
	case <-ctx.Done():
		writeProtocolError(w, errBusy)
		return
	}
	wire, perr := readBody(r.Body, MaxBody)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	sum := sha256.Sum256(wire)
	if !sr.verify(s.n.Keys.OrgID(), r.Method, r.URL.Path, caller.SigningKey, sum[:]) {
		writeProtocolError(w, errBadSig)
		return
	}
	if !s.replay.fresh(sr.node, sr.nonce, sr.at, s.now()) {
		writeProtocolError(w, errReplay)
		return
	}
	body, perr := decodeBody(r.Header.Get("Content-Encoding"), wire)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	out, perr := fn(ctx, caller, body)
	if perr != nil {
		writeProtocolError(w, perr)
		return
	}
	s.answer(w, r, sr.sig, out)
}

// answer encodes, compresses if asked, signs and sends out.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, reqSig string, out any) {
	data, ok := out.(encoded)
	if !ok {
		var err error
		if data, err = json.Marshal(out); err != nil {
			writeProtocolError(w, s.internal(r, "encode answer", err))
			return
		}
	}
	h := w.Header()
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		var err error
		if data, err = gzipBytes(data); err != nil {
			writeProtocolError(w, s.internal(r, "compress answer", err))
			return
		}
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(data)))
	signResponse(h, s.n.Keys.OrgID(), http.StatusOK, s.n.Keys.NodeID, s.n.Keys.Signing, reqSig, data, s.now())
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// caller looks up an enrolled node by id.
func (s *Server) caller(ctx context.Context, id string) (ledger.NodeInfo, *ProtocolError) {
	if id == s.n.Keys.NodeID {
		// Our own id calling us: a loop in the configuration (or a copy
		// of this node's folder running elsewhere).
		return ledger.NodeInfo{}, badRequest("a node cannot sync with itself")
	}
	nodes, err := s.n.Ledger.NodeList(ctx)
	if err != nil {
		s.log.Error("sync: list nodes", "err", err)
		return ledger.NodeInfo{}, errInternal
	}
	for _, n := range nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return ledger.NodeInfo{}, errUnknownNode
}

func writeProtocolError(w http.ResponseWriter, e *ProtocolError) {
	data, _ := json.Marshal(ErrorBody{Error: e.Msg, Code: e.Code})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Del("Content-Encoding")
	w.WriteHeader(e.Status)
	w.Write(append(data, '\n'))
}

// readBody reads at most limit bytes; more is errTooLarge.
func readBody(r io.Reader, limit int64) ([]byte, *ProtocolError) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, badRequest("could not read the body")
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

// decodeBody undoes a Content-Encoding, bounded by MaxDecoded.
func decodeBody(encoding string, wire []byte) ([]byte, *ProtocolError) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return wire, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			return nil, badRequest("the gzip body is damaged")
		}
		data, err := io.ReadAll(io.LimitReader(zr, MaxDecoded+1))
		if err != nil {
			return nil, badRequest("the gzip body is damaged")
		}
		if len(data) > MaxDecoded {
			return nil, errTooLarge
		}
		return data, nil
	}
	return nil, errEncoding
}

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(data) / 3)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
