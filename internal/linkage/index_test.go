package linkage_test

import (
	"fmt"
	"sync"
	"testing"

	"caravana/internal/linkage"
)

func person(id, given, surnames, birth, sex, town string) linkage.Record {
	return linkage.Record{ID: id, Values: []string{given, surnames, birth, "", sex, town, "HN"}}
}

func TestIndexBasics(t *testing.T) {
	ix := linkage.NewIndex(linkage.PersonFields)
	ix.SetAsOf(asOf)
	ix.Put(person("a", "José Luis", "Hernández López", "1985-03-14", "M", "Choloma"))
	ix.Put(person("b", "María", "García Pérez", "1990-07-01", "F", "Tegucigalpa"))
	ix.Put(person("c", "Ana", "Cruz", "2001-01-09", "F", "La Ceiba"))
	if ix.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ix.Len())
	}
	report := linkage.Record{ID: "r", Values: []string{"Pepe", "Lopez Hernandez", "", "33", "M", "Choloma", ""}}
	ms := ix.Query(report, 5, 0.5)
	if len(ms) != 1 || ms[0].ID != "a" {
		t.Fatalf("Query = %+v, want a", ms)
	}
	levels := map[string]string{}
	for _, f := range ms[0].Fields {
		levels[f.Field] = f.Level
	}
	if levels["given_names"] != "partial" || levels["surnames"] != "swapped" || levels["age"] != "exact" || levels["birth_date"] != "missing" {
		t.Errorf("explanation %+v", ms[0].Fields)
	}

	// Replace a: the old values must be gone from the postings.
	ix.Put(person("a", "Carlos", "Ramos", "1970-01-01", "M", "Danlí"))
	if ix.Len() != 3 {
		t.Errorf("Len after replacing = %d, want 3", ix.Len())
	}
	if ms := ix.Query(report, 5, 0.5); len(ms) != 0 {
		t.Errorf("Query after replacing a = %+v, want nothing", ms)
	}
	ix.Delete("b")
	ix.Delete("nobody")
	if ix.Len() != 2 {
		t.Errorf("Len after delete = %d, want 2", ix.Len())
	}
	if ms := ix.Query(person("x", "María", "García Pérez", "1990-07-01", "F", "Tegucigalpa"), 5, 0); len(ms) != 0 {
		t.Errorf("deleted b still found: %+v", ms)
	}
	// A record is not its own match.
	if ms := ix.Query(person("c", "Ana", "Cruz", "2001-01-09", "F", "La Ceiba"), 5, 0); len(ms) != 0 {
		t.Errorf("c matched itself: %+v", ms)
	}
	if ms := ix.Query(report, 0, 0); ms != nil {
		t.Errorf("k = 0 gave %+v", ms)
	}
}

func TestIndexModel(t *testing.T) {
	ix := linkage.NewIndex(linkage.PersonFields)
	if m := ix.Model(); m == nil || m.Fitted || len(m.Fields) != len(linkage.PersonFields) {
		t.Fatalf("prior model %+v", m)
	}
	if _, err := ix.Fit(); err == nil {
		t.Error("Fit of an empty index succeeded")
	}
	ix2, _ := registryIndex(t, 5, 800)
	m, err := ix2.Fit()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Fitted || ix2.Model() != m {
		t.Errorf("Fit did not set the model")
	}
	ix.SetModel(m)
	if ix.Model() != m {
		t.Error("SetModel did not set the model")
	}
	ix.SetModel(nil)
	if ix.Model().Fitted {
		t.Error("SetModel(nil) did not restore the prior")
	}
}

func TestNewIndexPanicsOnBadSchema(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewIndex accepted a field of unknown kind")
		}
	}()
	linkage.NewIndex([]linkage.Field{{"x", "colour"}})
}

// TestIndexConcurrent runs queries while records arrive and leave (run with -race).
func TestIndexConcurrent(t *testing.T) {
	ix, c := registryIndex(t, 6, 500)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p := c.People[(w*50+i)%len(c.People)]
				switch w {
				case 0:
					ix.Put(person(fmt.Sprintf("new%d", i), p.GivenNames, p.Surname1, "", p.Sex, p.OriginTown))
				case 1:
					ix.Delete(personID(i))
				default:
					for _, m := range ix.Query(person("q", p.GivenNames, p.Surname1+" "+p.Surname2, "", p.Sex, ""), 5, 0) {
						if m.Probability < 0 || m.Probability > 1 {
							t.Errorf("probability %v", m.Probability)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if ix.Len() != 500-50+50 {
		t.Errorf("Len = %d, want 500", ix.Len())
	}
}
