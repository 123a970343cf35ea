package registry_test

import (
	"errors"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// TestMerge: a duplicate registration merged into another keeps its
// record and history, is shown as merged, its card finds the survivor,
// and figures and linkage count the person once.
func TestMerge(t *testing.T) {
	n := newNode(t)
	in := fullPerson()
	keep, err := n.Registry.Register(ctx, coord, in)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := n.Registry.Register(ctx, coord, in)
	if err != nil {
		t.Fatal(err)
	}
	other, err := n.Registry.Register(ctx, coord, registry.PersonInput{GivenNames: "Otra", Surname1: "Persona", Sex: "F",
		Consent: registry.Consent{Registration: true}})
	if err != nil {
		t.Fatal(err)
	}
	before, err := n.Registry.Stats(ctx, coord)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		p         auth.Principal
		keep, dup string
		check     func(error) bool
	}{
		{"volunteer", vol, keep.ID, dup.ID, func(err error) bool { return errors.Is(err, auth.ErrForbidden) }},
		{"itself", coord, keep.ID, keep.ID, func(err error) bool { var v registry.ValidationError; return errors.As(err, &v) }},
		{"unknown", coord, keep.ID, "nobody", func(err error) bool { return errors.Is(err, registry.ErrNotFound) }},
	} {
		if err := n.Registry.Merge(ctx, tc.p, tc.keep, tc.dup); !tc.check(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := n.Registry.Merge(ctx, coord, keep.ID, dup.ID); err != nil {
		t.Fatal(err)
	}
	// Neither side of a merge can be merged again.
	for _, pair := range [][2]string{{other.ID, dup.ID}, {dup.ID, other.ID}} {
		var v registry.ValidationError
		if err := n.Registry.Merge(ctx, coord, pair[0], pair[1]); !errors.As(err, &v) || v[0].Code != "merged" {
			t.Errorf("merge %v again: %v", pair, err)
		}
	}
	got, err := n.Registry.Get(ctx, coord, dup.ID, "test")
	if err != nil || got.MergedInto != keep.ID || got.GivenNames != in.GivenNames {
		t.Fatalf("merged record = %+v, %v", got, err)
	}
	byCard, err := n.Registry.ByCode(ctx, coord, dup.Code)
	if err != nil || byCard.ID != keep.ID {
		t.Fatalf("the duplicate's card finds %s, %v; want the survivor", byCard.ID, err)
	}
	id, err := n.Registry.ResolveCode(ctx, coord, dup.Code)
	if err != nil || id != keep.ID {
		t.Fatalf("resolve = %s, %v", id, err)
	}
	after, err := n.Registry.Stats(ctx, coord)
	if err != nil {
		t.Fatal(err)
	}
	if after.People != before.People-1 {
		t.Errorf("people %d after the merge, want %d", after.People, before.People-1)
	}
	order, err := n.Registry.RegistrationOrder(ctx, coord)
	if err != nil || len(order) != 2 {
		t.Errorf("registration order %v, %v: want the survivor and the other", order, err)
	}
	var merged int
	err = n.Registry.EachLinkFacts(ctx, nil, func(f registry.LinkFacts) error {
		if f.Merged {
			merged++
			if f.ID != dup.ID {
				t.Errorf("%s marked merged", f.ID)
			}
		}
		if f.ID == keep.ID && (f.GivenNames != in.GivenNames || f.OriginTown != in.OriginTown || !f.Tracing) {
			t.Errorf("link facts = %+v", f)
		}
		return nil
	})
	if err != nil || merged != 1 {
		t.Fatalf("link facts: %d merged, %v", merged, err)
	}
}
