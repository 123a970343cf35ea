package tracing_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/tracing"
)

func levels(c tracing.Candidate) map[string]string {
	m := map[string]string{}
	for _, f := range c.Fields {
		m[f.Field] = f.Level
	}
	return m
}

// TestReportMatchesAtOnce: a relative's report with a nickname, one surname
// and an approximate age finds the registered person first, with a
// probability and an explanation; someone who did not consent to tracing
// is never offered.
func TestReportMatchesAtOnce(t *testing.T) {
	n := newNode(t)
	population(t, n)
	jose := register(t, n, person("José Antonio", "Hernández", "López", "M", "2010-04-02", "San Pedro Sula"))
	hidden := register(t, n, registry.PersonInput{GivenNames: "Guadalupe", Surname1: "Zúniga", Surname2: "Ortez", Sex: "F",
		BirthDate: "1992-06-06", Consent: registry.Consent{Registration: true}})

	r, cands, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Chepe", Surnames: "Hernandez", Age: age(8),
		Sex: "M", OriginTown: "San Pedro Sula", Relation: "parent", ReporterName: "Marta López", LastSeenPlace: "Tecún Umán"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != tracing.StatusOpen || r.GivenNames != "Chepe" || r.ReporterName != "Marta López" {
		t.Fatalf("report = %+v", r)
	}
	if len(cands) == 0 || cands[0].Kind != tracing.CandidatePerson || cands[0].ID != jose.ID {
		t.Fatalf("first candidate is not José: %+v", cands)
	}
	top := cands[0]
	if top.Probability < 0.5 || top.Probability > 1 {
		t.Errorf("probability %.3f, want a likely match", top.Probability)
	}
	if top.Person == nil || top.Person.GivenNames != "José Antonio" {
		t.Errorf("candidate person not shown: %+v", top.Person)
	}
	// "Chepe" is a nickname of José, one of José Antonio's two names.
	for _, f := range top.Fields {
		if f.Field == "given_names" && (f.Level != "nickname" && f.Level != "partial" || f.Weight <= 0) {
			t.Errorf("given names = %+v, want a nickname agreement that counts for", f)
		}
	}
	for i := 1; i < len(cands); i++ {
		if cands[i].Probability > cands[i-1].Probability {
			t.Errorf("candidates not ranked: %v then %v", cands[i-1].Probability, cands[i].Probability)
		}
	}

	// Guadalupe did not consent to tracing: her exact name finds nobody.
	_, cands, err = n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Guadalupe", Surnames: "Zúniga Ortez", Sex: "F"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.ID == hidden.ID {
			t.Fatalf("a person without tracing consent was offered: %+v", c)
		}
	}
}

// TestRematchOnArrival: a report made before the person is registered
// finds them once they are.
func TestRematchOnArrival(t *testing.T) {
	n := newNode(t)
	population(t, n)
	r, cands, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Lupe", Surnames: "Villeda", Age: age(30), Sex: "F"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.Probability >= 0.5 {
			t.Fatalf("a likely match before anyone like her is registered: %+v", c)
		}
	}
	lupe := register(t, n, person("María Guadalupe", "Villeda", "Ortiz", "F", "1988-01-20", "Siguatepeque"))
	cands, err = n.Tracing.Matches(ctx, vol, r.ID, 5, tracing.DefaultMin)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) == 0 || cands[0].ID != lupe.ID {
		t.Fatalf("the newly registered person is not the first candidate: %+v", cands)
	}
	list, total, err := n.Tracing.List(ctx, vol, tracing.StatusOpen, 0, 10)
	if err != nil || total != 1 || len(list) != 1 || list[0].Best < 0.5 {
		t.Fatalf("list = %+v total %d err %v", list, total, err)
	}
}

// TestConfirmRejectWithdraw walks a report to its end: a wrong candidate
// rejected is not offered again; the right one confirmed closes the report
// with its outcome; a closed report takes no more decisions.
func TestConfirmRejectWithdraw(t *testing.T) {
	n := newNode(t)
	population(t, n)
	a := register(t, n, person("Francisco", "Mejía", "Rivera", "M", "2012-08-08", "Choluteca"))
	b := register(t, n, person("Francisco", "Mejía", "Cálix", "M", "1975-03-01", "Choluteca"))
	r, cands, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Paco", Surnames: "Mejía", Sex: "M", OriginTown: "Choluteca"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cands {
		ids = append(ids, c.ID)
	}
	if !slices.Contains(ids, a.ID) || !slices.Contains(ids, b.ID) {
		t.Fatalf("both Franciscos should be candidates: %v", ids)
	}
	if _, err := n.Tracing.Reject(ctx, vol, r.ID, "person/"+b.ID); err != nil {
		t.Fatal(err)
	}
	cands, err = n.Tracing.Matches(ctx, vol, r.ID, 10, tracing.DefaultMin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.ID == b.ID {
			t.Fatal("a rejected candidate was offered again")
		}
	}
	if _, err := n.Tracing.Confirm(ctx, vol, r.ID, "person/"+a.ID, "sideways"); !isValidation(err, "outcome") {
		t.Fatalf("bad outcome: %v", err)
	}
	if _, err := n.Tracing.Confirm(ctx, vol, r.ID, "person/nobody", tracing.OutcomeReunited); !errors.Is(err, tracing.ErrNotFound) {
		t.Fatalf("unknown person: %v", err)
	}
	got, err := n.Tracing.Confirm(ctx, vol, r.ID, a.ID, tracing.OutcomeReunited)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != tracing.StatusClosed || got.Outcome != tracing.OutcomeReunited || got.Match != a.ID || got.Conflict {
		t.Fatalf("confirmed report = %+v", got)
	}
	if _, err := n.Tracing.Confirm(ctx, vol, r.ID, a.ID, tracing.OutcomeLocated); !errors.Is(err, tracing.ErrClosed) {
		t.Fatalf("second confirmation: %v", err)
	}
	if _, err := n.Tracing.Withdraw(ctx, vol, r.ID, "other"); !errors.Is(err, tracing.ErrClosed) {
		t.Fatalf("withdraw closed: %v", err)
	}
	open, _, _ := n.Tracing.List(ctx, vol, tracing.StatusOpen, 0, 10)
	closed, _, _ := n.Tracing.List(ctx, vol, tracing.StatusClosed, 0, 10)
	if len(open) != 0 || len(closed) != 1 {
		t.Fatalf("open %d closed %d, want 0 and 1", len(open), len(closed))
	}

	r2, _, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Memo", Surnames: "Torres"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Tracing.Withdraw(ctx, vol, r2.ID, "because"); !isValidation(err, "reason") {
		t.Fatalf("bad reason: %v", err)
	}
	w, err := n.Tracing.Withdraw(ctx, vol, r2.ID, "withdrawn_by_family")
	if err != nil || w.Status != tracing.StatusClosed || w.Outcome != "withdrawn" {
		t.Fatalf("withdrawn = %+v, %v", w, err)
	}
}

// TestReportsMatchEachOther: two families report the same child; the
// second report offers the first; linking them and then confirming the
// person closes both.
func TestReportsMatchEachOther(t *testing.T) {
	n := newNode(t)
	population(t, n)
	r1, _, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Jesús", Surnames: "Orellana Paz", Age: age(12), Sex: "M",
		OriginTown: "Tela", Relation: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	r2, cands, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Chuy", Surnames: "Orellana", Age: age(11), Sex: "M",
		OriginTown: "Tela", Relation: "grandparent"})
	if err != nil {
		t.Fatal(err)
	}
	var other *tracing.Candidate
	for i := range cands {
		if cands[i].Kind == tracing.CandidateReport && cands[i].ID == r1.ID {
			other = &cands[i]
		}
	}
	if other == nil || other.Report == nil || other.Report.GivenNames != "Jesús" {
		t.Fatalf("the first report is not offered for the second: %+v", cands)
	}
	linked, err := n.Tracing.Confirm(ctx, vol, r2.ID, "report/"+r1.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if linked.Status != tracing.StatusOpen || !slices.Contains(linked.Linked, r1.ID) {
		t.Fatalf("linked report = %+v", linked)
	}
	chuy := register(t, n, person("Jesús David", "Orellana", "Paz", "M", "2006-12-24", "Tela"))
	if _, err := n.Tracing.Confirm(ctx, vol, r1.ID, "person/"+chuy.ID, tracing.OutcomeLocated); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{r1.ID, r2.ID} {
		r, err := n.Tracing.Get(ctx, vol, id)
		if err != nil || r.Status != tracing.StatusClosed || r.Match != chuy.ID || r.Outcome != tracing.OutcomeLocated {
			t.Fatalf("report %s = %+v, %v", id, r, err)
		}
	}
}

func isValidation(err error, field string) bool {
	var v registry.ValidationError
	return errors.As(err, &v) && len(v) > 0 && v[0].Field == field
}

// TestReportValidation: every problem is reported at once, and nothing is
// written.
func TestReportValidation(t *testing.T) {
	n := newNode(t)
	for _, tc := range []struct {
		name  string
		in    tracing.ReportInput
		field string
	}{
		{"no name", tracing.ReportInput{Sex: "F"}, "given_names"},
		{"bad sex", tracing.ReportInput{GivenNames: "Ana", Sex: "Q"}, "sex"},
		{"bad age", tracing.ReportInput{GivenNames: "Ana", Age: age(300)}, "age"},
		{"future birth", tracing.ReportInput{GivenNames: "Ana", BirthDate: "2031-01-01"}, "birth_date"},
		{"bad last seen", tracing.ReportInput{GivenNames: "Ana", LastSeenDate: "ayer"}, "last_seen_date"},
		{"bad relation", tracing.ReportInput{GivenNames: "Ana", Relation: "boss"}, "relation"},
		{"bad reporter card", tracing.ReportInput{GivenNames: "Ana", ReporterCode: "12"}, "reporter_code"},
		{"control chars", tracing.ReportInput{GivenNames: "Ana\x00"}, "given_names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := n.Tracing.Report(ctx, vol, tc.in); !isValidation(err, tc.field) {
				t.Fatalf("err = %v, want a problem with %s", err, tc.field)
			}
		})
	}
	if list, total, err := n.Tracing.List(ctx, coord, "", 0, 10); err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("something was written: %d %v", total, err)
	}
}

// TestRoles: any staff member may take a report; only the tracing desk
// and coordinators see candidates and decide; legal reads.
func TestRoles(t *testing.T) {
	n := newNode(t)
	population(t, n)
	in := tracing.ReportInput{GivenNames: "Rosa", Surnames: "Ramírez"}
	r, cands, err := n.Tracing.Report(ctx, medic, in)
	if err != nil {
		t.Fatal(err)
	}
	if cands != nil || r.GivenNames != "" {
		t.Fatalf("a medic saw the report back or its candidates: %+v %+v", r, cands)
	}
	for _, tc := range []struct {
		p              auth.Principal
		read, decide   bool
		dups, canMerge bool
	}{
		{coord, true, true, true, true},
		{vol, true, true, true, false},
		{legal, true, false, false, false},
		{medic, false, false, false, false},
		{nobody, false, false, false, false},
	} {
		t.Run(string(tc.p.Role), func(t *testing.T) {
			_, err := n.Tracing.Get(ctx, tc.p, r.ID)
			if (err == nil) != tc.read || (err != nil && !errors.Is(err, auth.ErrForbidden)) {
				t.Errorf("get: %v", err)
			}
			_, err = n.Tracing.Reject(ctx, tc.p, r.ID, "person/none")
			if errors.Is(err, auth.ErrForbidden) == tc.decide {
				t.Errorf("reject: %v", err)
			}
			_, err = n.Tracing.Duplicates(ctx, tc.p, 0.5, 10)
			if (err == nil) != tc.dups {
				t.Errorf("duplicates: %v", err)
			}
			err = n.Tracing.Merge(ctx, tc.p, "a", "b")
			if errors.Is(err, auth.ErrForbidden) == tc.canMerge {
				t.Errorf("merge: %v", err)
			}
		})
	}
	if _, _, err := n.Tracing.Report(ctx, nobody, in); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("a non-staff principal reported: %v", err)
	}
}

// TestAuditAndSealing: showing a report and its candidates is audited;
// the report's names are in no document, event or audit row in clear.
func TestAuditAndSealing(t *testing.T) {
	n := newNode(t)
	p := register(t, n, person("Anacleta", "Tlapaltecatl", "Huitzilihuitl", "F", "1987-03-14", "Quimistancito"))
	r, cands, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Anacleta", Surnames: "Tlapaltecatl",
		ReporterName: "Xochiquetzal Omecihuatl", ReporterContact: "+504 9812-3456", LastSeenPlace: "Ixtepec"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) == 0 || cands[0].ID != p.ID {
		t.Fatalf("candidates %+v", cands)
	}
	if _, err := n.Tracing.Get(ctx, legal, r.ID); err != nil {
		t.Fatal(err)
	}
	var rows []store.AuditEntry
	var raw []string
	err = n.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		if rows, err = tx.Audit(ctx, store.AuditFilter{Limit: 1000}); err != nil {
			return err
		}
		if err := tx.EachDoc(ctx, func(kind, id string, data []byte) error {
			raw = append(raw, string(data))
			return nil
		}); err != nil {
			return err
		}
		return tx.EachEvent(ctx, func(e *event.Event) error {
			raw = append(raw, string(e.Body))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var sawReport, sawMatch bool
	for _, a := range rows {
		raw = append(raw, a.Detail, a.Record)
		sawReport = sawReport || (a.Actor == legal.UserID && a.Action == "trace.read" && a.Record == "report/"+r.ID)
		sawMatch = sawMatch || (a.Actor == vol.UserID && a.Action == "person.read" && a.Record == "person/"+p.ID && a.Detail == "trace match")
	}
	if !sawReport || !sawMatch {
		t.Errorf("audit: report read %v, match read %v", sawReport, sawMatch)
	}
	all := strings.ToLower(strings.Join(raw, "\n"))
	for _, secret := range []string{"anacleta", "tlapaltecatl", "xochiquetzal", "omecihuatl", "9812", "ixtepec"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q is stored in clear", secret)
		}
	}
}

// TestExplanationHidesUnseenFields: a match's per-field explanation tells
// a volunteer nothing about fields the role may not see (origin town,
// birth date): their weight is summed as "other", so the total still adds
// up. A coordinator sees every field.
func TestExplanationHidesUnseenFields(t *testing.T) {
	n := newNode(t)
	population(t, n)
	a := register(t, n, person("Francisco", "Mejía", "Rivera", "M", "2012-08-08", "Choluteca"))
	r, _, err := n.Tracing.Report(ctx, vol, tracing.ReportInput{GivenNames: "Paco", Surnames: "Mejía Rivera", Sex: "M",
		OriginTown: "Choluteca", BirthDate: "2012-08-08"})
	if err != nil {
		t.Fatal(err)
	}
	fieldsOf := func(p auth.Principal) map[string]float64 {
		t.Helper()
		cands, err := n.Tracing.Matches(ctx, p, r.ID, 10, tracing.DefaultMin)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			if c.ID != a.ID {
				continue
			}
			out, sum := map[string]float64{}, 0.0
			for _, f := range c.Fields {
				out[f.Field] = f.Weight
				sum += f.Weight
			}
			if math.Abs(sum-c.Weight) > 1e-6 {
				t.Errorf("%s: field weights add to %.3f, the match weighs %.3f", p.Role, sum, c.Weight)
			}
			return out
		}
		t.Fatalf("%s: Francisco is not a candidate", p.Role)
		return nil
	}
	v := fieldsOf(vol)
	for _, hidden := range []string{"origin_town", "birth_date"} {
		if _, ok := v[hidden]; ok {
			t.Errorf("a volunteer's explanation names %s", hidden)
		}
	}
	if v["other"] <= 0 || v["given_names"] == 0 {
		t.Errorf("volunteer's explanation = %v, want names and a positive \"other\"", v)
	}
	c := fieldsOf(coord)
	if c["origin_town"] <= 0 || c["birth_date"] <= 0 {
		t.Errorf("coordinator's explanation = %v, want origin_town and birth_date", c)
	}
	if _, ok := c["other"]; ok {
		t.Errorf("coordinator's explanation hides something: %v", c)
	}
}
