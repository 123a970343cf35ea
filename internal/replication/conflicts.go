package replication

import (
	"context"
	"fmt"
	"sort"
	"time"

	"caravana/internal/auth"
	"caravana/internal/node"
)

// Conflict kinds.
const (
	ConflictField     = "field"     // two nodes changed the same field of a person concurrently
	ConflictDuplicate = "duplicate" // one person registered on two nodes
	ConflictReport    = "report"    // a report closed differently on two nodes
	ConflictUsername  = "username"  // the same username added on two nodes
	// ConflictDistribution: a once-per-period item given twice to one
	// household (two nodes offline from each other, or an override).
	ConflictDistribution = "distribution"
)

// Conflict is something concurrency broke, shown with every side kept
// until a coordinator resolves it. Sides name values only as the
// principal may see them.
type Conflict struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"` // person/<id>, report/<id>, user/<name>
	// Field is the person field for a field conflict.
	Field string         `json:"field,omitempty"`
	Sides []ConflictSide `json:"sides"`
	// Resolve says how to settle it.
	Resolve string `json:"resolve"`
	// Probability is a duplicate pair's match probability.
	Probability float64 `json:"probability,omitempty"`
}

// ConflictSide is one of the values or records in conflict.
type ConflictSide struct {
	// Value describes the side in English, for the command line; a page
	// words it in its reader's language from the fields below.
	Value string    `json:"value,omitempty"`
	Node  string    `json:"node,omitempty"`
	By    string    `json:"by,omitempty"`
	At    time.Time `json:"at,omitzero"`
	// Ref names the record (person/<id>, user/<id>) when the sides are
	// records; for a distribution, who collected; for a report's
	// decision, the person it matched.
	Ref string `json:"ref,omitempty"`
	// A distribution: Qty of Item given at Stage (ids).
	Item  string `json:"item,omitempty"`
	Qty   int    `json:"qty,omitempty"`
	Stage string `json:"stage,omitempty"`
	// Outcome is a report decision's outcome (reunited, located, withdrawn).
	Outcome string `json:"outcome,omitempty"`
}

// duplicateMin is the probability at or above which two registrations made
// on different nodes are listed as a conflict (below it they stay on the
// duplicates page).
const duplicateMin = 0.9

// Conflicts lists every open conflict on node n, field conflicts first.
func Conflicts(ctx context.Context, n *node.Node, p auth.Principal) ([]Conflict, error) {
	if err := auth.Check(p, auth.ConflictsRead); err != nil {
		return nil, err
	}
	var out []Conflict
	fields, err := n.Registry.FieldConflicts(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("conflicts: fields: %w", err)
	}
	for _, f := range fields {
		c := Conflict{Kind: ConflictField, Subject: "person/" + f.Person, Field: f.Field,
			Resolve: "choose the value: caravana conflicts resolve " + f.Person + " " + f.Field + " VALUE"}
		for _, v := range f.Values {
			c.Sides = append(c.Sides, ConflictSide{Value: v.Value, Node: v.Node, At: v.At})
		}
		out = append(out, c)
	}
	dups, err := n.Tracing.Duplicates(ctx, p, duplicateMin, 200)
	if err != nil {
		return nil, fmt.Errorf("conflicts: duplicates: %w", err)
	}
	for _, d := range dups {
		if d.A.Node == d.B.Node {
			continue // a double registration at one desk: the duplicates page's business
		}
		out = append(out, Conflict{Kind: ConflictDuplicate, Subject: "person/" + d.A.ID, Probability: d.Probability,
			Resolve: "merge one into the other (caravana dedup merge) or mark them different people (caravana dedup distinct)",
			Sides: []ConflictSide{
				{Value: d.A.FullName(), Node: d.A.Node, At: d.A.Registered, Ref: "person/" + d.A.ID},
				{Value: d.B.FullName(), Node: d.B.Node, At: d.B.Registered, Ref: "person/" + d.B.ID},
			}})
	}
	reports, err := n.Tracing.Conflicts(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("conflicts: reports: %w", err)
	}
	for _, r := range reports {
		c := Conflict{Kind: ConflictReport, Subject: "report/" + r.ID,
			Resolve: "the earliest decision stands: check with both teams, then mark it reviewed (caravana conflicts review " + r.ID + ")"}
		for _, d := range r.Decisions {
			side := ConflictSide{Value: d.Outcome, Node: d.Node, By: d.By, At: d.At, Outcome: d.Outcome}
			if d.Match != "" {
				side.Value += " person/" + d.Match
				side.Ref = "person/" + d.Match
			}
			c.Sides = append(c.Sides, side)
		}
		out = append(out, c)
	}
	dists, err := n.Supply.Conflicts(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("conflicts: distributions: %w", err)
	}
	for _, d := range dists {
		c := Conflict{Kind: ConflictDistribution, Subject: "distribution/" + d.Key,
			Resolve: "both are kept and counted in stock: check with both teams, then caravana conflicts review distribution/" + d.Key +
				" --outcome accepted (the family keeps both) or --outcome recovered (one was returned; put it back in stock with caravana supply receive) --note TEXT"}
		for _, sd := range d.Sides {
			c.Sides = append(c.Sides, ConflictSide{Value: fmt.Sprintf("%d %s at %s", sd.Qty, sd.Item, sd.Stage),
				Node: sd.Node, By: sd.By, At: sd.At, Ref: "person/" + sd.Person, Item: sd.Item, Qty: sd.Qty, Stage: sd.Stage})
		}
		out = append(out, c)
	}
	users, err := n.Auth.Users(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("conflicts: users: %w", err)
	}
	byName := map[string][]auth.User{}
	for _, u := range users {
		if !u.Disabled {
			byName[u.Username] = append(byName[u.Username], u)
		}
	}
	names := make([]string, 0, len(byName))
	for name, us := range byName {
		if len(us) > 1 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		c := Conflict{Kind: ConflictUsername, Subject: "user/" + name,
			Resolve: "the earliest account keeps the name and the other cannot log in: disable it (caravana user disable user/ID) and add that person again under another name"}
		// The earliest account owns the name (auth): it comes first.
		us := byName[name]
		sort.Slice(us, func(i, j int) bool {
			if !us[i].Created.Equal(us[j].Created) {
				return us[i].Created.Before(us[j].Created)
			}
			return us[i].ID < us[j].ID
		})
		for _, u := range us {
			c.Sides = append(c.Sides, ConflictSide{Value: string(u.Role), At: u.Created, Ref: "user/" + u.ID})
		}
		out = append(out, c)
	}
	return out, nil
}
