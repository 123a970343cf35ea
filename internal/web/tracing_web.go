package web

// What the tracing pages and API share: the explanation of a match in the
// request's language, candidates as pages and the API show them, and the
// flash a decision leaves after its redirect.

import (
	"math"
	"net/http"
	"strings"

	"caravana/internal/linkage"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// explainLine is one compared field of a match: "Nombre: apodo
// equivalente", and whether it counted for the match, against it, or not
// at all (a field one side lacks).
type explainLine struct {
	Text string
	Sign string // for, against, none
}

func explain(c *reqCtx, fields []linkage.Agreement) []explainLine {
	out := make([]explainLine, 0, len(fields))
	for _, f := range fields {
		sign := "none"
		switch {
		case f.Weight > 0:
			sign = "for"
		case f.Weight < 0:
			sign = "against"
		}
		out = append(out, explainLine{Sign: sign,
			Text: c.T("trace.explain", label(c, "trace.field.", f.Field), label(c, "trace.level.", f.Level))})
	}
	return out
}

// percent rounds a probability to a whole percent, never showing 100 for
// less than certain nor 0 for a candidate that was offered.
func percent(p float64) int {
	v := int(math.Round(p * 100))
	switch {
	case v >= 100 && p < 1:
		return 99
	case v <= 0 && p > 0:
		return 1
	}
	return v
}

// candView is a candidate as the report page shows it.
type candView struct {
	Ref, Kind, ID string
	Prob          float64
	Pct           int
	Name, Meta    string
	Link          string
	Lines         []explainLine
}

// personMeta is "9 años · Hombre" with what the role may see.
func personMeta(c *reqCtx, p *registry.Person) string {
	var parts []string
	if p.Age != nil {
		parts = append(parts, c.T("trace.years", *p.Age))
	}
	if p.Sex != "" {
		parts = append(parts, label(c, "sex.", p.Sex))
	}
	return strings.Join(parts, " · ")
}

// reportMeta is the same for another report: the age given (or the birth
// date) and sex as reported.
func reportMeta(c *reqCtx, r *tracing.Report) string {
	var parts []string
	if r.Age != nil {
		parts = append(parts, c.T("trace.years", *r.Age))
	} else if r.BirthDate != "" {
		parts = append(parts, r.BirthDate)
	}
	if r.Sex != "" {
		parts = append(parts, label(c, "sex.", r.Sex))
	}
	return strings.Join(parts, " · ")
}

func candViews(c *reqCtx, cands []tracing.Candidate) []candView {
	out := make([]candView, 0, len(cands))
	for _, x := range cands {
		v := candView{Ref: x.Ref(), Kind: x.Kind, ID: x.ID, Prob: x.Probability, Pct: percent(x.Probability),
			Lines: explain(c, x.Fields)}
		switch {
		case x.Person != nil:
			v.Name, v.Meta, v.Link = x.Person.FullName(), personMeta(c, x.Person), "/people/"+x.ID
		case x.Report != nil:
			v.Name, v.Meta, v.Link = x.Report.Name(), reportMeta(c, x.Report), "/tracing/"+x.ID
		}
		out = append(out, v)
	}
	return out
}

// doneFlash turns ?done=<code> after a redirect into a message. Only codes
// with a catalogue entry under prefix are shown: the query never carries
// text of its own, let alone a name.
func doneFlash(c *reqCtx, r *http.Request, prefix string) string {
	if d := r.URL.Query().Get("done"); d != "" && c.cat.Has(prefix+d) {
		return c.T(prefix + d)
	}
	return ""
}

// apiAgreement is linkage.Agreement with the API's field names.
type apiAgreement struct {
	Field  string  `json:"field"`
	Level  string  `json:"level"`
	Weight float64 `json:"weight"`
}

func apiAgreements(fs []linkage.Agreement) []apiAgreement {
	out := make([]apiAgreement, len(fs))
	for i, f := range fs {
		out[i] = apiAgreement{Field: f.Field, Level: f.Level, Weight: round3(f.Weight)}
	}
	return out
}

// apiCandidate is a candidate as the API sends it: ref is what confirm and
// reject take back.
type apiCandidate struct {
	Ref         string           `json:"ref"`
	Kind        string           `json:"kind"`
	ID          string           `json:"id"`
	Probability float64          `json:"probability"`
	Weight      float64          `json:"weight"`
	Fields      []apiAgreement   `json:"fields"`
	Person      *registry.Person `json:"person,omitempty"`
	Report      *tracing.Report  `json:"report,omitempty"`
}

func apiCandidates(cands []tracing.Candidate) []apiCandidate {
	out := make([]apiCandidate, len(cands))
	for i, x := range cands {
		out[i] = apiCandidate{Ref: x.Ref(), Kind: x.Kind, ID: x.ID, Probability: round3(x.Probability),
			Weight: round3(x.Weight), Fields: apiAgreements(x.Fields), Person: x.Person, Report: x.Report}
	}
	return out
}

// apiDuplicate is tracing.Duplicate with the API's field names.
type apiDuplicate struct {
	A           registry.Person `json:"a"`
	B           registry.Person `json:"b"`
	Probability float64         `json:"probability"`
	Weight      float64         `json:"weight"`
	Fields      []apiAgreement  `json:"fields"`
}

// round3 keeps three decimals: more is noise to a reader and bytes on 2G.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
