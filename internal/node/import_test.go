package node

import (
	"context"
	"crypto/ed25519"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// joinTestNode makes a second node of n's organisation, enrolled by n.
func joinTestNode(t *testing.T, n *Node, name string) *Node {
	t.Helper()
	ctx := context.Background()
	keys, err := crypto.NewKeys(testKDF)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dir: t.TempDir(), KDF: testKDF, PasswordKDF: testKDF}
	j, err := Join(ctx, cfg, keys, "correct horse battery", n.Keys.KeyID, n.Keys.DataKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	founder, err := n.Ledger.Founder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Ledger.Trust(ctx, founder); err != nil {
		t.Fatal(err)
	}
	if err := n.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: name,
		SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
		t.Fatal(err)
	}
	return j
}

// exchange delivers everything each node lacks to the other.
func exchange(t *testing.T, a, b *Node) {
	t.Helper()
	ctx := context.Background()
	for _, pair := range [][2]*Node{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		for {
			vec, err := to.Ledger.Vector(ctx)
			if err != nil {
				t.Fatal(err)
			}
			evs, more, err := from.Ledger.Missing(ctx, vec, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			res, err := to.Ledger.Import(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) > 0 {
				t.Fatalf("rejected: %v", res.Rejected)
			}
			if !more {
				break
			}
		}
	}
}

func stateHash(t *testing.T, n *Node) string {
	t.Helper()
	rep, err := n.Ledger.Verify(context.Background(), true)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	return rep.StateHash
}

// TestImportConverges: a joined node receives the organisation's log
// (users, people), both write, and after exchanging both hold the same
// events and state; a second delivery changes nothing.
func TestImportConverges(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestNode(t)
	op := auth.Operator("test")
	if _, err := a.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Ana", Surname1: "Reyes", Sex: "F",
		Consent: registry.Consent{Registration: true}}); err != nil {
		t.Fatal(err)
	}
	b := joinTestNode(t, a, "rear")
	exchange(t, a, b)
	if _, _, _, err := b.Auth.Login(ctx, b.Throttle, "ana", "long enough pw", "127.0.0.1"); err != nil {
		t.Fatalf("the coordinator made on the first node cannot log in on the second: %v", err)
	}
	if _, err := b.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Beto", Surname1: "Paz", Sex: "M",
		Consent: registry.Consent{Registration: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Carla", Surname1: "Luna", Sex: "F",
		Consent: registry.Consent{Registration: true}}); err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b)
	if ha, hb := stateHash(t, a), stateHash(t, b); ha != hb {
		t.Fatalf("state differs after sync: %s vs %s", ha, hb)
	}
	for _, n := range []*Node{a, b} {
		list, total, err := n.Registry.List(ctx, op, 0, 10)
		if err != nil || total != 3 || len(list) != 3 {
			t.Fatalf("people on a node: %d %v", total, err)
		}
	}
	// A repeat delivery is known, not applied.
	evs, _, err := a.Ledger.Missing(ctx, map[string]uint64{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Ledger.Import(ctx, evs)
	if err != nil || res.Applied != 0 || res.Known != len(evs) || len(res.Rejected) != 0 {
		t.Fatalf("repeat delivery: %+v %v", res, err)
	}
}

// TestImportRefuses: events from a node nobody enrolled, a tampered body,
// a broken chain and a gap are refused with a reason, and apply nothing.
func TestImportRefuses(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestNode(t)
	stranger, _ := newTestNode(t) // another organisation
	op := auth.Operator("test")
	if _, err := stranger.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Eva", Surname1: "Sol", Sex: "F",
		Consent: registry.Consent{Registration: true}}); err != nil {
		t.Fatal(err)
	}
	theirs, _, err := stranger.Ledger.Missing(ctx, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	before := stateHash(t, a)
	res, err := a.Ledger.Import(ctx, theirs)
	if err != nil || res.Applied != 0 || len(res.Rejected) != 1 || res.Rejected[0].Reason != ledger.ReasonNotEnrolled {
		t.Fatalf("stranger's events: %+v %v", res, err)
	}

	b := joinTestNode(t, a, "rear")
	exchange(t, a, b)
	for i := range 3 {
		if _, err := b.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Bea", Surname1: "Paz" + string(rune('a'+i)),
			Sex: "F", Consent: registry.Consent{Registration: true}}); err != nil {
			t.Fatal(err)
		}
	}
	vec, _ := a.Ledger.Vector(ctx)
	mine, _, err := b.Ledger.Missing(ctx, vec, 100)
	if err != nil || len(mine) != 3 {
		t.Fatalf("b's new events: %d %v", len(mine), err)
	}
	tamper := func(f func([]event.Event)) []event.Event {
		c := make([]event.Event, len(mine))
		copy(c, mine)
		f(c)
		return c
	}
	before = stateHash(t, a)
	for name, evs := range map[string][]event.Event{
		"tampered body":  tamper(func(c []event.Event) { c[1].Body = []byte(`{"fields":{}}`) }),
		"forged last":    tamper(func(c []event.Event) { c[2].Sig = append([]byte{}, c[1].Sig...) }),
		"missing first":  tamper(func(c []event.Event) { c[0] = c[1] }),
		"relinked chain": tamper(func(c []event.Event) { c[2].Prev = c[0].Hash; c[2].Hash = c[2].ComputeHash() }),
	} {
		res, err := a.Ledger.Import(ctx, evs)
		if err != nil || res.Applied != 0 || len(res.Rejected) != 1 {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
	if after := stateHash(t, a); after != before {
		t.Fatal("a refused delivery changed the state")
	}
	res, err = a.Ledger.Import(ctx, mine)
	if err != nil || res.Applied != 3 {
		t.Fatalf("the genuine events: %+v %v", res, err)
	}
}

// TestRevocation: events a revoked node signed after its cut are refused,
// and a node that already held some drops them when the revocation
// arrives, so every node ends with the same state.
func TestRevocation(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestNode(t)
	op := auth.Operator("test")
	b := joinTestNode(t, a, "seized")
	c := joinTestNode(t, a, "shelter")
	exchange(t, a, b)
	exchange(t, a, c)
	exchange(t, b, c)
	reg := func(n *Node, name string) {
		if _, err := n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: name, Surname1: "Test", Sex: "F",
			Consent: registry.Consent{Registration: true}}); err != nil {
			t.Fatal(err)
		}
	}
	reg(b, "Before")
	exchange(t, a, b)
	reg(b, "After") // c hears of this one before the revocation
	exchange(t, b, c)
	if _, err := a.Ledger.Revoke(ctx, "test", b.Keys.NodeID); err != nil {
		t.Fatal(err)
	}
	// a refuses what b signed after the cut.
	vec, _ := a.Ledger.Vector(ctx)
	late, _, err := b.Ledger.Missing(ctx, vec, 100)
	if err != nil || len(late) == 0 {
		t.Fatalf("late events: %d %v", len(late), err)
	}
	res, err := a.Ledger.Import(ctx, late)
	if err != nil || res.Applied != 0 || len(res.Rejected) != 1 || res.Rejected[0].Reason != ledger.ReasonRevoked {
		t.Fatalf("revoked node's late events: %+v %v", res, err)
	}
	// c held one of them: the revocation from a makes it drop it.
	vec, _ = c.Ledger.Vector(ctx)
	news, _, err := a.Ledger.Missing(ctx, vec, 100)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Ledger.Import(ctx, news)
	if err != nil || res.Purged != 1 {
		t.Fatalf("c after the revocation: %+v %v", res, err)
	}
	exchange(t, a, c)
	if ha, hc := stateHash(t, a), stateHash(t, c); ha != hc {
		t.Fatalf("a and c differ after the revocation: %s vs %s", ha, hc)
	}
	list, total, err := c.Registry.List(ctx, op, 0, 10)
	if err != nil || total != 1 || list[0].GivenNames != "Before" {
		t.Fatalf("people on c: %d %+v %v", total, list, err)
	}
}

// TestFieldConflict: two nodes change the same field of a person without
// having seen each other's change; after sync both values are kept and
// listed on every node, until a coordinator chooses one.
func TestFieldConflict(t *testing.T) {
	ctx := context.Background()
	a, _ := newTestNode(t)
	b := joinTestNode(t, a, "rear")
	op := auth.Operator("test")
	p, err := a.Registry.Register(ctx, op, registry.PersonInput{GivenNames: "Ana", Surname1: "Reyes", Sex: "F",
		OriginTown: "Tela", Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b)
	// A change seen by the other before its own is not a conflict.
	if _, err := a.Registry.Update(ctx, op, p.ID, registry.Patch{Fields: map[string]string{"origin_town": "Tela Vieja"}}); err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b)
	if _, err := b.Registry.Update(ctx, op, p.ID, registry.Patch{Fields: map[string]string{"origin_town": "Tela"}}); err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b)
	if cs, err := a.Registry.FieldConflicts(ctx, op); err != nil || len(cs) != 0 {
		t.Fatalf("sequential edits listed as a conflict: %+v %v", cs, err)
	}
	// Concurrent: both change the given names before syncing.
	if _, err := a.Registry.Update(ctx, op, p.ID, registry.Patch{Fields: map[string]string{"given_names": "Ana María"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Registry.Update(ctx, op, p.ID, registry.Patch{Fields: map[string]string{"given_names": "Ana Lucía"}}); err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b)
	for _, n := range []*Node{a, b} {
		cs, err := n.Registry.FieldConflicts(ctx, op)
		if err != nil || len(cs) != 1 || cs[0].Field != "given_names" || len(cs[0].Values) != 2 {
			t.Fatalf("conflicts = %+v, %v", cs, err)
		}
		vals := cs[0].Values[0].Value + "|" + cs[0].Values[1].Value
		if vals != "Ana María|Ana Lucía" && vals != "Ana Lucía|Ana María" {
			t.Fatalf("both values should be kept: %s", vals)
		}
	}
	if ha, hb := stateHash(t, a), stateHash(t, b); ha != hb {
		t.Fatal("the nodes differ")
	}
	// The volunteer role may not see the list.
	if _, err := a.Registry.FieldConflicts(ctx, auth.Principal{Role: auth.Volunteer}); err == nil {
		t.Fatal("a volunteer read the conflicts")
	}
	got, err := b.Registry.ResolveField(ctx, op, p.ID, "given_names", "Ana María")
	if err != nil || got.GivenNames != "Ana María" {
		t.Fatalf("resolve: %+v %v", got, err)
	}
	exchange(t, a, b)
	for _, n := range []*Node{a, b} {
		if cs, err := n.Registry.FieldConflicts(ctx, op); err != nil || len(cs) != 0 {
			t.Fatalf("still listed after resolving: %+v %v", cs, err)
		}
		q, err := n.Registry.Get(ctx, op, p.ID, "test")
		if err != nil || q.GivenNames != "Ana María" {
			t.Fatalf("value after resolving: %+v %v", q, err)
		}
	}
	if _, err := a.Registry.ResolveField(ctx, op, p.ID, "given_names", "Ana"); err == nil {
		t.Fatal("resolved a field with no open conflict")
	}
}

// TestUpgradeRebuildsProjections: a node whose projections were built by
// an older binary (no version mark, a projection document missing) is
// rebuilt once when opened, and ends with the state of a current node.
func TestUpgradeRebuildsProjections(t *testing.T) {
	ctx := context.Background()
	n, cfg := newTestNode(t)
	if _, err := n.Registry.Register(ctx, auth.Operator("test"), registry.PersonInput{GivenNames: "Ana", Surname1: "Paz", Sex: "F",
		Consent: registry.Consent{Registration: true}}); err != nil {
		t.Fatal(err)
	}
	want := stateHash(t, n)
	// What an older binary left: no version mark and no glance documents.
	if err := n.Store.Update(ctx, func(tx store.Tx) error {
		if err := tx.LocalDelete(ctx, "meta", "projections"); err != nil {
			return err
		}
		return tx.Scan(ctx, "person.glance", func(id string, _ []byte) error { return tx.Delete(ctx, "person.glance", id) })
	}); err != nil {
		t.Fatal(err)
	}
	if stateHash(t, n) == want {
		t.Fatal("the test removed nothing")
	}
	n.Close()
	m, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := stateHash(t, m); got != want {
		t.Fatalf("after the upgrade the state is %s, want %s", got, want)
	}
}
