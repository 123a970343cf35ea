package registry

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// HouseholdInput creates a household.
type HouseholdInput struct {
	Label   string   `json:"label"`
	Kind    string   `json:"kind"`
	Members []Member `json:"members"`
}

// Household is what a principal sees of a household.
type Household struct {
	ID      string            `json:"id"`
	Label   string            `json:"label,omitempty"`
	Kind    string            `json:"kind"`
	Members []HouseholdMember `json:"members"`
}

// HouseholdMember is a member as the principal may see them.
type HouseholdMember struct {
	Role   string `json:"role"`
	Person Person `json:"person"`
	// Elsewhere lists other households this person is also in: a conflict
	// to review (add-wins membership keeps both rather than dropping one).
	Elsewhere []string `json:"elsewhere,omitempty"`
}

func householdEntity(id string) string { return "household/" + id }

func (s *Service) checkMembers(ctx context.Context, members []Member, v *ValidationError) {
	seen := map[string]bool{}
	for i, m := range members {
		field := fmt.Sprintf("members[%d]", i)
		if !slices.Contains(HouseholdRoles, m.Role) {
			v.add(field+".role", "invalid", "must be one of %s", strings.Join(HouseholdRoles, ", "))
		}
		if seen[m.Person] {
			v.add(field+".person", "duplicate", "is listed twice")
		}
		seen[m.Person] = true
		if _, err := s.load(ctx, m.Person); err != nil {
			v.add(field+".person", "not_found", "no person with id %q", m.Person)
		}
	}
}

// PrepareHousehold validates in and builds its event without writing it.
// known, when set, says which person ids exist (for bulk loads whose people
// are not yet stored).
func (s *Service) PrepareHousehold(ctx context.Context, p auth.Principal, in HouseholdInput, known func(string) bool) (string, ledger.Draft, error) {
	if err := auth.Check(p, auth.HouseholdWrite); err != nil {
		return "", ledger.Draft{}, err
	}
	var v ValidationError
	in.Label = strings.Join(strings.Fields(in.Label), " ")
	checkText(&v, "label", in.Label, false, 100)
	if !slices.Contains(HouseholdKinds, in.Kind) {
		v.add("kind", "invalid", "must be one of %s", strings.Join(HouseholdKinds, ", "))
	}
	if known == nil {
		s.checkMembers(ctx, in.Members, &v)
	} else {
		for i, m := range in.Members {
			if !known(m.Person) || !slices.Contains(HouseholdRoles, m.Role) {
				v.add(fmt.Sprintf("members[%d]", i), "invalid", "unknown person or role")
			}
		}
	}
	if len(v) > 0 {
		return "", ledger.Draft{}, v
	}
	id := s.newID()
	body := householdBody{Label: s.seal.Seal(householdEntity(id), "label", in.Label), Kind: in.Kind, Members: in.Members}
	return id, ledger.Draft{Kind: KindHouseholdCreated, Subject: householdEntity(id), Body: body}, nil
}

// CreateHousehold records a new household with its first members.
func (s *Service) CreateHousehold(ctx context.Context, p auth.Principal, in HouseholdInput) (Household, error) {
	id, d, err := s.PrepareHousehold(ctx, p, in, nil)
	if err != nil {
		return Household{}, err
	}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{d}); err != nil {
		return Household{}, fmt.Errorf("create household: %w", err)
	}
	return s.GetHousehold(ctx, p, id)
}

func (s *Service) loadHousehold(ctx context.Context, id string) (householdDoc, error) {
	var doc householdDoc
	var found bool
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		found, err = store.GetJSON(ctx, tx, docHousehold, id, &doc)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("household %s: %w", id, ErrNotFound)
	}
	return doc, err
}

// AddMember puts a person in a household with a role.
func (s *Service) AddMember(ctx context.Context, p auth.Principal, hid string, m Member) (Household, error) {
	if err := auth.Check(p, auth.HouseholdWrite); err != nil {
		return Household{}, err
	}
	if _, err := s.loadHousehold(ctx, hid); err != nil {
		return Household{}, err
	}
	var v ValidationError
	s.checkMembers(ctx, []Member{m}, &v)
	if len(v) > 0 {
		return Household{}, v
	}
	d := ledger.Draft{Kind: KindMemberAdded, Subject: householdEntity(hid), Body: householdBody{Members: []Member{m}}}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{d}); err != nil {
		return Household{}, fmt.Errorf("add member: %w", err)
	}
	return s.GetHousehold(ctx, p, hid)
}

// RemoveMember takes a person out of a household.
func (s *Service) RemoveMember(ctx context.Context, p auth.Principal, hid, person string) (Household, error) {
	if err := auth.Check(p, auth.HouseholdWrite); err != nil {
		return Household{}, err
	}
	doc, err := s.loadHousehold(ctx, hid)
	if err != nil {
		return Household{}, err
	}
	tags := tagsFor(doc, person)
	if len(tags) == 0 {
		return Household{}, fmt.Errorf("person %s in household %s: %w", person, hid, ErrNotFound)
	}
	d := ledger.Draft{Kind: KindMemberRemoved, Subject: householdEntity(hid), Body: householdBody{Person: person, Removed: tags}}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{d}); err != nil {
		return Household{}, fmt.Errorf("remove member: %w", err)
	}
	return s.GetHousehold(ctx, p, hid)
}

// GetHousehold shows a household and its members to p.
func (s *Service) GetHousehold(ctx context.Context, p auth.Principal, id string) (Household, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return Household{}, err
	}
	doc, err := s.loadHousehold(ctx, id)
	if err != nil {
		return Household{}, err
	}
	return s.showHousehold(ctx, p, doc)
}

// showHousehold opens a household's label and its members for p, after
// the read of both is durably audited, in one commit: a household.read row
// for the label, a person.read row per member.
func (s *Service) showHousehold(ctx context.Context, p auth.Principal, doc householdDoc) (Household, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return Household{}, err
	}
	ids := make([]string, len(doc.Members))
	for i, m := range doc.Members {
		ids[i] = m.Person
	}
	docs, err := s.loadMany(ctx, ids)
	if err != nil {
		return Household{}, err
	}
	entries := []store.AuditEntry{householdRead(p, "view", doc.ID)}
	for _, d := range docs {
		entries = append(entries, readEntry(p, "household "+doc.ID, d.ID))
	}
	if err := s.led.Audit(ctx, entries...); err != nil {
		return Household{}, fmt.Errorf("audit: %w", err)
	}
	label, err := s.seal.OpenField(householdEntity(doc.ID), "label", doc.Label.V)
	if err != nil {
		return Household{}, fmt.Errorf("household %s: %w", doc.ID, err)
	}
	h := Household{ID: doc.ID, Label: label, Kind: doc.Kind.V, Members: make([]HouseholdMember, 0, len(doc.Members))}
	people, err := s.openAll(ctx, p, docs)
	if err != nil {
		return Household{}, err
	}
	byID := map[string]Person{}
	for _, person := range people {
		byID[person.ID] = person
	}
	for _, m := range doc.Members {
		person, ok := byID[m.Person]
		if !ok {
			person = Person{ID: m.Person}
		}
		hm := HouseholdMember{Role: m.Role, Person: person}
		for _, other := range person.Households {
			if other != doc.ID {
				hm.Elsewhere = append(hm.Elsewhere, other)
			}
		}
		h.Members = append(h.Members, hm)
	}
	sort.SliceStable(h.Members, func(i, j int) bool {
		return slices.Index(HouseholdRoles, h.Members[i].Role) < slices.Index(HouseholdRoles, h.Members[j].Role)
	})
	return h, nil
}

// HouseholdSummary is a line of the household list: no member PII.
type HouseholdSummary struct {
	ID      string `json:"id"`
	Label   string `json:"label,omitempty"`
	Kind    string `json:"kind"`
	Members int    `json:"members"`
}

// ListHouseholds lists households newest first, with their sizes.
func (s *Service) ListHouseholds(ctx context.Context, p auth.Principal, offset, limit int) ([]HouseholdSummary, int, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return nil, 0, err
	}
	var ids []string
	var total int
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if total, err = tx.Count(ctx, docHousehold); err != nil {
			return err
		}
		ids, err = tx.Range(ctx, idxCreated, true, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	out, err := s.HouseholdLabels(ctx, p, ids, "household list")
	return out, total, err
}

// householdRead is the audit row for opening a household's label (PII:
// "Familia Moreno Benítez" names people). why says what for.
func householdRead(p auth.Principal, why, id string) store.AuditEntry {
	return store.AuditEntry{Actor: p.Actor(), Action: "household.read", Record: householdEntity(id), Detail: why}
}

func householdReads(p auth.Principal, why string, ids []string) []store.AuditEntry {
	out := make([]store.AuditEntry, len(ids))
	for i, id := range ids {
		out[i] = householdRead(p, why, id)
	}
	return out
}
