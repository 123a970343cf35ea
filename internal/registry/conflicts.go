package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Concurrent edits. Person fields are last-writer-wins, so every node shows
// the same value; but when two nodes change the same field without having
// seen each other's change, the losing value must not vanish silently
// (DESIGN.md section 4). Each update says which version of each field its
// author saw (its base); two edits of a field with the same base are
// concurrent. Both are kept, in a small document beside the person, and
// the field is listed for review until a coordinator chooses the value.

// docEdits holds a person's field edits (updates only: a registration
// cannot race another edit of the same field).
const docEdits = "person.edits"

// version names one write of a field: its event's (HLC, node).
type version struct {
	T event.HLC `json:"t"`
	N string    `json:"n"`
}

func (v version) key() string { return fmt.Sprintf("%d/%s", uint64(v.T), v.N) }

// edit is one update of one field.
type edit struct {
	version
	Base    version  `json:"base"`
	V       string   `json:"v"`           // sealed value
	Resolve []string `json:"r,omitempty"` // the edits this one settles (a coordinator's choice)
}

// editsBody is the part of a person.updated body this file reads: the base
// versions and, for a resolution, the edits it settles.
type editsBody struct {
	Fields  map[string]string   `json:"fields"`
	Base    map[string]version  `json:"base,omitempty"`
	Resolve map[string][]string `json:"resolve,omitempty"`
}

// applyEdits records the field edits of a person.updated event. The set of
// edits, kept in (HLC, node) order, is the same whatever order the events
// arrive in, and so is everything derived from it.
func applyEdits(ctx context.Context, tx store.Tx, e *event.Event, id string) error {
	if e.Kind != KindPersonUpdated {
		return nil
	}
	var b editsBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
	}
	if len(b.Fields) == 0 {
		return nil
	}
	edits := map[string][]edit{}
	if _, err := store.GetJSON(ctx, tx, docEdits, id, &edits); err != nil {
		return err
	}
	v := version{T: e.HLC, N: e.Node}
	for f, sealed := range b.Fields {
		list := edits[f]
		i, found := slices.BinarySearchFunc(list, v, func(a edit, v version) int {
			switch {
			case a.T < v.T || (a.T == v.T && a.N < v.N):
				return -1
			case a.T == v.T && a.N == v.N:
				return 0
			}
			return 1
		})
		if found {
			continue
		}
		ed := edit{version: v, Base: b.Base[f], V: sealed, Resolve: slices.Clone(b.Resolve[f])}
		sort.Strings(ed.Resolve)
		edits[f] = slices.Insert(list, i, ed)
	}
	return store.PutJSON(ctx, tx, docEdits, id, edits)
}

// openSiblings returns the edits of one field that are in an unresolved
// conflict: edits sharing a base with another, not all settled by a
// resolution.
func openSiblings(list []edit) []edit {
	settled := map[string]bool{}
	for _, e := range list {
		for _, k := range e.Resolve {
			settled[k] = true
		}
	}
	byBase := map[string][]edit{}
	for _, e := range list {
		byBase[e.Base.key()] = append(byBase[e.Base.key()], e)
	}
	var out []edit
	for _, sibs := range byBase {
		if len(sibs) < 2 {
			continue
		}
		open := false
		for _, e := range sibs {
			if !settled[e.key()] {
				open = true
			}
		}
		if open {
			out = append(out, sibs...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T || (out[i].T == out[j].T && out[i].N < out[j].N) })
	return out
}

// FieldConflict is a person field two nodes changed concurrently, with
// every value kept.
type FieldConflict struct {
	Person string       `json:"person"`
	Field  string       `json:"field"`
	Values []FieldValue `json:"values"`
	// Current is the value every node shows now (last writer wins).
	Current string `json:"current"`
}

// FieldValue is one side of a field conflict.
type FieldValue struct {
	Value string    `json:"value"`
	Node  string    `json:"node"`
	At    time.Time `json:"at"`
}

// FieldConflicts lists the open field conflicts, with the values p may
// see (a hidden field shows as "(hidden)"). The values are PII: the read is
// audited per person.
func (s *Service) FieldConflicts(ctx context.Context, p auth.Principal) ([]FieldConflict, error) {
	if err := auth.Check(p, auth.ConflictsRead); err != nil {
		return nil, err
	}
	var out []FieldConflict
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, docEdits, func(id string, data []byte) error {
			var edits map[string][]edit
			if err := json.Unmarshal(data, &edits); err != nil {
				return fmt.Errorf("person %s edits: %w", id, err)
			}
			fields := make([]string, 0, len(edits))
			for f := range edits {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			for _, f := range fields {
				sibs := openSiblings(edits[f])
				if len(sibs) == 0 {
					continue
				}
				fc := FieldConflict{Person: id, Field: f}
				open := func(sealed string) (string, error) {
					if !auth.CanSee(p.Role, f) {
						return "(hidden)", nil
					}
					if sealed == "" {
						return "", nil
					}
					return s.seal.OpenField(entity(id), f, sealed)
				}
				for _, e := range sibs {
					v, err := open(e.V)
					if err != nil {
						return fmt.Errorf("person %s field %s: %w", id, f, err)
					}
					fc.Values = append(fc.Values, FieldValue{Value: v, Node: e.N, At: e.T.Time()})
				}
				var doc personDoc
				if _, err := store.GetJSON(ctx, tx, docPerson, id, &doc); err != nil {
					return err
				}
				cur, err := open(doc.Fields[f].V)
				if err != nil {
					return fmt.Errorf("person %s field %s: %w", id, f, err)
				}
				fc.Current = cur
				out = append(out, fc)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		var ids []string
		for _, c := range out {
			if len(ids) == 0 || ids[len(ids)-1] != c.Person {
				ids = append(ids, c.Person)
			}
		}
		if err := s.audit(ctx, p, "conflicts", ids...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ResolveField settles a field conflict: value becomes the field's value
// on every node, and the concurrent edits are marked settled.
func (s *Service) ResolveField(ctx context.Context, p auth.Principal, id, field, value string) (Person, error) {
	if err := auth.Check(p, auth.ConflictResolve); err != nil {
		return Person{}, err
	}
	var edits map[string][]edit
	var doc personDoc
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		found, err := store.GetJSON(ctx, tx, docPerson, id, &doc)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("person %s: %w", id, ErrNotFound)
		}
		_, err = store.GetJSON(ctx, tx, docEdits, id, &edits)
		return err
	})
	if err != nil {
		return Person{}, err
	}
	sibs := openSiblings(edits[field])
	if len(sibs) == 0 {
		return Person{}, ValidationError{{Field: "field", Code: "no_conflict", Message: "has no open conflict"}}
	}
	// Validate the value the way an update would.
	in, set, _, err := s.currentInput(doc)
	if err != nil {
		return Person{}, err
	}
	ptr, ok := set[field]
	if !ok {
		return Person{}, ValidationError{{Field: "field", Code: "unknown", Message: "is not a field that can be resolved this way"}}
	}
	*ptr = value
	if v := in.normalize(s.now()); len(v) > 0 {
		return Person{}, v
	}
	body := s.sealFields(id, map[string]string{field: in.fields()[field]})
	var keys []string
	for _, e := range sibs {
		keys = append(keys, e.key())
	}
	cv := doc.Fields[field]
	draft := ledger.Draft{Kind: KindPersonUpdated, Subject: entity(id), Body: updateBody{personBody: body,
		Base: map[string]version{field: {T: cv.T, N: cv.N}}, Resolve: map[string][]string{field: keys}}}
	out, err := s.writeAndShow(ctx, p, id, "conflict resolved", draft)
	if err != nil {
		return Person{}, fmt.Errorf("resolve: %w", err)
	}
	return out, nil
}

// updateBody is a person.updated body: the fields, and for each the
// version its author saw.
type updateBody struct {
	personBody
	Base    map[string]version  `json:"base,omitempty"`
	Resolve map[string][]string `json:"resolve,omitempty"`
}

// baseOf names the versions of fields doc holds now, for an update of them.
func baseOf(doc personDoc, fields map[string]string) map[string]version {
	out := map[string]version{}
	for f := range fields {
		if v, ok := doc.Fields[f]; ok {
			out[f] = version{T: v.T, N: v.N}
		}
	}
	return out
}
