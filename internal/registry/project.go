// Package registry holds people and households: their events, their
// projections and the service that registers, finds and shows them. PII is
// sealed field by field before it enters an event and is opened only here,
// for a principal allowed to see it, with the read written to the audit log.
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Event kinds.
const (
	KindPersonRegistered = "person.registered"
	KindPersonUpdated    = "person.updated"
	KindPersonMerged     = "person.merged"
	KindHouseholdCreated = "household.created"
	KindMemberAdded      = "household.member_added"
	KindMemberRemoved    = "household.member_removed"
	KindHouseholdUpdated = "household.updated"
)

// Projection document kinds and index names.
const (
	docPerson    = "person"
	docHousehold = "household"
	docGlance    = "person.glance" // small projection beside each person (glanceDoc)
	idxName      = "name"          // blind index of name tokens -> person id
	idxCode      = "code"          // blind index of card code -> person id
	idxMember    = "member"        // person id -> household id
	// idxRegistered and idxCreated order people and households by when
	// they were registered, so a page of a list reads only that page.
	idxRegistered = "registered"
	idxCreated    = "household_created"
)

// timeKey renders an HLC so that string order is time order.
func timeKey(h event.HLC) string { return fmt.Sprintf("%016x", uint64(h)) }

// versioned is one field's value with the (HLC, node) of the write that set
// it: last writer wins per field, deterministic in any arrival order.
type versioned struct {
	V string    `json:"v"`           // sealed value ("" = cleared)
	I []string  `json:"i,omitempty"` // blind index keys for V
	T event.HLC `json:"t"`
	N string    `json:"n"`
}

func (v versioned) older(t event.HLC, n string) bool {
	return v.T < t || (v.T == t && v.N < n)
}

// Consent records what the person agreed to, when registered.
type Consent struct {
	Registration bool `json:"registration"`
	Tracing      bool `json:"tracing"`
	Sharing      bool `json:"sharing"`
}

// personBody is the body of person.registered and person.updated.
type personBody struct {
	Fields  map[string]string   `json:"fields,omitempty"` // sealed values
	Index   map[string][]string `json:"index,omitempty"`  // blind keys per field
	Consent *Consent            `json:"consent,omitempty"`
	// MergedInto, in person.merged, names the record this duplicate
	// registration is merged into (a person id: no PII).
	MergedInto string `json:"merged_into,omitempty"`
}

type personDoc struct {
	ID           string               `json:"id"`
	Fields       map[string]versioned `json:"fields"`
	Consent      Consent              `json:"consent"`
	ConsentT     event.HLC            `json:"consent_t"`
	ConsentN     string               `json:"consent_n"`
	Registered   event.HLC            `json:"registered,omitempty"`
	RegisteredBy string               `json:"registered_by,omitempty"`
	Node         string               `json:"node,omitempty"`
	// Merged says this registration is a duplicate of another person's:
	// last writer wins, like a field.
	Merged *mergeMark `json:"merged,omitempty"`
}

// glanceDoc is what a checkpoint reads of a person after a scan: the
// sealed values of the fields a glance, the facts and the missing list
// show, and whom the record was merged into. It is written beside the
// person document after every person event as a function of that document
// alone, so it converges as the document does (in any arrival order) and a
// rebuild makes it again; reading it decodes a few hundred bytes instead
// of the whole record with its blind index keys.
type glanceDoc struct {
	Code       string `json:"code,omitempty"`
	GivenNames string `json:"given_names,omitempty"`
	Surname1   string `json:"surname1,omitempty"`
	Surname2   string `json:"surname2,omitempty"`
	Sex        string `json:"sex,omitempty"`
	BirthDate  string `json:"birth_date,omitempty"`
	Flags      string `json:"flags,omitempty"`
	MergedInto string `json:"merged_into,omitempty"`
}

// glanceOf derives the glance projection of a person document.
func glanceOf(doc *personDoc) glanceDoc {
	g := glanceDoc{Code: doc.Fields["code"].V, GivenNames: doc.Fields["given_names"].V,
		Surname1: doc.Fields["surname1"].V, Surname2: doc.Fields["surname2"].V, Sex: doc.Fields["sex"].V,
		BirthDate: doc.Fields["birth_date"].V, Flags: doc.Fields["flags"].V}
	if doc.Merged != nil {
		g.MergedInto = doc.Merged.Into
	}
	return g
}

// mergeMark is a person.merged event's effect on the duplicate.
type mergeMark struct {
	Into string    `json:"into"`
	T    event.HLC `json:"t"`
	N    string    `json:"n"`
}

// Register adds the registry's projections to p.
func Register(p *ledger.Projector) {
	p.Handle("person", applyPerson)
	p.Handle("household", applyHousehold)
}

func indexFor(field string) string {
	switch field {
	case "code":
		return idxCode
	case "given_names", "surname1", "surname2":
		return idxName
	}
	return ""
}

func applyPerson(ctx context.Context, tx store.Tx, e *event.Event) error {
	var body personBody
	if err := json.Unmarshal(e.Body, &body); err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	id := subjectID(e.Subject)
	var doc personDoc
	if _, err := store.GetJSON(ctx, tx, docPerson, id, &doc); err != nil {
		return err
	}
	if doc.ID == "" {
		doc = personDoc{ID: id, Fields: map[string]versioned{}}
	}
	if e.Kind == KindPersonRegistered {
		// The earliest registration event names the registration, whatever
		// order the events arrive in.
		if doc.Registered == 0 || e.HLC < doc.Registered || (e.HLC == doc.Registered && e.Node < doc.Node) {
			if doc.Registered != 0 {
				if err := tx.RemoveIndex(ctx, idxRegistered, timeKey(doc.Registered), id); err != nil {
					return err
				}
			}
			doc.Registered, doc.RegisteredBy, doc.Node = e.HLC, e.Actor, e.Node
			if err := tx.AddIndex(ctx, idxRegistered, timeKey(doc.Registered), id); err != nil {
				return err
			}
		}
	}
	if e.Kind == KindPersonMerged && body.MergedInto != "" &&
		(doc.Merged == nil || doc.Merged.T < e.HLC || (doc.Merged.T == e.HLC && doc.Merged.N < e.Node)) {
		doc.Merged = &mergeMark{Into: body.MergedInto, T: e.HLC, N: e.Node}
	}
	if body.Consent != nil && (doc.ConsentT < e.HLC || (doc.ConsentT == e.HLC && doc.ConsentN < e.Node)) {
		doc.Consent, doc.ConsentT, doc.ConsentN = *body.Consent, e.HLC, e.Node
	}
	names := make([]string, 0, len(body.Fields))
	for f := range body.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		cur, ok := doc.Fields[f]
		if ok && !cur.older(e.HLC, e.Node) {
			continue
		}
		if idx := indexFor(f); idx != "" {
			for _, k := range cur.I {
				// The name fields share one index: a key that another
				// field (or the new value) still has must stay, or the
				// index would depend on the order events arrived in.
				if slices.Contains(body.Index[f], k) || keyedElsewhere(doc, f, idx, k) {
					continue
				}
				if err := tx.RemoveIndex(ctx, idx, k, id); err != nil {
					return err
				}
			}
			for _, k := range body.Index[f] {
				if err := tx.AddIndex(ctx, idx, k, id); err != nil {
					return err
				}
			}
		}
		doc.Fields[f] = versioned{V: body.Fields[f], I: body.Index[f], T: e.HLC, N: e.Node}
	}
	if err := applyEdits(ctx, tx, e, id); err != nil {
		return err
	}
	if err := store.PutJSON(ctx, tx, docGlance, id, glanceOf(&doc)); err != nil {
		return err
	}
	return store.PutJSON(ctx, tx, docPerson, id, doc)
}

// keyedElsewhere reports whether a field of doc other than f files key k in
// the index idx.
func keyedElsewhere(doc personDoc, f, idx, k string) bool {
	for g, v := range doc.Fields {
		if g != f && indexFor(g) == idx && slices.Contains(v.I, k) {
			return true
		}
	}
	return false
}

// subjectID strips the "person/" style prefix of an event subject.
func subjectID(subject string) string {
	for i := 0; i < len(subject); i++ {
		if subject[i] == '/' {
			return subject[i+1:]
		}
	}
	return subject
}

// householdBody is the body of household events.
type householdBody struct {
	Label   string   `json:"label,omitempty"` // sealed
	Kind    string   `json:"kind,omitempty"`
	Members []Member `json:"members,omitempty"`
	// Removed lists the add tags the remover had seen: an add it had not
	// seen (concurrent) survives, so membership is an add-wins set.
	Person  string   `json:"person,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// Member is a person's place in a household.
type Member struct {
	Person string `json:"person"`
	Role   string `json:"role"`
}

type householdDoc struct {
	ID      string               `json:"id"`
	Label   versioned            `json:"label"`
	Kind    versioned            `json:"kind"`
	Adds    map[string]Member    `json:"adds"`    // tag -> member
	AddT    map[string]event.HLC `json:"add_t"`   // tag -> HLC of the add
	Removed map[string]bool      `json:"removed"` // tags removed
	Created event.HLC            `json:"created,omitempty"`
	Members []Member             `json:"members"` // derived, sorted by person
}

func applyHousehold(ctx context.Context, tx store.Tx, e *event.Event) error {
	var body householdBody
	if err := json.Unmarshal(e.Body, &body); err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	id := subjectID(e.Subject)
	var doc householdDoc
	if _, err := store.GetJSON(ctx, tx, docHousehold, id, &doc); err != nil {
		return err
	}
	if doc.ID == "" {
		doc = householdDoc{ID: id, Adds: map[string]Member{}, Removed: map[string]bool{}}
	}
	if doc.AddT == nil {
		doc.AddT = map[string]event.HLC{}
	}
	add := func(members []Member) {
		for i, m := range members {
			tag := fmt.Sprintf("%s#%d", e.ID(), i)
			doc.Adds[tag], doc.AddT[tag] = m, e.HLC
		}
	}
	before := doc.Members
	switch e.Kind {
	case KindHouseholdCreated, KindHouseholdUpdated:
		if e.Kind == KindHouseholdCreated && (doc.Created == 0 || e.HLC < doc.Created) {
			if doc.Created != 0 {
				if err := tx.RemoveIndex(ctx, idxCreated, timeKey(doc.Created), id); err != nil {
					return err
				}
			}
			doc.Created = e.HLC
			if err := tx.AddIndex(ctx, idxCreated, timeKey(doc.Created), id); err != nil {
				return err
			}
		}
		if body.Label != "" && doc.Label.older(e.HLC, e.Node) {
			doc.Label = versioned{V: body.Label, T: e.HLC, N: e.Node}
		}
		if body.Kind != "" && doc.Kind.older(e.HLC, e.Node) {
			doc.Kind = versioned{V: body.Kind, T: e.HLC, N: e.Node}
		}
		add(body.Members)
	case KindMemberAdded:
		add(body.Members)
	case KindMemberRemoved:
		for _, tag := range body.Removed {
			doc.Removed[tag] = true
		}
	default:
		return nil
	}
	doc.Members = liveMembers(doc)
	if err := reindexMembers(ctx, tx, id, before, doc.Members); err != nil {
		return err
	}
	return store.PutJSON(ctx, tx, docHousehold, id, doc)
}

// liveMembers is the add-wins set: every add whose tag was not removed. If
// one person was added twice with different roles, the later add's role
// wins: later by HLC, then by tag (which starts with the node id). Tags are
// not compared as strings alone: "n/10#0" sorts before "n/9#0".
func liveMembers(doc householdDoc) []Member {
	tags := make([]string, 0, len(doc.Adds))
	for t := range doc.Adds {
		if !doc.Removed[t] {
			tags = append(tags, t)
		}
	}
	sort.Slice(tags, func(i, j int) bool {
		ti, tj := doc.AddT[tags[i]], doc.AddT[tags[j]]
		if ti != tj {
			return ti < tj
		}
		return tags[i] < tags[j]
	})
	byPerson := map[string]Member{}
	for _, t := range tags {
		byPerson[doc.Adds[t].Person] = doc.Adds[t]
	}
	out := make([]Member, 0, len(byPerson))
	for _, m := range byPerson {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Person < out[j].Person })
	return out
}

func reindexMembers(ctx context.Context, tx store.Tx, hid string, before, after []Member) error {
	in := map[string]bool{}
	for _, m := range after {
		in[m.Person] = true
	}
	for _, m := range before {
		if !in[m.Person] {
			if err := tx.RemoveIndex(ctx, idxMember, m.Person, hid); err != nil {
				return err
			}
		}
	}
	for _, m := range after {
		if err := tx.AddIndex(ctx, idxMember, m.Person, hid); err != nil {
			return err
		}
	}
	return nil
}

// tagsFor returns the live add tags for person in doc (what a remove must name).
func tagsFor(doc householdDoc, person string) []string {
	var out []string
	for t, m := range doc.Adds {
		if m.Person == person && !doc.Removed[t] {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
