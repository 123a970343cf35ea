// Package tracing finds missing people: reports of a missing relative are
// matched against the registry and against each other with the record
// linkage engine, a volunteer confirms or rejects the candidates, and a
// confirmed match records a reunification. It also lists likely duplicate
// registrations. Report fields are sealed like a person's; matching runs in
// memory on the unlocked node.
package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"caravana/internal/event"
	"caravana/internal/ledger"
	"caravana/internal/store"
)

// Event kinds.
const (
	KindReported  = "trace.reported"  // a report of a missing person
	KindConfirmed = "trace.confirmed" // a candidate person confirmed: the report closes
	KindRejected  = "trace.rejected"  // a candidate (person or report) is not the one
	KindLinked    = "trace.linked"    // two reports are about the same missing person
	KindWithdrawn = "trace.withdrawn" // the report is closed without a match
	KindDistinct  = "trace.distinct"  // two registrations are different people, not duplicates
	KindReviewed  = "trace.reviewed"  // a coordinator reviewed a report closed differently on two nodes
)

// Outcomes of a confirmed match.
const (
	OutcomeReunited = "reunited" // the family is together again
	OutcomeLocated  = "located"  // the person was found, not (yet) reunited
)

// Outcomes lists the outcomes a confirmation may record.
var Outcomes = []string{OutcomeReunited, OutcomeLocated}

// Statuses of a report.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Projection documents and indexes.
const (
	docReport   = "trace_report"
	docDistinct = "trace_distinct"
	idxOpen     = "trace_open"   // reported time -> open report id
	idxClosed   = "trace_closed" // reported time -> closed report id
)

// reportBody is the body of trace.reported: every field sealed.
type reportBody struct {
	Fields map[string]string `json:"fields"`
	// Reporter is the person id of a registered reporter, if any.
	Reporter string `json:"reporter,omitempty"`
}

// decisionBody is the body of the other trace events about a report.
type decisionBody struct {
	// Candidate is "person/<id>" or "report/<id>".
	Candidate string `json:"candidate,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Reason    string `json:"reason,omitempty"` // a code, not free text
	// Reviewed, in trace.reviewed, names the closing decisions the
	// reviewer saw ("<hlc>/<node>"): a decision made after is reviewed anew.
	Reviewed []string `json:"reviewed,omitempty"`
}

// distinctBody is the body of trace.distinct: two person ids, sorted.
type distinctBody struct {
	People []string `json:"people"`
}

// closure is one event that closes a report. Every one is kept: if two
// nodes closed a report differently, both show and the report is flagged.
type closure struct {
	Kind      string    `json:"kind"`
	Candidate string    `json:"candidate,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by"`
	T         event.HLC `json:"t"`
	N         string    `json:"n"`
}

func (c closure) before(o closure) bool { return c.T < o.T || (c.T == o.T && c.N < o.N) }

// reportDoc is the projection of one report.
type reportDoc struct {
	ID       string            `json:"id"`
	Fields   map[string]string `json:"fields,omitempty"` // sealed
	Reporter string            `json:"reporter,omitempty"`
	Reported event.HLC         `json:"reported,omitempty"`
	By       string            `json:"by,omitempty"`
	Node     string            `json:"node,omitempty"`
	Rejected []string          `json:"rejected,omitempty"` // candidates, sorted
	Linked   []string          `json:"linked,omitempty"`   // other report ids, sorted
	Closures []closure         `json:"closures,omitempty"` // earliest first
	Reviewed []string          `json:"reviewed,omitempty"` // closures a coordinator reviewed, sorted
}

func (c closure) key() string { return fmt.Sprintf("%d/%s", uint64(c.T), c.N) }

// conflicted reports whether two nodes closed the report differently and
// no coordinator has reviewed every decision since.
func (d *reportDoc) conflicted() bool {
	if len(d.Closures) < 2 {
		return false
	}
	first := d.Closures[0]
	differ := false
	for _, o := range d.Closures[1:] {
		if o.Kind != first.Kind || o.Candidate != first.Candidate || o.Outcome != first.Outcome {
			differ = true
		}
	}
	if !differ {
		return false
	}
	for _, c := range d.Closures {
		if _, ok := slices.BinarySearch(d.Reviewed, c.key()); !ok {
			return true
		}
	}
	return false
}

// status is open until a closure exists.
func (d *reportDoc) status() string {
	if len(d.Closures) > 0 {
		return StatusClosed
	}
	return StatusOpen
}

// Register adds tracing's projections to p.
func Register(p *ledger.Projector) { p.Handle("trace", apply) }

func subjectID(subject string) string {
	_, id, ok := strings.Cut(subject, "/")
	if !ok {
		return subject
	}
	return id
}

func reportEntity(id string) string { return "report/" + id }

func timeKey(h event.HLC) string { return fmt.Sprintf("%016x", uint64(h)) }

// apply projects one trace event. The same set of events gives the same
// documents in any arrival order: fields are set once (by the report),
// rejections and links are sets, closures a set ordered by (HLC, node).
func apply(ctx context.Context, tx store.Tx, e *event.Event) error {
	if e.Kind == KindDistinct {
		var b distinctBody
		if err := json.Unmarshal(e.Body, &b); err != nil || len(b.People) != 2 {
			return fmt.Errorf("%s %s: bad body", e.Kind, e.ID())
		}
		return tx.Put(ctx, docDistinct, distinctKey(b.People[0], b.People[1]), []byte(`{}`))
	}
	id := subjectID(e.Subject)
	var doc reportDoc
	if _, err := store.GetJSON(ctx, tx, docReport, id, &doc); err != nil {
		return err
	}
	if doc.ID == "" {
		doc.ID = id
	}
	oldKey, oldIdx := indexOf(&doc)
	switch e.Kind {
	case KindReported:
		var b reportBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
		}
		// A report is made once; if an id were ever reused, the earliest wins.
		if doc.Reported == 0 || e.HLC < doc.Reported || (e.HLC == doc.Reported && e.Node < doc.Node) {
			doc.Fields, doc.Reporter, doc.Reported, doc.By, doc.Node = b.Fields, b.Reporter, e.HLC, e.Actor, e.Node
		}
	case KindRejected, KindLinked, KindConfirmed, KindWithdrawn, KindReviewed:
		var b decisionBody
		if err := json.Unmarshal(e.Body, &b); err != nil {
			return fmt.Errorf("%s %s: %w", e.Kind, e.ID(), err)
		}
		switch e.Kind {
		case KindReviewed:
			for _, k := range b.Reviewed {
				doc.Reviewed = addSorted(doc.Reviewed, k)
			}
		case KindRejected:
			doc.Rejected = addSorted(doc.Rejected, b.Candidate)
		case KindLinked:
			doc.Linked = addSorted(doc.Linked, subjectID(b.Candidate))
		default:
			c := closure{Kind: e.Kind, Candidate: b.Candidate, Outcome: b.Outcome, Reason: b.Reason, By: e.Actor, T: e.HLC, N: e.Node}
			i, found := slices.BinarySearchFunc(doc.Closures, c, func(a, b closure) int {
				switch {
				case a.before(b):
					return -1
				case b.before(a):
					return 1
				}
				return 0
			})
			if !found {
				doc.Closures = slices.Insert(doc.Closures, i, c)
			}
		}
	default:
		return nil // a newer node's kind: kept in the log, ignored here
	}
	newKey, newIdx := indexOf(&doc)
	if oldKey != newKey || oldIdx != newIdx {
		if oldIdx != "" {
			if err := tx.RemoveIndex(ctx, oldIdx, oldKey, id); err != nil {
				return err
			}
		}
		if newIdx != "" {
			if err := tx.AddIndex(ctx, newIdx, newKey, id); err != nil {
				return err
			}
		}
	}
	return store.PutJSON(ctx, tx, docReport, id, doc)
}

// indexOf is where a report is listed: nowhere until the report itself
// has arrived, then by reported time among the open or the closed.
func indexOf(d *reportDoc) (key, index string) {
	if d.Reported == 0 {
		return "", ""
	}
	if d.status() == StatusOpen {
		return timeKey(d.Reported), idxOpen
	}
	return timeKey(d.Reported), idxClosed
}

func addSorted(list []string, v string) []string {
	if v == "" {
		return list
	}
	i, found := slices.BinarySearch(list, v)
	if found {
		return list
	}
	return slices.Insert(list, i, v)
}

func distinctKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "|" + b
}
