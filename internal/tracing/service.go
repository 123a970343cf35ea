package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/linkage"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// ErrNotFound means no report has that id. It is the registry's sentinel,
// so callers map both the same way (404).
var ErrNotFound = registry.ErrNotFound

// ErrClosed means the report is already closed.
var ErrClosed = errors.New("the report is already closed")

// Candidate kinds.
const (
	CandidatePerson = "person"
	CandidateReport = "report"
)

// DefaultMin is the lowest probability a candidate is shown with.
const DefaultMin = 0.05

// Service is tracing's domain API, shared by the CLI, the JSON API and the
// web pages. Every method checks the principal's role.
type Service struct {
	led  *ledger.Ledger
	st   store.Store
	reg  *registry.Service
	seal *crypto.Sealer
	now  func() time.Time
	rand io.Reader
	m    *matcher
}

// NewService builds tracing over a ledger, the registry and the sealer.
func NewService(led *ledger.Ledger, reg *registry.Service, seal *crypto.Sealer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{led: led, st: led.Store(), reg: reg, seal: seal, now: time.Now, rand: rand.Reader}
	s.m = newMatcher(s, log)
	return s
}

func (s *Service) newID() string {
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("random source failed: %v", err))
	}
	return hex.EncodeToString(b)
}

func invalid(field, code, msg string) registry.ValidationError {
	return registry.ValidationError{{Field: field, Code: code, Message: msg}}
}

func readEntry(p auth.Principal, why, id string) store.AuditEntry {
	return store.AuditEntry{Actor: p.Actor(), Action: "trace.read", Record: reportEntity(id), Detail: why}
}

// Candidate is a possible match for a report: a registered person or
// another open report, with the probability and what agreed.
type Candidate struct {
	Kind        string              `json:"kind"` // person or report
	ID          string              `json:"id"`
	Probability float64             `json:"probability"`
	Weight      float64             `json:"weight"`
	Fields      []linkage.Agreement `json:"fields"`
	// Person is the candidate as the principal may see them (kind person).
	Person *registry.Person `json:"person,omitempty"`
	// Report is the other report (kind report).
	Report *Report `json:"report,omitempty"`
}

// Ref is how events name the candidate: "person/<id>" or "report/<id>".
func (c Candidate) Ref() string { return c.Kind + "/" + c.ID }

// Report records a missing-person report and matches it at once.
func (s *Service) Report(ctx context.Context, p auth.Principal, in ReportInput) (Report, []Candidate, error) {
	if err := auth.Check(p, auth.TraceReport); err != nil {
		return Report{}, nil, err
	}
	v := in.normalize(s.now())
	var reporter string
	if in.ReporterCode != "" {
		code, err := cardcode.Parse(in.ReporterCode)
		if errors.Is(err, cardcode.ErrCheck) {
			v.Add("reporter_code", "check", "is not a valid card code: check the control character")
		} else if err != nil {
			v.Add("reporter_code", "code_format", "is not a card code")
		} else if reporter, err = s.reg.ResolveCode(ctx, auth.Principal{Role: auth.Coordinator}, code); errors.Is(err, registry.ErrNotFound) {
			v.Add("reporter_code", "unknown", "no registered person holds this card")
		} else if err != nil {
			return Report{}, nil, err
		}
	}
	if len(v) > 0 {
		return Report{}, nil, v
	}
	id := s.newID()
	body := reportBody{Fields: map[string]string{}, Reporter: reporter}
	for f, val := range in.fields() {
		body.Fields[f] = s.seal.Seal(reportEntity(id), f, val)
	}
	draft := ledger.Draft{Kind: KindReported, Subject: reportEntity(id), Body: body}
	if _, err := s.led.Append(ctx, p.Actor(), []ledger.Draft{draft}, readEntry(p, "reported", id)); err != nil {
		return Report{}, nil, fmt.Errorf("report: %w", err)
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Report{}, nil, err
	}
	if !auth.Can(p.Role, auth.TraceRead) {
		// Whoever only takes reports down sees no candidates.
		return Report{ID: r.ID, Status: r.Status, Reported: r.Reported}, nil, nil
	}
	cands, err := s.candidates(ctx, p, r, 10, DefaultMin)
	if err != nil {
		return Report{}, nil, err
	}
	return r, cands, nil
}

// Get shows one report; the read is audited.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Report, error) {
	if err := auth.Check(p, auth.TraceRead); err != nil {
		return Report{}, err
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if err := s.led.Audit(ctx, readEntry(p, "view", id)); err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	return r, nil
}

// Matches ranks the candidates for a report: registered people who
// consented to tracing and other open reports, best first, at most k, at
// or above min probability, leaving out those already rejected.
func (s *Service) Matches(ctx context.Context, p auth.Principal, id string, k int, min float64) ([]Candidate, error) {
	if err := auth.Check(p, auth.TraceRead); err != nil {
		return nil, err
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.led.Audit(ctx, readEntry(p, "matches", id)); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return s.candidates(ctx, p, r, k, min)
}

func (s *Service) candidates(ctx context.Context, p auth.Principal, r Report, k int, min float64) ([]Candidate, error) {
	if k <= 0 || k > 50 {
		k = 10
	}
	if err := s.m.catchUp(ctx); err != nil {
		return nil, err
	}
	s.m.waitFitted(ctx)
	rec := reportRecord(r, s.now())
	rejected := func(ref string) bool { _, ok := slices.BinarySearch(r.Rejected, ref); return ok }
	var out []Candidate
	// Ask for more than k: rejected ones are dropped after ranking.
	for _, mt := range s.m.people.Query(rec, k+len(r.Rejected), min) {
		c := Candidate{Kind: CandidatePerson, ID: mt.ID, Probability: mt.Probability, Weight: mt.Weight, Fields: explainFor(p, mt.Fields)}
		if !rejected(c.Ref()) {
			out = append(out, c)
		}
	}
	for _, mt := range s.m.reports.Query(rec, k+len(r.Rejected)+1, min) {
		c := Candidate{Kind: CandidateReport, ID: mt.ID, Probability: mt.Probability, Weight: mt.Weight, Fields: explainFor(p, mt.Fields)}
		if mt.ID != r.ID && !rejected(c.Ref()) && !slices.Contains(r.Linked, mt.ID) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Probability > out[j].Probability })
	if len(out) > k {
		out = out[:k]
	}
	return s.reveal(ctx, p, out)
}

// reveal fills in who the candidates are, as p may see them: people's
// reads are audited by the registry, other reports' here.
func (s *Service) reveal(ctx context.Context, p auth.Principal, cands []Candidate) ([]Candidate, error) {
	var ids, reps []string
	for _, c := range cands {
		if c.Kind == CandidatePerson {
			ids = append(ids, c.ID)
		} else {
			reps = append(reps, c.ID)
		}
	}
	people := map[string]*registry.Person{}
	if len(ids) > 0 {
		ps, err := s.reg.GetMany(ctx, p, ids, "trace match")
		if err != nil {
			return nil, err
		}
		for i := range ps {
			people[ps[i].ID] = &ps[i]
		}
	}
	reports := map[string]*Report{}
	if len(reps) > 0 {
		var audit []store.AuditEntry
		for _, id := range reps {
			r, err := s.get(ctx, id)
			if err != nil {
				return nil, err
			}
			reports[id] = &r
			audit = append(audit, readEntry(p, "trace match", id))
		}
		if err := s.led.Audit(ctx, audit...); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	out := cands[:0]
	for _, c := range cands {
		c.Person, c.Report = people[c.ID], nil
		if c.Kind == CandidateReport {
			c.Person, c.Report = nil, reports[c.ID]
		}
		if c.Person == nil && c.Report == nil {
			continue // gone since the index was read
		}
		out = append(out, c)
	}
	return out, nil
}

// ReportSummary is one line of the report list.
type ReportSummary struct {
	Report
	// Best is the best open candidate's probability (0 when none).
	Best float64 `json:"best"`
}

// List shows reports with the given status (open, closed, or "" for
// both), newest first, a page at a time, with the total count. Open
// reports carry their best candidate's probability, matched now.
func (s *Service) List(ctx context.Context, p auth.Principal, status string, offset, limit int) ([]ReportSummary, int, error) {
	if err := auth.Check(p, auth.TraceRead); err != nil {
		return nil, 0, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var indexes []string
	switch status {
	case StatusOpen:
		indexes = []string{idxOpen}
	case StatusClosed:
		indexes = []string{idxClosed}
	case "", "all":
		indexes = []string{idxOpen, idxClosed}
	default:
		return nil, 0, invalid("status", "invalid", "must be open, closed or all")
	}
	type keyed struct{ key, id string }
	var all []keyed
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, idx := range indexes {
			ids, err := tx.Range(ctx, idx, true, 0, 0)
			if err != nil {
				return err
			}
			for _, id := range ids {
				all = append(all, keyed{idx, id})
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	total := len(all)
	// Newest first across both lists: the ids carry no time, so order by
	// the reports themselves after loading the page's candidates.
	docs, err := s.loadReports(ctx, func() []string {
		ids := make([]string, len(all))
		for i, a := range all {
			ids[i] = a.id
		}
		return ids
	}())
	if err != nil {
		return nil, 0, err
	}
	sort.SliceStable(docs, func(i, j int) bool { return docs[i].Reported > docs[j].Reported })
	docs = docs[min(offset, len(docs)):min(offset+limit, len(docs))]
	if err := s.m.catchUp(ctx); err != nil {
		return nil, 0, err
	}
	s.m.waitFitted(ctx)
	out := make([]ReportSummary, 0, len(docs))
	var audit []store.AuditEntry
	now := s.now()
	for i := range docs {
		r, err := s.open(&docs[i])
		if err != nil {
			return nil, 0, err
		}
		sum := ReportSummary{Report: r}
		if r.Status == StatusOpen {
			for _, mt := range s.m.people.Query(reportRecord(r, now), 1+len(r.Rejected), DefaultMin) {
				if _, gone := slices.BinarySearch(r.Rejected, CandidatePerson+"/"+mt.ID); !gone {
					sum.Best = mt.Probability
					break
				}
			}
		}
		out = append(out, sum)
		audit = append(audit, readEntry(p, "list", r.ID))
	}
	if len(audit) > 0 {
		if err := s.led.Audit(ctx, audit...); err != nil {
			return nil, 0, fmt.Errorf("audit: %w", err)
		}
	}
	return out, total, nil
}

// Confirm records that the report's missing person is the candidate, with
// an outcome (reunited, or located but not reunited), and closes the
// report. A candidate that is another report links the two reports
// instead: both stay open, and whoever finds the person finds them for
// both families.
func (s *Service) Confirm(ctx context.Context, p auth.Principal, id, candidate, outcome string) (Report, error) {
	if err := auth.Check(p, auth.TraceDecide); err != nil {
		return Report{}, err
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if r.Status != StatusOpen {
		return Report{}, ErrClosed
	}
	kind, cid, err := s.checkCandidate(ctx, r, candidate)
	if err != nil {
		return Report{}, err
	}
	var drafts []ledger.Draft
	if kind == CandidateReport {
		drafts = []ledger.Draft{
			{Kind: KindLinked, Subject: reportEntity(id), Body: decisionBody{Candidate: reportEntity(cid)}},
			{Kind: KindLinked, Subject: reportEntity(cid), Body: decisionBody{Candidate: reportEntity(id)}},
		}
	} else {
		if !slices.Contains(Outcomes, outcome) {
			return Report{}, invalid("outcome", "invalid", "must be reunited or located")
		}
		drafts = []ledger.Draft{{Kind: KindConfirmed, Subject: reportEntity(id),
			Body: decisionBody{Candidate: CandidatePerson + "/" + cid, Outcome: outcome}}}
		// Reports linked to this one are about the same person: they
		// close with it.
		for _, other := range r.Linked {
			if o, err := s.get(ctx, other); err == nil && o.Status == StatusOpen {
				drafts = append(drafts, ledger.Draft{Kind: KindConfirmed, Subject: reportEntity(other),
					Body: decisionBody{Candidate: CandidatePerson + "/" + cid, Outcome: outcome}})
			}
		}
	}
	return s.decide(ctx, p, id, "confirmed", drafts...)
}

// Reject records that a candidate is not the missing person: it is not
// offered again for this report.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, candidate string) (Report, error) {
	if err := auth.Check(p, auth.TraceDecide); err != nil {
		return Report{}, err
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	kind, cid, err := s.checkCandidate(ctx, r, candidate)
	if err != nil {
		return Report{}, err
	}
	return s.decide(ctx, p, id, "rejected", ledger.Draft{Kind: KindRejected, Subject: reportEntity(id),
		Body: decisionBody{Candidate: kind + "/" + cid}})
}

// WithdrawReasons say why a report was closed without a match.
var WithdrawReasons = []string{"found_elsewhere", "withdrawn_by_family", "duplicate_report", "other"}

// Withdraw closes a report without a match.
func (s *Service) Withdraw(ctx context.Context, p auth.Principal, id, reason string) (Report, error) {
	if err := auth.Check(p, auth.TraceDecide); err != nil {
		return Report{}, err
	}
	if !slices.Contains(WithdrawReasons, reason) {
		return Report{}, invalid("reason", "invalid", "must be one of "+strings.Join(WithdrawReasons, ", "))
	}
	r, err := s.get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if r.Status != StatusOpen {
		return Report{}, ErrClosed
	}
	return s.decide(ctx, p, id, "withdrawn", ledger.Draft{Kind: KindWithdrawn, Subject: reportEntity(id),
		Body: decisionBody{Reason: reason}})
}

func (s *Service) decide(ctx context.Context, p auth.Principal, id, why string, drafts ...ledger.Draft) (Report, error) {
	if _, err := s.led.Append(ctx, p.Actor(), drafts, readEntry(p, why, id)); err != nil {
		return Report{}, fmt.Errorf("%s: %w", why, err)
	}
	return s.get(ctx, id)
}

// checkCandidate parses "person/<id>" or "report/<id>" (a bare id is a
// person) and checks it exists.
func (s *Service) checkCandidate(ctx context.Context, r Report, candidate string) (kind, id string, err error) {
	kind, id, ok := strings.Cut(candidate, "/")
	if !ok {
		kind, id = CandidatePerson, candidate
	}
	switch {
	case id == "":
		return "", "", invalid("candidate", "required", "name a person or a report")
	case kind == CandidatePerson:
		found, err := s.reg.Exists(ctx, auth.Principal{Role: auth.Coordinator}, []string{id})
		if err != nil {
			return "", "", err
		}
		if !found[id] {
			return "", "", fmt.Errorf("person %s: %w", id, ErrNotFound)
		}
	case kind == CandidateReport:
		if id == r.ID {
			return "", "", invalid("candidate", "same", "a report cannot match itself")
		}
		if _, err := s.get(ctx, id); err != nil {
			return "", "", err
		}
	default:
		return "", "", invalid("candidate", "invalid", "must be person/<id> or report/<id>")
	}
	return kind, id, nil
}

// get loads and opens one report, unaudited.
func (s *Service) get(ctx context.Context, id string) (Report, error) {
	docs, err := s.loadReports(ctx, []string{id})
	if err != nil {
		return Report{}, err
	}
	if len(docs) == 0 || docs[0].Reported == 0 {
		return Report{}, fmt.Errorf("report %s: %w", id, ErrNotFound)
	}
	return s.open(&docs[0])
}

// loadReports reads the report documents with ids (all when nil).
func (s *Service) loadReports(ctx context.Context, ids []string) ([]reportDoc, error) {
	var docs []reportDoc
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		if ids == nil {
			return tx.Scan(ctx, docReport, func(id string, data []byte) error {
				var d reportDoc
				if err := json.Unmarshal(data, &d); err != nil {
					return fmt.Errorf("report %s: %w", id, err)
				}
				docs = append(docs, d)
				return nil
			})
		}
		for _, id := range ids {
			var d reportDoc
			found, err := store.GetJSON(ctx, tx, docReport, id, &d)
			if err != nil {
				return err
			}
			if found {
				docs = append(docs, d)
			}
		}
		return nil
	})
	return docs, err
}

// open decrypts a report document. It is the only place report PII is
// decrypted.
func (s *Service) open(d *reportDoc) (Report, error) {
	r := Report{ID: d.ID, Status: d.status(), Reporter: d.Reporter, Reported: d.Reported.Time(), ReportedBy: d.By,
		Rejected: d.Rejected, Linked: d.Linked}
	plain, err := s.reg.OpenReport(d.ID, d.Fields)
	if err != nil {
		return Report{}, err
	}
	var age string
	for _, t := range []struct {
		f   string
		dst *string
	}{
		{FieldGivenNames, &r.GivenNames}, {FieldSurnames, &r.Surnames}, {FieldSex, &r.Sex}, {FieldAge, &age},
		{FieldBirthDate, &r.BirthDate}, {FieldNationality, &r.Nationality}, {FieldOriginTown, &r.OriginTown},
		{FieldLastSeenPlace, &r.LastSeenPlace}, {FieldLastSeenDate, &r.LastSeenDate}, {FieldRelation, &r.Relation},
		{FieldReporterName, &r.ReporterName}, {FieldReporterContact, &r.ReporterContact}, {FieldNotes, &r.Notes},
	} {
		*t.dst = plain[t.f]
	}
	if a, err := strconv.Atoi(age); err == nil {
		r.Age = &a
	}
	if len(d.Closures) > 0 {
		c := d.Closures[0]
		r.Closed, r.ClosedBy = c.T.Time(), c.By
		switch c.Kind {
		case KindConfirmed:
			r.Outcome, r.Match = c.Outcome, subjectID(c.Candidate)
		default:
			r.Outcome, r.Reason = "withdrawn", c.Reason
		}
		r.Conflict = d.conflicted()
	}
	return r, nil
}
