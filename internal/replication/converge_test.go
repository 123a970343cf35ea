package replication_test

// The convergence property: four nodes of one organisation do random
// operations of every kind the product has (people, households, merges,
// check-ins, found/left marks, incidents, hazards, routes, reports and
// decisions, duplicates, users, revocations), exchange events by random
// partial syncs, repeated and reordered deliveries; after a final full
// exchange every node that was not revoked has the same state hash, and no
// event any of them acknowledged is lost.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/node"
	"caravana/internal/registry"
	"caravana/internal/replication"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const passphrase = "correct horse battery"

var op = auth.Operator("test")

// org is a founding node and the nodes it enrolled.
type org struct {
	nodes   []*node.Node
	revoked map[string]bool
	people  []string // ids of people registered anywhere
	reports []string
	hazards []string
	stale   []byte // a bundle made earlier, to import again late
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// newOrg makes n nodes in fresh folders under base.
func newOrg(t fataler, base string, n int) *org {
	t.Helper()
	ctx := context.Background()
	dir := func() string {
		d, err := os.MkdirTemp(base, "node")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	root, err := node.Init(ctx, node.Config{Dir: dir(), Passphrase: passphrase, KDF: testKDF, PasswordKDF: testKDF},
		node.InitOptions{Name: "front", AdminUser: "ana", AdminPassword: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	o := &org{nodes: []*node.Node{root}, revoked: map[string]bool{}}
	founder, err := root.Ledger.Founder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		keys, err := crypto.NewKeys(testKDF)
		if err != nil {
			t.Fatal(err)
		}
		j, err := node.Join(ctx, node.Config{Dir: dir(), KDF: testKDF, PasswordKDF: testKDF}, keys, passphrase,
			root.Keys.KeyID, root.Keys.DataKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Ledger.Trust(ctx, founder); err != nil {
			t.Fatal(err)
		}
		if err := root.Ledger.Enrol(ctx, "test", ledger.NodeInfo{ID: keys.NodeID, Name: fmt.Sprintf("n%d", i),
			SigningKey: keys.Signing.Public().(ed25519.PublicKey), AgeRecipient: keys.AgeRecipient}); err != nil {
			t.Fatal(err)
		}
		o.nodes = append(o.nodes, j)
	}
	return o
}

func (o *org) close() {
	for _, n := range o.nodes {
		n.Close()
	}
}

// deliver sends from a to b up to limit events b lacks; shuffled, some
// dropped from the front (a gap: refused, resent later), some repeated.
func deliver(t fataler, r *rand.Rand, a, b *node.Node, limit int, mess bool) int {
	ctx := context.Background()
	vec, err := b.Ledger.Vector(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := a.Ledger.Missing(ctx, vec, limit)
	if err != nil {
		t.Fatal(err)
	}
	if mess && len(evs) > 1 {
		r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		if r.IntN(2) == 0 {
			evs = evs[1:]
		}
		if r.IntN(2) == 0 {
			evs = append(evs, evs[:len(evs)/2]...)
		}
	}
	res, err := b.Ledger.Import(ctx, evs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, r := range res.Rejected {
		switch r.Reason {
		case ledger.ReasonGap, ledger.ReasonRevoked:
		case ledger.ReasonNotEnrolled:
			// The enrolment may not have reached b yet.
		default:
			t.Fatalf("a genuine event was refused: %v", r)
		}
	}
	return res.Applied
}

// carry exports a bundle from a for b and imports it on b (sometimes
// twice, sometimes a stale one kept from earlier). A bundle to or from a
// revoked node is refused at export or import; that is fine here.
func carry(t fataler, r *rand.Rand, o *org, a, b *node.Node) {
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := replication.ExportBundle(ctx, a, []string{b.Keys.NodeID}, r.IntN(4) == 0, &buf); err != nil {
		if o.revoked[a.Keys.NodeID] || o.revoked[b.Keys.NodeID] || isRevokedErr(err) {
			return
		}
		t.Fatalf("export: %v", err)
	}
	files := [][]byte{buf.Bytes()}
	if r.IntN(3) == 0 {
		files = append(files, buf.Bytes()) // imported twice
	}
	if o.stale != nil && r.IntN(3) == 0 {
		files = append(files, o.stale) // an old file turns up
	}
	o.stale = buf.Bytes()
	for _, f := range files {
		if _, err := replication.ImportBundle(ctx, b, bytes.NewReader(f)); err != nil && !isRevokedErr(err) &&
			!errors.Is(err, replication.ErrNotAddressed) {
			t.Fatalf("import: %v", err)
		}
	}
}

func isRevokedErr(err error) bool {
	return errors.Is(err, replication.ErrRevokedSender) || errors.Is(err, replication.ErrRevokedRecipient) ||
		errors.Is(err, replication.ErrUnknownSender) || errors.Is(err, replication.ErrUnknownRecipient)
}

// operate does one random operation on node n; domain refusals (an id not
// yet synced here, a closed report) are part of life and ignored.
func (o *org) operate(r *rand.Rand, n *node.Node) {
	ctx := context.Background()
	// Picking among the first few makes nodes touch the same records
	// concurrently, which is where convergence is at stake.
	pick := func(ids []string, _ string) string {
		if len(ids) == 0 {
			return "none"
		}
		return ids[r.IntN(min(len(ids), 4))]
	}
	names := []string{"Ana", "José", "María", "Luis", "Rosa"}
	stages := journey.DefaultRoute().Stages
	stage := stages[r.IntN(5)].ID
	switch kind := r.IntN(28) - 6; kind {
	case -6, -5, -4:
		n.Registry.Update(ctx, op, pick(o.people, "person"), registry.Patch{Fields: map[string]string{
			oneOf(r, []string{auth.FieldGivenNames, auth.FieldSurname2, auth.FieldOriginTown}): oneOf(r, names)}})
	case -3, -2, -1, 0, 1:
		p, err := n.Registry.Register(ctx, op, registry.PersonInput{GivenNames: oneOf(r, names),
			Surname1: oneOf(r, []string{"López", "Paz", "Reyes"}), Sex: "F",
			BirthDate: "2001-02-03", Consent: registry.Consent{Registration: true, Tracing: r.IntN(2) == 0}})
		if err == nil {
			o.people = append(o.people, p.ID)
		}
	case 2:
		n.Registry.Update(ctx, op, pick(o.people, "person"), registry.Patch{Fields: map[string]string{
			auth.FieldGivenNames: oneOf(r, names)}})
	case 3:
		n.Registry.Merge(ctx, op, pick(o.people, "keep"), pick(o.people, "dup"))
	case 4:
		n.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Familia", Kind: "family",
			Members: []registry.Member{{Person: pick(o.people, "head"), Role: "head"}}})
	case 5:
		n.Journey.CheckIn(ctx, op, stage, journey.CheckinInput{PersonRef: journey.PersonRef{Person: pick(o.people, "seen")}})
	case 6:
		n.Journey.MarkFound(ctx, op, journey.PersonRef{Person: pick(o.people, "found")}, stage)
	case 7:
		n.Journey.MarkLeft(ctx, op, journey.PersonRef{Person: pick(o.people, "left")},
			oneOf(r, journey.LeftReasons), stage, time.Time{})
	case 8:
		n.Journey.MarkRejoined(ctx, op, journey.PersonRef{Person: pick(o.people, "back")})
	case 9:
		n.Journey.RecordIncident(ctx, op, journey.IncidentInput{Kind: "medical", Severity: "low",
			Place: journey.Place{Stage: stage}, Count: 1})
	case 10:
		h, err := n.Journey.RecordHazard(ctx, op, journey.HazardInput{Kind: "flooding", Place: journey.Place{Stage: stage},
			Until: time.Now().Add(time.Hour)})
		if err == nil {
			o.hazards = append(o.hazards, h.ID)
		}
	case 11:
		n.Journey.ClearHazard(ctx, op, pick(o.hazards, "hazard"))
	case 12:
		r, _, err := n.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: oneOf(r, names),
			Surnames: "López"})
		if err == nil {
			o.reports = append(o.reports, r.ID)
		}
	case 13:
		n.Tracing.Confirm(ctx, op, pick(o.reports, "report"), "person/"+pick(o.people, "match"),
			oneOf(r, tracing.Outcomes))
	case 14:
		n.Tracing.Reject(ctx, op, pick(o.reports, "report"), "person/"+pick(o.people, "not"))
	case 15:
		n.Tracing.Withdraw(ctx, op, pick(o.reports, "report"), "other")
	case 16:
		// The same username on two nodes before they sync is kept twice.
		n.Auth.AddUser(ctx, op, oneOf(r, []string{"vol1", "vol2"}), auth.Volunteer, "long enough pw")
	case 17:
		n.Journey.SetRoute(ctx, op, stages[:3+r.IntN(len(stages)-2)])
	case 18:
		n.Supply.Receive(ctx, op, supply.ReceiptInput{Item: oneOf(r, []string{"family-tent", "water"}), Qty: 1 + r.IntN(50), Stage: stage})
	case 19, 20:
		// The same households, given the same once-only tent or the day's
		// water on nodes that have not synced: both kept, flagged.
		n.Supply.Give(ctx, op, supply.GiveInput{Item: oneOf(r, []string{"family-tent", "water"}), Stage: stage,
			Override: r.IntN(8) == 0, People: []supply.PersonRef{{Person: pick(o.people, "recipient")}}})
	case 21:
		if cs, err := n.Supply.Conflicts(ctx, op); err == nil && len(cs) > 0 {
			n.Supply.Review(ctx, op, cs[r.IntN(len(cs))].Key, oneOf(r, supply.Outcomes), "revisado")
		}
	}
}

func TestNodesConverge(t *testing.T) {
	base := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		o := newOrg(t, base, 4)
		defer o.close()
		ctx := context.Background()
		// Some shared records first, and everyone hears of them and of the
		// enrolments (as a join does): then the nodes work on the same
		// people and reports concurrently, where convergence is at stake.
		root := o.nodes[0]
		for _, name := range []string{"Ana", "José", "Rosa"} {
			p, err := root.Registry.Register(ctx, op, registry.PersonInput{GivenNames: name, Surname1: "López", Sex: "F",
				BirthDate: "2001-02-03", Consent: registry.Consent{Registration: true, Tracing: true}})
			if err != nil {
				t.Fatal(err)
			}
			o.people = append(o.people, p.ID)
		}
		// Supplies: the catalogue, and a household of the first two shared
		// people (the third has none: a household of one).
		if _, err := root.Supply.DefineDefaults(ctx, op); err != nil {
			t.Fatal(err)
		}
		if _, err := root.Registry.CreateHousehold(ctx, op, registry.HouseholdInput{Label: "Familia López", Kind: "family",
			Members: []registry.Member{{Person: o.people[0], Role: "head"}, {Person: o.people[1], Role: "child"}}}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Ana", "Pepe"} {
			r, _, err := root.Tracing.Report(ctx, op, tracing.ReportInput{GivenNames: name, Surnames: "López"})
			if err != nil {
				t.Fatal(err)
			}
			o.reports = append(o.reports, r.ID)
		}
		r := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
		for _, n := range o.nodes[1:] {
			deliver(t, r, root, n, 1000, false)
		}
		// The steps are drawn from a generator seeded by rapid: uniform
		// choices over many steps (rapid's own draws favour small values).
		steps := 20 + r.IntN(100)
		for range steps {
			i := r.IntN(len(o.nodes))
			switch r.IntN(20) {
			case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
				o.operate(r, o.nodes[i])
			case 11, 12, 13, 14, 15:
				if j := r.IntN(len(o.nodes)); i != j {
					deliver(t, r, o.nodes[i], o.nodes[j], 1+r.IntN(40), r.IntN(2) == 0)
				}
			case 16, 17:
				// A bundle carried by hand, sometimes imported twice, or
				// an old one imported after newer news.
				if j := r.IntN(len(o.nodes)); i != j {
					carry(t, r, o, o.nodes[i], o.nodes[j])
				}
			case 18:
				// Revoke a node (never the founder, at most two).
				j := 1 + r.IntN(len(o.nodes)-1)
				by := o.nodes[r.IntN(len(o.nodes))]
				if r.IntN(3) == 0 && len(o.revoked) < 2 && !o.revoked[o.nodes[j].Keys.NodeID] && by != o.nodes[j] && !o.revoked[by.Keys.NodeID] {
					if _, err := by.Ledger.Revoke(ctx, "test", o.nodes[j].Keys.NodeID); err == nil {
						o.revoked[o.nodes[j].Keys.NodeID] = true
					}
				}
			case 19:
				// A revoked node keeps writing; nobody should take it.
				for _, n := range o.nodes {
					if o.revoked[n.Keys.NodeID] {
						o.operate(r, n)
					}
				}
			}
		}
		// Final exchange among the nodes still trusted, until quiet.
		var live []*node.Node
		for _, n := range o.nodes {
			if !o.revoked[n.Keys.NodeID] {
				live = append(live, n)
			}
		}
		for round := 0; ; round++ {
			moved := 0
			for _, a := range live {
				for _, b := range live {
					if a != b {
						moved += deliver(t, r, a, b, 100_000, false)
					}
				}
			}
			if moved == 0 {
				break
			}
			if round > 10 {
				t.Fatal("the nodes do not settle")
			}
		}
		var want string
		var wantVec map[string]uint64
		for i, n := range live {
			rep, err := n.Ledger.Verify(ctx, true)
			if err != nil || !rep.OK() {
				t.Fatalf("verify node %d: %+v %v", i, rep.Problems, err)
			}
			if i == 0 {
				want, wantVec = rep.StateHash, rep.Nodes
				continue
			}
			if rep.StateHash != want {
				t.Fatalf("node %d's state differs: %s vs %s (vectors %v vs %v)", i, rep.StateHash, want, rep.Nodes, wantVec)
			}
		}
		total := 0
		for _, seq := range wantVec {
			total += int(seq)
		}
		t.Logf("%d steps, %d nodes trusted, %d events", steps, len(live), total)
		// No acknowledged event of a trusted node is lost.
		for _, n := range live {
			own, err := n.Ledger.Vector(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if wantVec[n.Keys.NodeID] != own[n.Keys.NodeID] {
				t.Fatalf("node %s acknowledged %d events, the others hold %d", n.Keys.NodeID, own[n.Keys.NodeID], wantVec[n.Keys.NodeID])
			}
		}
	})
}

func oneOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
