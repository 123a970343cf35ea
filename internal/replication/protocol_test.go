package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
)

// liveKeys makes node keys and enrols them on n (no node folder: the
// signing tests only need a key the organisation knows).
func liveKeys(t *testing.T, n interface {
	Enrol(context.Context, string, ledger.NodeInfo) error
}) *crypto.Keys {
	t.Helper()
	k, err := crypto.NewKeys(liveKDF)
	if err != nil {
		t.Fatal(err)
	}
	if n != nil {
		if err := n.Enrol(context.Background(), "test", ledger.NodeInfo{ID: k.NodeID, Name: "k",
			SigningKey: k.Signing.Public().(ed25519.PublicKey), AgeRecipient: k.AgeRecipient}); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

type rawAnswer struct {
	status int
	code   string
	header http.Header
	body   []byte
	reqSig string
}

// rawCall sends one request, signed as sign says, and returns the answer.
func rawCall(t *testing.T, req *http.Request) rawAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := rawAnswer{status: resp.StatusCode, header: resp.Header, body: body, reqSig: req.Header.Get(HeaderSignature)}
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		if err := json.Unmarshal(body, &eb); err != nil {
			t.Fatalf("error answer is not JSON {error, code}: %q", body)
		}
		a.code = eb.Code
	}
	return a
}

func newRaw(t *testing.T, url, path string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "identity") // the signature covers the body as sent
	return req
}

// TestSyncRequestAuth: the server answers only requests signed by an
// enrolled, unrevoked node of its organisation, fresh and not replayed, and
// signs what it answers.
func TestSyncRequestAuth(t *testing.T) {
	a := liveFounder(t)
	_, ts := liveServe(t, a)
	org := a.Keys.OrgID()
	member := liveKeys(t, a.Ledger)
	revoked := liveKeys(t, a.Ledger)
	if _, err := a.Ledger.Revoke(context.Background(), "test", revoked.NodeID); err != nil {
		t.Fatal(err)
	}
	stranger := liveKeys(t, nil)
	pull := []byte(`{"vector":{},"limit":10}`)
	now := time.Now()

	signed := func(path string, k *crypto.Keys, org string, body []byte, at time.Time) *http.Request {
		req := newRaw(t, ts.URL, path, body)
		signRequest(req, org, k.NodeID, k.Signing, body, at)
		return req
	}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"member", func() *http.Request { return signed(PathPull, member, org, pull, now) }, 200, ""},
		{"unsigned", func() *http.Request { return newRaw(t, ts.URL, PathPull, pull) }, 401, "unauthenticated"},
		{"stale", func() *http.Request { return signed(PathPull, member, org, pull, now.Add(-6*time.Minute)) }, 401, "stale"},
		{"from the future", func() *http.Request { return signed(PathPull, member, org, pull, now.Add(6*time.Minute)) }, 401, "stale"},
		{"unknown node", func() *http.Request { return signed(PathPull, stranger, org, pull, now) }, 403, "unknown_node"},
		{"revoked node", func() *http.Request { return signed(PathPull, revoked, org, pull, now) }, 403, "revoked"},
		{"revoked node pushing", func() *http.Request {
			return signed(PathPush, revoked, org, []byte(`{"events":[],"vector":{}}`), now)
		}, 403, "revoked"},
		{"wrong key for the node", func() *http.Request {
			req := newRaw(t, ts.URL, PathPull, pull)
			signRequest(req, org, member.NodeID, stranger.Signing, pull, now)
			return req
		}, 401, "bad_signature"},
		{"another organisation", func() *http.Request { return signed(PathPull, member, "0123456789abcdef", pull, now) }, 401, "bad_signature"},
		{"tampered body", func() *http.Request {
			req := signed(PathPull, member, org, pull, now)
			other := []byte(`{"vector":{},"limit":11}`)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(other)), int64(len(other))
			return req
		}, 401, "bad_signature"},
		{"signed for another path", func() *http.Request {
			req := signed(PathPush, member, org, pull, now)
			req.URL.Path = PathPull
			return req
		}, 401, "bad_signature"},
		{"tampered time", func() *http.Request {
			req := signed(PathPull, member, org, pull, now)
			ts := req.Header.Get(HeaderTime)
			last := byte('0')
			if ts[len(ts)-1] == '0' {
				last = '1'
			}
			req.Header.Set(HeaderTime, ts[:len(ts)-1]+string(last))
			return req
		}, 401, "bad_signature"},
		{"malformed body", func() *http.Request { return signed(PathPull, member, org, []byte(`{"vector":`), now) }, 400, "bad_request"},
		{"unknown field", func() *http.Request { return signed(PathPull, member, org, []byte(`{"vector":{},"x":1}`), now) }, 400, "bad_request"},
		{"bad gzip", func() *http.Request {
			req := signed(PathPull, member, org, pull, now)
			req.Header.Set("Content-Encoding", "gzip")
			return req
		}, 400, "bad_request"},
		{"unknown encoding", func() *http.Request {
			req := signed(PathPull, member, org, pull, now)
			req.Header.Set("Content-Encoding", "br")
			return req
		}, 415, "unsupported_encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans := rawCall(t, tc.req())
			if ans.status != tc.status || ans.code != tc.code {
				t.Fatalf("status %d code %q, want %d %q (%s)", ans.status, ans.code, tc.status, tc.code, ans.body)
			}
			if ans.status != 200 {
				return
			}
			if err := verifyResponse(ans.header, org, 200, a.Ledger.PublicKey(), ans.reqSig, ans.body); err != nil {
				t.Fatalf("the answer does not verify under the server's key: %v", err)
			}
			var pr PullResponse
			if err := json.Unmarshal(ans.body, &pr); err != nil || len(pr.Events) == 0 || pr.Vector[a.Keys.NodeID] == 0 {
				t.Fatalf("pull answer: %+v %v", pr, err)
			}
			// The signature covers the body and binds the answer to its request.
			tampered := bytes.Replace(ans.body, []byte(`"more":false`), []byte(`"more":true `), 1)
			if bytes.Equal(tampered, ans.body) {
				t.Fatal("test body did not change")
			}
			if verifyResponse(ans.header, org, 200, a.Ledger.PublicKey(), ans.reqSig, tampered) == nil {
				t.Error("a tampered answer verifies")
			}
			if verifyResponse(ans.header, org, 200, a.Ledger.PublicKey(), "another request", ans.body) == nil {
				t.Error("an answer verifies for another request")
			}
			if verifyResponse(ans.header, org, 200, member.Signing.Public().(ed25519.PublicKey), ans.reqSig, ans.body) == nil {
				t.Error("an answer verifies under another node's key")
			}
		})
	}

	t.Run("replayed", func(t *testing.T) {
		req := signed(PathPull, member, org, pull, now)
		if ans := rawCall(t, req); ans.status != 200 {
			t.Fatalf("first: %d %s", ans.status, ans.body)
		}
		again := newRaw(t, ts.URL, PathPull, pull)
		again.Header = req.Header.Clone()
		if ans := rawCall(t, again); ans.status != 401 || ans.code != "replay" {
			t.Fatalf("replay: %d %q", ans.status, ans.code)
		}
	})
}

func TestReplayCacheForgets(t *testing.T) {
	c := newReplayCache()
	t0 := time.Now()
	if !c.fresh("n", "x", t0, t0) || c.fresh("n", "x", t0, t0.Add(time.Minute)) {
		t.Fatal("a nonce is fresh twice within the window")
	}
	if !c.fresh("m", "x", t0, t0) {
		t.Fatal("the same nonce from another node is refused")
	}
	// Past the window the entry is swept (the request itself would be stale).
	later := t0.Add(MaxSkew + time.Minute)
	c.fresh("n", "y", later, later)
	if _, ok := c.seen["n\x00x"]; ok {
		t.Fatal("an entry outlived its window")
	}
}

func TestDecodeBounds(t *testing.T) {
	if _, err := DecodePull([]byte(`{"vector":{"":1}}`)); err == nil {
		t.Error("an empty node id in a vector passes")
	}
	if r, err := DecodePull([]byte(`{"vector":{},"limit":999999}`)); err != nil || r.Limit != MaxBatch {
		t.Errorf("limit not clamped: %+v %v", r, err)
	}
	if _, err := DecodePull([]byte(`{"vector":{},"limit":-1}`)); err == nil {
		t.Error("a negative limit passes")
	}
	if _, err := DecodePull([]byte(`{"vector":{}} {}`)); err == nil {
		t.Error("two values pass")
	}
	if _, err := DecodePush([]byte(`{"events":[{"node":"","seq":1}],"vector":{}}`)); err == nil {
		t.Error("an event without a node passes")
	}
	big := `{"events":[` + strings.Repeat(`{"node":"a","seq":1},`, MaxBatch) + `{"node":"a","seq":1}],"vector":{}}`
	if _, err := DecodePush([]byte(big)); err == nil {
		t.Error("more than MaxBatch events pass")
	}
	if _, perr := readBody(strings.NewReader("12345"), 4); perr != errTooLarge {
		t.Errorf("an oversized body: %v", perr)
	}
	zipped, _ := gzipBytes(bytes.Repeat([]byte("a"), MaxDecoded+1))
	if _, perr := decodeBody("gzip", zipped); perr != errTooLarge {
		t.Errorf("a gzip bomb: %v", perr)
	}
}

// TestEncodeBounded: a batch too big to send whole is sent in parts, in
// order (the head of each node's run first), never cut inside an event.
func TestEncodeBounded(t *testing.T) {
	evs := make([]event.Event, 10)
	for i := range evs {
		evs[i] = event.Event{Node: "n", Seq: uint64(i + 1), Body: json.RawMessage(`"` + strings.Repeat("x", 1000) + `"`)}
	}
	resp := PullResponse{Events: evs, Vector: map[string]uint64{"n": 10}}
	data, trimmed, err := encodeBounded(&resp, &resp.Events, 4000)
	if err != nil || !trimmed || len(data) > 4000 || len(resp.Events) != 2 || resp.Events[1].Seq != 2 {
		t.Fatalf("trimmed to %d events, %d bytes, %v %v", len(resp.Events), len(data), trimmed, err)
	}
	one := PushRequest{Events: evs[:1]}
	if _, trimmed, err := encodeBounded(&one, &one.Events, 10); err != nil || trimmed || len(one.Events) != 1 {
		t.Fatal("a single event larger than the bound is not sent alone")
	}
	whole := PullResponse{Events: evs}
	if _, trimmed, _ := encodeBounded(&whole, &whole.Events, 1<<20); trimmed || len(whole.Events) != 10 {
		t.Fatal("a batch within the bound was trimmed")
	}
}
