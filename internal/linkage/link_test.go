package linkage_test

import (
	"encoding/json"
	"strings"
	"testing"

	"caravana/internal/linkage"
)

func TestLinkFebrlShapedSmall(t *testing.T) {
	left, right := febrlFiles(7, 1000)
	res, err := linkage.Link(febrlFields, left, right, linkage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := febrlScore(left, right, res)
	t.Logf("FEBRL-shaped 1000x1000: %v, %d candidates", x, res.Candidates)
	if x.F1 < 0.9 {
		t.Errorf("F1 %.3f, want at least 0.9", x.F1)
	}
	for i := 1; i < len(res.Pairs); i++ {
		a, b := res.Pairs[i-1], res.Pairs[i]
		if a.Probability < b.Probability || (a.Probability == b.Probability && (a.Left > b.Left || (a.Left == b.Left && a.Right > b.Right))) {
			t.Fatalf("pairs out of order at %d: %+v then %+v", i, a, b)
		}
		if b.Probability < 0.5 {
			t.Fatalf("pair below the default threshold: %+v", b)
		}
	}
}

func TestLinkErrors(t *testing.T) {
	good := []linkage.Record{{ID: "a", Values: []string{"Ana"}}}
	tests := []struct {
		name   string
		fields []linkage.Field
		left   []linkage.Record
		want   string
	}{
		{"no fields", nil, good, "no fields"},
		{"bad kind", []linkage.Field{{"x", "colour"}}, good, "colour"},
		{"twice", []linkage.Field{{"x", linkage.KindName}, {"x", linkage.KindDate}}, good, "twice"},
		{"ragged", []linkage.Field{{"x", linkage.KindName}}, []linkage.Record{{ID: "b", Values: []string{"a", "b"}}}, `record 1 (id "b")`},
	}
	for _, tt := range tests {
		_, err := linkage.Link(tt.fields, tt.left, good, linkage.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Link error %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	if _, err := linkage.Dedup([]linkage.Field{{"x", linkage.KindName}}, []linkage.Record{{ID: "b"}}, linkage.Options{}); err == nil {
		t.Error("Dedup accepted a record without values")
	}
}

func TestLinkProgressAndThreshold(t *testing.T) {
	left, right := febrlFiles(3, 300)
	var calls, last, total int
	res, err := linkage.Link(febrlFields, left, right, linkage.Options{Threshold: 0.9, Progress: func(done, tot int) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		calls++
		last, total = done, tot
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != total {
		t.Errorf("progress: %d calls, ended at %d of %d", calls, last, total)
	}
	for _, p := range res.Pairs {
		if p.Probability < 0.9 {
			t.Fatalf("pair %+v below the 0.9 threshold", p)
		}
	}
	if res.Candidates < len(res.Pairs) || res.Model == nil || !res.Model.Fitted {
		t.Errorf("Candidates %d, pairs %d, model %+v", res.Candidates, len(res.Pairs), res.Model)
	}
}

func TestDedupFindsDuplicates(t *testing.T) {
	left, right := febrlFiles(5, 400)
	all := append(left, right[:100]...)
	res, err := linkage.Dedup(febrlFields, all, linkage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := 0
	for _, p := range res.Pairs {
		if p.Left >= p.Right {
			t.Fatalf("pair %+v: want Left < Right", p)
		}
		if strings.TrimSuffix(all[p.Left].ID, "-org") == strings.TrimSuffix(all[p.Right].ID, "-dup-0") {
			tp++
		}
	}
	x := newPRF(tp, len(res.Pairs), 100)
	t.Logf("dedup of 500 FEBRL-shaped records with 100 duplicates: %v", x)
	if x.F1 < 0.85 {
		t.Errorf("F1 %.3f, want at least 0.85", x.F1)
	}
}

// TestModelJSONAndExplain round-trips a fitted model through JSON and checks that Explain
// tells the same story before and after (without term frequencies after).
func TestModelJSONAndExplain(t *testing.T) {
	left, right := febrlFiles(9, 500)
	res, err := linkage.Link(febrlFields, left, right, linkage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.Model)
	if err != nil {
		t.Fatal(err)
	}
	var m linkage.Model
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Lambda != res.Model.Lambda || len(m.Fields) != len(febrlFields) || m.Fields[0].M[0] != res.Model.Fields[0].M[0] {
		t.Fatalf("round trip changed the model: %+v", m)
	}
	p := res.Pairs[0]
	total := 0.0
	for _, ag := range res.Model.Explain(febrlFields, left[p.Left], right[p.Right]) {
		total += ag.Weight
	}
	if d := total - p.Weight; d > 1e-6 || d < -1e-6 {
		t.Errorf("Explain weights sum to %v, the pair weighs %v", total, p.Weight)
	}
	before := res.Model.Explain(febrlFields, left[p.Left], right[p.Right])
	after := m.Explain(febrlFields, left[p.Left], right[p.Right])
	for i := range before {
		if before[i].Field != after[i].Field || before[i].Level != after[i].Level {
			t.Errorf("field %d: %+v before JSON, %+v after", i, before[i], after[i])
		}
	}
	a := linkage.Record{ID: "a", Values: []string{"Ana", "", "", "", "", "", "", "", "", ""}}
	missing := res.Model.Explain(febrlFields, a, a)
	if missing[0].Level != "exact" || missing[1].Level != "missing" || missing[1].Weight != 0 {
		t.Errorf("Explain of a sparse record: %+v", missing[:2])
	}
}

func TestLinkEmptyInputs(t *testing.T) {
	one := []linkage.Record{{ID: "a", Values: []string{"Ana", "López", "", "", "", "", ""}}}
	for _, c := range []struct{ l, r []linkage.Record }{{nil, nil}, {one, nil}, {nil, one}, {one, one}} {
		res, err := linkage.Link(linkage.PersonFields, c.l, c.r, linkage.Options{})
		if err != nil || res.Model == nil {
			t.Errorf("Link(%d, %d): %v, %+v", len(c.l), len(c.r), err, res)
		}
	}
	for _, recs := range [][]linkage.Record{nil, one} {
		res, err := linkage.Dedup(linkage.PersonFields, recs, linkage.Options{})
		if err != nil || len(res.Pairs) != 0 {
			t.Errorf("Dedup(%d): %v, %+v", len(recs), err, res)
		}
	}
}
