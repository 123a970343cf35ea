package registry_test

import (
	"errors"
	"slices"
	"testing"

	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

func ids(ps []registry.Person) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestFind(t *testing.T) {
	n := newNode(t)
	joseNunez := register(t, n, person("José", "Núñez"))
	maria := register(t, n, registry.PersonInput{GivenNames: "María de los Ángeles", Surname1: "Pérez", Surname2: "y López",
		Sex: "F", Consent: registry.Consent{Registration: true}})
	josePerez := register(t, n, person("José Luis", "Pérez"))
	josefina := register(t, n, person("Josefina", "Núñez"))
	ana := register(t, n, person("Ana", "Euceda"))

	tests := []struct {
		query string
		first []string // the full matches, in any order, ahead of the rest
		rest  []string // partial matches, in any order
	}{
		{"jose nunez", []string{joseNunez.ID}, []string{josePerez.ID, josefina.ID}},
		{"JOSÉ NÚÑEZ", []string{joseNunez.ID}, []string{josePerez.ID, josefina.ID}},
		{"  josé   núñez  ", []string{joseNunez.ID}, []string{josePerez.ID, josefina.ID}},
		{"Núñez, José", []string{joseNunez.ID}, []string{josePerez.ID, josefina.ID}},
		{"maria angeles", []string{maria.ID}, nil},
		{"María de los Ángeles", []string{maria.ID}, nil},
		{"angeles lopez", []string{maria.ID}, nil},
		{"perez", []string{maria.ID, josePerez.ID}, nil},
		{"jose luis perez", []string{josePerez.ID}, []string{joseNunez.ID, maria.ID}},
		{"nunez", []string{joseNunez.ID, josefina.ID}, nil},
		{"EUCEDA", []string{ana.ID}, nil},
		{"jos", nil, nil},         // prefixes do not match: the index holds whole words
		{"nobody here", nil, nil}, // no one
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			got, err := n.Registry.Find(ctx, coord, tc.query, 20)
			if err != nil {
				t.Fatal(err)
			}
			g := ids(got)
			if len(g) != len(tc.first)+len(tc.rest) {
				t.Fatalf("found %d people %v, want %d", len(g), g, len(tc.first)+len(tc.rest))
			}
			head, tail := slices.Sorted(slices.Values(g[:len(tc.first)])), slices.Sorted(slices.Values(g[len(tc.first):]))
			if !slices.Equal(head, slices.Sorted(slices.Values(tc.first))) {
				t.Errorf("best matches %v, want %v", head, tc.first)
			}
			if !slices.Equal(tail, slices.Sorted(slices.Values(tc.rest))) {
				t.Errorf("partial matches %v, want %v", tail, tc.rest)
			}
		})
	}

	// A limit keeps the best.
	got, err := n.Registry.Find(ctx, coord, "jose nunez", 1)
	if err != nil || len(got) != 1 || got[0].ID != joseNunez.ID {
		t.Errorf("Find limit 1 = %v, %v", ids(got), err)
	}
	// A query with no name words is a validation error on q.
	for _, q := range []string{"", "   ", "de los", "-- ,"} {
		_, err := n.Registry.Find(ctx, coord, q, 10)
		var v registry.ValidationError
		if !errors.As(err, &v) || len(v) != 1 || v[0].Field != "q" {
			t.Errorf("Find(%q) error = %v, want a validation error on q", q, err)
		}
	}
}

func TestByCodeAndReissue(t *testing.T) {
	n := newNode(t)
	p := register(t, n, person("Ana", "Paz"))
	other := register(t, n, person("Berta", "Paz"))
	if !cardcode.Valid(p.Code) || p.Code == other.Code {
		t.Fatalf("codes %q %q", p.Code, other.Code)
	}
	got, err := n.Registry.ByCode(ctx, vol, p.Code)
	if err != nil || got.ID != p.ID {
		t.Fatalf("ByCode = %+v, %v", got, err)
	}
	// As typed on a card (grouped, lower case) and parsed first.
	typed, err := cardcode.Parse(cardcode.Format(p.Code))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := n.Registry.ByCode(ctx, vol, typed); err != nil || got.ID != p.ID {
		t.Errorf("ByCode(Parse(Format(code))) = %+v, %v", got, err)
	}

	re, err := n.Registry.ReissueCard(ctx, coord, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if re.Code == p.Code || !cardcode.Valid(re.Code) {
		t.Fatalf("reissued code %q (old %q)", re.Code, p.Code)
	}
	if _, err := n.Registry.ByCode(ctx, vol, p.Code); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("old code after reissue: error = %v, want ErrNotFound", err)
	}
	if got, err := n.Registry.ByCode(ctx, vol, re.Code); err != nil || got.ID != p.ID || got.Code != re.Code {
		t.Errorf("new code = %+v, %v", got, err)
	}
	if got, err := n.Registry.ByCode(ctx, vol, other.Code); err != nil || got.ID != other.ID {
		t.Errorf("someone else's code after reissue = %+v, %v", got, err)
	}
	// The rest of the record is unchanged.
	if got, _ := n.Registry.Get(ctx, coord, p.ID, "t"); got.GivenNames != "Ana" || got.Surname1 != "Paz" {
		t.Errorf("after reissue: %+v", got)
	}
	// A rebuild from the log gives the same answers.
	if err := n.Ledger.Rebuild(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Registry.ByCode(ctx, vol, p.Code); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("old code after rebuild: %v", err)
	}
	if got, err := n.Registry.ByCode(ctx, vol, re.Code); err != nil || got.ID != p.ID {
		t.Errorf("new code after rebuild = %+v, %v", got, err)
	}
}

func TestNotFound(t *testing.T) {
	n := newNode(t)
	p := register(t, n, person("Ana", "Paz"))
	h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Paz", Kind: "single",
		Members: []registry.Member{{Person: p.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	unused, err := cardcode.New(zeroes{})
	if err != nil {
		t.Fatal(err)
	}
	const missing = "ffffffffffffffff"
	calls := map[string]func() error{
		"Get":          func() error { _, err := n.Registry.Get(ctx, coord, missing, "t"); return err },
		"ByCode":       func() error { _, err := n.Registry.ByCode(ctx, coord, unused); return err },
		"ByCode junk":  func() error { _, err := n.Registry.ByCode(ctx, coord, "not a code"); return err },
		"Update":       func() error { _, err := n.Registry.Update(ctx, coord, missing, registry.Patch{}); return err },
		"ReissueCard":  func() error { _, err := n.Registry.ReissueCard(ctx, coord, missing); return err },
		"GetHousehold": func() error { _, err := n.Registry.GetHousehold(ctx, coord, missing); return err },
		"AddMember to missing household": func() error {
			_, err := n.Registry.AddMember(ctx, coord, missing, registry.Member{Person: p.ID, Role: "head"})
			return err
		},
		"RemoveMember not a member": func() error { _, err := n.Registry.RemoveMember(ctx, coord, h.ID, missing); return err },
		"RemoveMember missing household": func() error {
			_, err := n.Registry.RemoveMember(ctx, coord, missing, p.ID)
			return err
		},
	}
	for name, call := range calls {
		before := countEvents(t, n)
		if err := call(); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("%s: error = %v, want ErrNotFound", name, err)
		}
		if got := countEvents(t, n); got != before {
			t.Errorf("%s wrote %d events", name, got-before)
		}
	}
	// Labels of missing households are skipped, not an error.
	hs, err := n.Registry.HouseholdLabels(ctx, coord, []string{missing, h.ID}, "t")
	if err != nil || len(hs) != 1 || hs[0].ID != h.ID || hs[0].Label != "Paz" || hs[0].Members != 1 {
		t.Errorf("HouseholdLabels = %+v, %v", hs, err)
	}
}

// zeroes is a reader of zero bytes: cardcode.New over it gives a valid code
// no random registration will hold.
type zeroes struct{}

func (zeroes) Read(b []byte) (int, error) { clear(b); return len(b), nil }
