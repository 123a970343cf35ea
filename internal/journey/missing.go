package journey

import (
	"context"
	"slices"
	"sort"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// MissingQuery chooses the checkpoint and how much to show.
type MissingQuery struct {
	// Stage is the checkpoint; "" means the latest one (the furthest stage
	// along the route where anyone was checked in).
	Stage string `json:"stage,omitempty"`
	// Names adds each member's name and card code, as far as the role may
	// see them; every person shown is audited. Without it the list holds
	// ids, roles, age bands and child-protection flags only.
	Names bool `json:"names,omitempty"`
}

// Priority of a household on the missing list, most urgent first.
const (
	// PriorityChildAlone: a missing member is an unaccompanied or separated child.
	PriorityChildAlone = iota
	// PriorityMissingChild: a missing member is a child.
	PriorityMissingChild
	// PriorityChildren: an adult is missing from a household with children.
	PriorityChildren
	// PriorityAdults: adults missing from a household of adults.
	PriorityAdults
)

// PriorityNames are the stable keys of the priorities, for pages and JSON.
var PriorityNames = []string{"child_alone", "missing_child", "household_with_children", "adults"}

// MissingMember is one member of a household on the missing list.
type MissingMember struct {
	Person  string   `json:"person"`
	Role    string   `json:"role,omitempty"`
	Code    string   `json:"code,omitempty"`
	Name    string   `json:"name,omitempty"`
	AgeBand string   `json:"age_band"`
	Child   bool     `json:"child"`
	Flags   []string `json:"flags,omitempty"`
	// Missing: seen at the previous checkpoint, not at this one, and not
	// marked as having left the caravan.
	Missing      bool `json:"missing"`
	SeenPrevious bool `json:"seen_previous"`
	SeenHere     bool `json:"seen_here"`
	// Left is the reason, when the member was marked as having left.
	Left string `json:"left,omitempty"`
}

// MissingHousehold is a household with at least one member missing.
type MissingHousehold struct {
	// ID is "" for a person who belongs to no household.
	ID       string          `json:"id"`
	Label    string          `json:"label,omitempty"`
	Kind     string          `json:"kind,omitempty"`
	Priority string          `json:"priority"`
	Missing  int             `json:"missing"`
	Members  []MissingMember `json:"members"`

	rank int
}

// MissingList answers "who in each household was not seen at the last
// checkpoint".
type MissingList struct {
	Stage    Stage  `json:"stage"`
	Previous *Stage `json:"previous,omitempty"` // nil at the first checkpoint
	// SeenPrevious and SeenHere count the people seen at each checkpoint.
	SeenPrevious int `json:"seen_previous"`
	SeenHere     int `json:"seen_here"`
	// MissingPeople and MissingChildren count the missing members.
	MissingPeople   int `json:"missing_people"`
	MissingChildren int `json:"missing_children"`
	// LeftSince counts those seen at the previous checkpoint and not here
	// who were marked as having left: not missing, accounted for.
	LeftSince  int                `json:"left_since"`
	Households []MissingHousehold `json:"households"`
}

// missingInput is what the computation needs, gathered from projections
// and the registry; computeMissing is pure, so it is tested on its own.
type missingInput struct {
	prev, here set
	left       map[string]statusDoc
	facts      map[string]registry.Facts // missing people and their households' members
	memberOf   map[string][]string       // missing person -> households
	households map[string]registry.HouseholdFacts
}

// missingIDs is the set of people seen at prev, not at here, not left.
func missingIDs(prev, here set, left map[string]statusDoc) (missing []string, leftSince int) {
	for id := range prev {
		if here.has(id) {
			continue
		}
		if _, gone := left[id]; gone {
			leftSince++
			continue
		}
		missing = append(missing, id)
	}
	slices.Sort(missing)
	return missing, leftSince
}

func computeMissing(in missingInput, missing []string) []MissingHousehold {
	member := func(id, role string) MissingMember {
		f := in.facts[id]
		m := MissingMember{Person: id, Role: role, AgeBand: f.AgeBand, Child: f.Child, Flags: f.Flags,
			SeenPrevious: in.prev.has(id), SeenHere: in.here.has(id)}
		if m.AgeBand == "" {
			m.AgeBand = registry.AgeBand(0, false)
		}
		if d, gone := in.left[id]; gone {
			m.Left = d.Reason
		}
		m.Missing = m.SeenPrevious && !m.SeenHere && m.Left == ""
		return m
	}
	byID := map[string]*MissingHousehold{}
	var out []*MissingHousehold
	for _, id := range missing {
		hids := in.memberOf[id]
		if len(hids) == 0 {
			h := &MissingHousehold{Members: []MissingMember{member(id, "")}}
			out = append(out, h)
			continue
		}
		for _, hid := range hids {
			if byID[hid] != nil {
				continue
			}
			hf, ok := in.households[hid]
			h := &MissingHousehold{ID: hid, Kind: hf.Kind}
			if !ok {
				h.Members = []MissingMember{member(id, "")}
			}
			for _, m := range hf.Members {
				h.Members = append(h.Members, member(m.Person, m.Role))
			}
			byID[hid] = h
			out = append(out, h)
		}
	}
	for _, h := range out {
		h.rank = PriorityAdults
		children := false
		for _, m := range h.Members {
			children = children || m.Child
			if m.Missing {
				h.Missing++
			}
		}
		for _, m := range h.Members {
			if !m.Missing {
				continue
			}
			switch {
			case slices.Contains(m.Flags, auth.FlagUnaccompanied) || slices.Contains(m.Flags, auth.FlagSeparated) ||
				(m.Child && h.Kind == "unaccompanied"):
				h.rank = min(h.rank, PriorityChildAlone)
			case m.Child:
				h.rank = min(h.rank, PriorityMissingChild)
			case children:
				h.rank = min(h.rank, PriorityChildren)
			}
		}
		h.Priority = PriorityNames[h.rank]
		// Missing members first, children before adults, then by role.
		sort.SliceStable(h.Members, func(i, j int) bool {
			a, b := h.Members[i], h.Members[j]
			if a.Missing != b.Missing {
				return a.Missing
			}
			if a.Child != b.Child {
				return a.Child
			}
			return slices.Index(registry.HouseholdRoles, a.Role) < slices.Index(registry.HouseholdRoles, b.Role)
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.Missing != b.Missing {
			return a.Missing > b.Missing
		}
		return a.ID+a.Members[0].Person < b.ID+b.Members[0].Person
	})
	res := make([]MissingHousehold, 0, len(out))
	for _, h := range out {
		if h.Missing > 0 { // a member may be in two households; both are listed
			res = append(res, *h)
		}
	}
	return res
}

// Missing lists, for a checkpoint, every household with a member who was
// seen at the previous checkpoint but not at this one (and was not marked
// as found there or as having left the caravan): unaccompanied and
// separated children first, then missing children, then households with
// children, then the rest.
func (s *Service) Missing(ctx context.Context, p auth.Principal, q MissingQuery) (MissingList, error) {
	if err := auth.Check(p, auth.MissingRead); err != nil {
		return MissingList{}, err
	}
	var out MissingList
	in := missingInput{}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r, err := s.readRoute(ctx, tx)
		if err != nil {
			return err
		}
		seen, err := seenStages(ctx, tx)
		if err != nil {
			return err
		}
		i, err := s.stageOrLatest(ctx, tx, r, "stage", q.Stage)
		if err != nil {
			return err
		}
		out.Stage = r.Stages[i]
		if in.here, _, err = seenAt(ctx, tx, out.Stage.ID, false); err != nil {
			return err
		}
		in.prev = set{}
		for j := i - 1; j >= 0; j-- {
			if seen[r.Stages[j].ID] > 0 {
				prev := r.Stages[j]
				out.Previous = &prev
				if in.prev, _, err = seenAt(ctx, tx, prev.ID, false); err != nil {
					return err
				}
				break
			}
		}
		in.left, err = leftPeople(ctx, tx)
		return err
	})
	if err != nil {
		return MissingList{}, err
	}
	out.SeenPrevious, out.SeenHere = len(in.prev), len(in.here)
	missing, leftSince := missingIDs(in.prev, in.here, in.left)
	out.LeftSince = leftSince
	out.Households = []MissingHousehold{}
	if len(missing) == 0 {
		return out, nil
	}
	why := "missing list " + out.Stage.ID
	if in.memberOf, err = s.reg.HouseholdsOf(ctx, p, missing); err != nil {
		return MissingList{}, err
	}
	var hids []string
	for _, id := range missing {
		hids = append(hids, in.memberOf[id]...)
	}
	slices.Sort(hids)
	hids = slices.Compact(hids)
	if in.households, err = s.reg.HouseholdMembers(ctx, p, hids, q.Names); err != nil {
		return MissingList{}, err
	}
	people := slices.Clone(missing)
	for _, h := range in.households {
		for _, m := range h.Members {
			people = append(people, m.Person)
		}
	}
	slices.Sort(people)
	people = slices.Compact(people)
	var sums map[string]registry.Summary
	if q.Names {
		// Names come with the facts: one read of each person, each audited.
		if sums, err = s.reg.Summaries(ctx, p, people, why); err != nil {
			return MissingList{}, err
		}
		in.facts = make(map[string]registry.Facts, len(sums))
		for id, sum := range sums {
			in.facts[id] = registry.Facts{AgeBand: sum.AgeBand, Child: sum.Age != nil && *sum.Age < 18, Flags: sum.Flags}
		}
	} else if in.facts, err = s.reg.Facts(ctx, p, people, why); err != nil {
		return MissingList{}, err
	}
	out.Households = computeMissing(in, missing)
	out.MissingPeople = len(missing)
	for _, id := range missing {
		if in.facts[id].Child {
			out.MissingChildren++
		}
	}
	if q.Names {
		addNames(sums, in.households, out.Households)
	}
	return out, nil
}

// addNames fills in names, codes and household labels.
func addNames(sums map[string]registry.Summary, households map[string]registry.HouseholdFacts, hs []MissingHousehold) {
	for i := range hs {
		hs[i].Label = households[hs[i].ID].Label
		for j := range hs[i].Members {
			m := &hs[i].Members[j]
			m.Name, m.Code = sums[m.Person].Name, sums[m.Person].Code
		}
	}
}
