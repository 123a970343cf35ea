package linkage

import (
	"math"
	"time"
)

// Model is the fitted Fellegi-Sunter model; it marshals to JSON and back. Term frequencies are
// not part of the JSON: a model read back explains pairs without the common-name adjustment,
// while an Index always adjusts with its own live frequencies.
type Model struct {
	Fields []FieldModel `json:"fields"`
	// Lambda is the prior probability that two records drawn at random from all possible
	// pairs (not only the blocked ones) are a match.
	Lambda float64 `json:"lambda"`
	// Records is how many records the model was fitted on; with Lambda it gives the expected
	// number of matches per record, which carries the prior over to an index of another size.
	Records int `json:"records"`
	// Fitted is false for the prior model an index starts with.
	Fitted bool `json:"fitted"`

	asOf time.Time
	tf   tfTables // frequency tables of the fitted data, in e.fields order; nil after JSON
}

// FieldModel holds one field's m and u probabilities per agreement level (the "missing" level
// has none: it weighs nothing).
type FieldModel struct {
	Name   string    `json:"name"`
	Kind   Kind      `json:"kind"`
	Levels []string  `json:"levels"` // best first; the last is "disagree"
	M      []float64 `json:"m"`      // P(level | match)
	U      []float64 `json:"u"`      // P(level | non-match)
	// Parent names the field this one's u depends on, when random pairs showed the two
	// agreeing together far more often than chance would (relatives share surnames and a
	// town; a given name carries its sex; a town its country). When the parent agrees
	// exactly, UGivenParent replaces U, so the second agreement is not counted twice.
	Parent       string    `json:"parent,omitempty"`
	UGivenParent []float64 `json:"u_given_parent,omitempty"`
}

// Prior m and u per kind: what a linkage practitioner would guess before seeing data. They
// are the starting point of EM and the centre of its Dirichlet priors, and the model of an
// index that has not been fitted.
var (
	priorM = [...][]float64{
		kName:     {0.80, 0.03, 0.04, 0.05, 0.05, 0.01, 0.02},
		kDate:     {0.85, 0.02, 0.03, 0.03, 0.03, 0.04},
		kAge:      {0.55, 0.30, 0.10, 0.05},
		kNumber:   {0.90, 0.05, 0.05},
		kCode:     {0.90, 0.05, 0.05},
		kPlace:    {0.80, 0.03, 0.03, 0.04, 0.10},
		kText:     {0.70, 0.10, 0.10, 0.10},
		kCategory: {0.95, 0.05},
	}
	priorU = [...][]float64{
		kName:     {0.01, 0.001, 0.002, 0.01, 0.02, 0.03, 0.927},
		kDate:     {0.00005, 0.000005, 0.0005, 0.001, 0.015, 0.983445},
		kAge:      {0.03, 0.10, 0.12, 0.75},
		kNumber:   {0.01, 0.02, 0.97},
		kCode:     {0.001, 0.005, 0.994},
		kPlace:    {0.10, 0.005, 0.01, 0.01, 0.875},
		kText:     {0.005, 0.005, 0.05, 0.94},
		kCategory: {0.50, 0.50},
	}
)

// priorDupRate is the share of records assumed to have a duplicate before any fit.
const priorDupRate = 0.01

// priorModel returns the model an engine starts with.
func priorModel(e *engine, records int) *Model {
	m := &Model{Records: max(records, 2)}
	for i, f := range e.fields {
		k := e.kinds[i]
		fm := FieldModel{
			Name: f.Name, Kind: f.Kind,
			Levels: append([]string(nil), levelNames[k]...),
			M:      append([]float64(nil), priorM[k]...),
			U:      append([]float64(nil), priorU[k]...),
		}
		m.Fields = append(m.Fields, fm)
	}
	n := float64(m.Records)
	m.Lambda = priorDupRate * n / (n * (n - 1) / 2)
	return m
}

// field returns the model of the field named name with kind k, if the model has one whose
// levels fit.
func (m *Model) field(name string, k kind) (*FieldModel, bool) {
	for i := range m.Fields {
		fm := &m.Fields[i]
		if fm.Name == name && len(fm.M) == len(levelNames[k]) && len(fm.U) == len(fm.M) {
			return fm, true
		}
	}
	return nil, false
}

// Weight bounds: no single level may claim more than this many bits either way, so one
// field cannot outvote all the others on its own.
const (
	maxLevelWeight = 20
	minLevelWeight = -20
)

// levelWeights turns m and u into log2 weights, with sanity imposed: exact agreement weighs
// at least 1 bit and disagreement at most -0.5; every other level lies between the two. EM on
// messy data can find a "match" class that is really "same family", and a level that random
// pairs never reach has a u too small to trust; these clamps keep either from rewarding
// disagreement or from making a near miss weigh more than the real thing.
func levelWeights(m, u []float64) []float64 {
	w := make([]float64, len(m))
	for l := range m {
		w[l] = math.Log2(math.Max(m[l], 1e-9) / math.Max(u[l], 1e-9))
		w[l] = math.Min(math.Max(w[l], minLevelWeight), maxLevelWeight)
	}
	last := len(w) - 1
	w[0] = math.Max(w[0], 1)
	w[last] = math.Min(w[last], -0.5)
	for l := 1; l < last; l++ {
		w[l] = math.Min(math.Max(w[l], w[last]), w[0])
	}
	return w
}

// levelWeightsGiven is levelWeights for u conditioned on a parent's agreement: there the
// agreement may carry no evidence at all, so exact is only kept at or above 0 bits and
// disagreement at or below 0.
func levelWeightsGiven(m, u []float64) []float64 {
	w := make([]float64, len(m))
	for l := range m {
		w[l] = math.Log2(math.Max(m[l], 1e-9) / math.Max(u[l], 1e-9))
		w[l] = math.Min(math.Max(w[l], minLevelWeight), maxLevelWeight)
	}
	last := len(w) - 1
	w[0] = math.Max(w[0], 0)
	w[last] = math.Min(w[last], 0)
	for l := 1; l < last; l++ {
		w[l] = math.Min(math.Max(w[l], w[last]), w[0])
	}
	return w
}

// A scorer turns field comparisons into weights under one model.
type scorer struct {
	w      [][]float64 // per field, per level
	wc     [][]float64 // per field, per level, when the field's parent agrees exactly
	parent []int       // per field, its parent field, or -1
}

func newScorer(e *engine, m *Model) *scorer {
	s := &scorer{w: make([][]float64, e.nf), wc: make([][]float64, e.nf), parent: make([]int, e.nf)}
	for i, f := range e.fields {
		k := e.kinds[i]
		s.parent[i] = -1
		fm, ok := m.field(f.Name, k)
		if !ok {
			s.w[i] = levelWeights(priorM[k], priorU[k])
			continue
		}
		s.w[i] = levelWeights(fm.M, fm.U)
		if fm.Parent == "" || len(fm.UGivenParent) != len(fm.M) {
			continue
		}
		for j, g := range e.fields {
			if g.Name == fm.Parent && j != i {
				s.parent[i] = j
				s.wc[i] = levelWeightsGiven(fm.M, fm.UGivenParent)
			}
		}
	}
	return s
}

// fieldWeight is the weight of field i of a compared pair, with its term-frequency adjustment.
func (s *scorer) fieldWeight(i int, fcs []fieldCmp, tf tfTables) float64 {
	fc := &fcs[i]
	if fc.level == levelMissing {
		return 0
	}
	w := s.w[i]
	if p := s.parent[i]; p >= 0 && fcs[p].level == 0 {
		w = s.wc[i]
	}
	return w[fc.level] + tf.adj(i, fc)
}

// total is the match weight of a compared pair.
func (s *scorer) total(fcs []fieldCmp, tf tfTables) float64 {
	w := 0.0
	for i := range fcs {
		w += s.fieldWeight(i, fcs, tf)
	}
	return w
}

// rowWeight is the weight of a pair from its levels alone (no term frequencies).
func (s *scorer) rowWeight(row []uint8) float64 {
	w := 0.0
	for i, l := range row {
		if l == levelMissing {
			continue
		}
		ws := s.w[i]
		if p := s.parent[i]; p >= 0 && row[p] == 0 {
			ws = s.wc[i]
		}
		w += ws[l]
	}
	return w
}

// posterior is the match probability of a pair with weight w under prior lambda.
func posterior(w, lambda float64) float64 {
	return 1 / (1 + math.Exp2(-(w + logit2(lambda))))
}

// logit2 is log2(p/(1-p)), bounded away from infinities.
func logit2(p float64) float64 {
	p = math.Min(math.Max(p, 1e-300), 1-1e-12)
	return math.Log2(p) - math.Log1p(-p)/math.Ln2
}

// agreements explains compared fields.
func (s *scorer) agreements(e *engine, fcs []fieldCmp, tf tfTables) []Agreement {
	out := make([]Agreement, len(fcs))
	for i := range fcs {
		fc := &fcs[i]
		a := Agreement{Field: e.fields[i].Name, Level: "missing"}
		if fc.level != levelMissing {
			a.Level = levelNames[e.kinds[i]][fc.level]
			switch {
			case e.kinds[i] == kName && fc.level == lnExact && fc.swapped:
				a.Level = "swapped"
			case e.kinds[i] == kName && fc.level == lnSome:
				a.Level = "partial"
			}
			a.Weight = s.fieldWeight(i, fcs, tf)
		}
		out[i] = a
	}
	return out
}

// Explain says, field by field, how a and b compare under the model. Fields the model does not
// know are weighed with the prior; a record with too few values has the rest missing.
func (m *Model) Explain(fields []Field, a, b Record) []Agreement {
	e, err := newEngine(fields, m.asOf)
	if err != nil {
		out := make([]Agreement, len(fields))
		for i, f := range fields {
			out[i] = Agreement{Field: f.Name, Level: "missing"}
		}
		return out
	}
	fa, fb := e.featurize(a.Values), e.featurize(b.Values)
	fcs := make([]fieldCmp, e.nf)
	newComparer(e).compare(fa, fb, fcs)
	// The frequency tables follow m.Fields; line them up with fields by name.
	var tf tfTables
	if len(m.tf) == len(m.Fields) {
		tf = newTFTables(e.nf)
		for j, f := range e.fields {
			for i := range m.Fields {
				if m.Fields[i].Name == f.Name {
					tf[j] = m.tf[i]
				}
			}
		}
	}
	return newScorer(e, m).agreements(e, fcs, tf)
}
