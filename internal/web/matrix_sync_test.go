package web

import (
	"context"
	"crypto/ed25519"
	"testing"

	"caravana/internal/crypto"
	"caravana/internal/ledger"
)

// withSpareNode enrols a throwaway node, for a request that revokes one.
func withSpareNode(t *testing.T, e *env, f *fixtures) map[string]string {
	k, err := crypto.NewKeys(crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.n.Ledger.Enrol(context.Background(), "test", ledger.NodeInfo{ID: k.NodeID, Name: "spare",
		SigningKey: k.Signing.Public().(ed25519.PublicKey), AgeRecipient: k.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"node": k.NodeID}
}

// withHeldNode holds a future-stamped node's events, for a request that
// releases them.
func withHeldNode(t *testing.T, e *env, f *fixtures) map[string]string {
	k, _ := holdFuture(t, e)
	return map[string]string{"node": k.NodeID}
}

// syncRoutes: the status page, its JSON twin, revocation and releasing
// held events are for
// coordinators; the node-to-node endpoints answer no session at all, only
// a node's signature (401 for every role and for no session).
func syncRoutes(form func(kv ...string) func(map[string]string) any, jsonBody func(string) func(map[string]string) any) []route {
	return []route{
		{pattern: "GET /sync", path: "/sync", page: true, ok: 200, allow: coordOnly},
		{pattern: "POST /sync/nodes/{id}/revoke", path: "/sync/nodes/{node}/revoke", page: true, ok: 303, allow: coordOnly,
			prep: withSpareNode, body: form("confirm", "1")},
		{pattern: "POST /sync/held/{id}/release", path: "/sync/held/{node}/release", page: true, ok: 303, allow: coordOnly,
			prep: withHeldNode, body: form("confirm", "1")},
		{pattern: "GET /api/v1/sync", path: "/api/v1/sync", ok: 200, allow: coordOnly},
		{pattern: "POST /sync/v1/pull", path: "/sync/v1/pull", public: true, ok: 401, body: jsonBody(`{"vector":{},"limit":10}`)},
		{pattern: "POST /sync/v1/push", path: "/sync/v1/push", public: true, ok: 401, body: jsonBody(`{"events":[],"vector":{}}`)},
		{pattern: "POST /sync/v1/join", path: "/sync/v1/join", public: true, ok: 401, body: jsonBody(`{}`)},
	}
}
