package replication

import (
	"encoding/json"
	"testing"
)

// FuzzSyncRequest feeds the pull, push and join request decoders (and the
// invitation reader) arbitrary bytes: they must never panic, and what they
// accept must hold to their bounds (S18).
func FuzzSyncRequest(f *testing.F) {
	for _, s := range []string{
		`{"vector":{},"limit":10}`,
		`{"vector":{"0123456789abcdef":42},"limit":0}`,
		`{"events":[],"vector":{}}`,
		`{"events":[{"node":"0123456789abcdef","seq":1,"hlc":1,"actor":"a","kind":"person.registered","subject":"person/x","body":{"a":1},"prev":null,"hash":"AAAA","sig":"AAAA"}],"vector":{"x":1}}`,
		`{"invite":"00aa","node":"ab","name":"rear","signing_key":"AAAA","age_recipient":"age1xyz","proof":"AAAA"}`,
		`{"version":1,"org":"x","founder":{"id":"a","signing_key":"AAAA"},"inviter":{"id":"a","signing_key":"AAAA"},"urls":["http://127.0.0.1:1"],"invite":"x","secret":"AAAA","expires":"2030-01-01T00:00:00Z"}`,
		`{"vector":{"":1}}`, `{"limit":-5}`, `[]`, `null`, `{"vector":{}} {}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodePull(data); err == nil {
			if r.Limit < 1 || r.Limit > MaxBatch || len(r.Vector) > maxVector {
				t.Fatalf("accepted pull out of bounds: limit %d, %d nodes", r.Limit, len(r.Vector))
			}
		}
		if r, err := DecodePush(data); err == nil {
			if len(r.Events) > MaxBatch {
				t.Fatalf("accepted %d events", len(r.Events))
			}
			for _, e := range r.Events {
				if e.Node == "" || e.Seq == 0 {
					t.Fatal("accepted an event without node or seq")
				}
			}
		}
		if r, err := DecodeJoin(data); err == nil {
			if len(r.SigningKey) != 32 || len(r.Proof) != 64 || r.Invite == "" {
				t.Fatalf("accepted a join without key, proof or invitation: %+v", r)
			}
		}
		if inv, err := DecodeInvitation(data); err == nil {
			if len(inv.Secret) != 32 || len(inv.URLs) == 0 || !validRef(inv.Founder) {
				t.Fatalf("accepted a broken invitation")
			}
		}
		// Whatever the decoders accept re-encodes (no half-decoded state).
		if r, err := DecodePull(data); err == nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
		decodeBody("gzip", data)
	})
}
