package linkcsv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"caravana/internal/linkage"
)

func repeat(n int, vals ...string) []string {
	var out []string
	for i := range n {
		out = append(out, vals[i%len(vals)])
	}
	return out
}

func seq(n int, format string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

func TestInferKind(t *testing.T) {
	words := repeat(50, "ana", "luis", "maria", "jose", "pedro", "karla", "juan", "rosa", "elena", "mario", "lucia", "jorge", "sara", "ivan", "olga", "raul", "eva", "hugo", "ines", "noel", "alba", "tito")
	tests := []struct {
		column string
		values []string
		want   linkage.Kind
		source string
	}{
		// By the column's name, in English and Spanish, any case or style.
		{"given_name", nil, linkage.KindName, "column name"},
		{"First Name", nil, linkage.KindName, "column name"},
		{"firstName", nil, linkage.KindName, "column name"},
		{"nombre", nil, linkage.KindName, "column name"},
		{"surname", nil, linkage.KindName, "column name"},
		{"Apellido Paterno", nil, linkage.KindName, "column name"},
		{"segundo_apellido", nil, linkage.KindName, "column name"},
		{"date_of_birth", nil, linkage.KindDate, "column name"},
		{"DOB", nil, linkage.KindDate, "column name"},
		{"Fecha de Nacimiento", nil, linkage.KindDate, "column name"},
		{"fecha_registro", nil, linkage.KindDate, "column name"},
		{"arrival_date", nil, linkage.KindDate, "column name"},
		{"postcode", repeat(50, "4223"), linkage.KindCode, "column name"},
		{"zip", nil, linkage.KindCode, "column name"},
		{"soc_sec_id", nil, linkage.KindCode, "column name"},
		{"phone", nil, linkage.KindCode, "column name"},
		{"Teléfono", nil, linkage.KindCode, "column name"},
		{"household_id", nil, linkage.KindCode, "column name"},
		{"phone_number", nil, linkage.KindCode, "column name"},
		{"street_number", nil, linkage.KindNumber, "column name"},
		{"numero_casa", nil, linkage.KindNumber, "column name"},
		{"suburb", nil, linkage.KindPlace, "column name"},
		{"city", nil, linkage.KindPlace, "column name"},
		{"ciudad", nil, linkage.KindPlace, "column name"},
		{"municipio", nil, linkage.KindPlace, "column name"},
		{"lugar_de_origen", nil, linkage.KindPlace, "column name"},
		{"address_1", nil, linkage.KindText, "column name"},
		{"Dirección", nil, linkage.KindText, "column name"},
		{"sex", nil, linkage.KindCategory, "column name"},
		{"sexo", nil, linkage.KindCategory, "column name"},
		{"gender", nil, linkage.KindCategory, "column name"},
		{"nacionalidad", nil, linkage.KindCategory, "column name"},
		{"age", nil, linkage.KindAge, "column name"},
		{"Edad", nil, linkage.KindAge, "column name"},
		// A state is a category when it holds a few codes, else a place.
		{"state", repeat(200, "nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"), linkage.KindCategory, "column name and values"},
		{"state", append(repeat(200, "nsw", "vic", "qld", "wa"), "nws", "aw", "vci"), linkage.KindCategory, "column name and values"},
		{"estado", seq(100, "estado %d"), linkage.KindPlace, "column name and values"},
		// By the values when the name says nothing.
		{"f1", repeat(40, "19151111", "19860208", "20010230", ""), linkage.KindDate, "values"},
		{"f2", repeat(40, "1990-01-31", "2001-12-01"), linkage.KindDate, "values"},
		{"f3", repeat(40, "31/01/1990", "01/12/2001"), linkage.KindDate, "values"},
		{"f4", seq(100, "%07d"), linkage.KindCode, "values"},
		{"f5", seq(100, "5%06d"), linkage.KindCode, "values"},
		{"f6", seq(100, "+52 962 %03d 4567"), linkage.KindCode, "values"},
		{"f7", seq(100, "%d"), linkage.KindNumber, "values"},
		{"f8", seq(100, "%d.5"), linkage.KindNumber, "values"},
		{"f9", repeat(100, "F", "M", "M", ""), linkage.KindCategory, "values"},
		{"f10", repeat(100, "si", "no", "no se"), linkage.KindCategory, "values"},
		{"f11", seq(100, "calle %d poniente"), linkage.KindText, "values"},
		{"f12", seq(100, "AB%dX"), linkage.KindCode, "values"},
		{"f13", words, linkage.KindText, "values"},
		{"f14", []string{"", "", ""}, linkage.KindText, "values"},
		{"f15", []string{"F", "M"}, linkage.KindText, "values"}, // too few to call a category
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			got, source := inferKind(tt.column, tt.values)
			if got != tt.want || source != tt.source {
				t.Errorf("inferKind(%q) = %s (%s), want %s (%s)", tt.column, got, source, tt.want, tt.source)
			}
		})
	}
}

func TestInferFebrlColumns(t *testing.T) {
	l, r := febrlLink(3, 500)
	dir := t.TempDir()
	left, right := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	writeFebrl(t, left, l)
	writeFebrl(t, right, r)
	ta, err := ReadFile(left, "")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := ReadFile(right, "")
	if err != nil {
		t.Fatal(err)
	}
	fields, err := PlanFields([]*Table{ta, tb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Name+":"+string(f.Kind))
	}
	want := "given_name:name surname:name street_number:number address_1:text address_2:text suburb:place postcode:code state:category date_of_birth:date soc_sec_id:code"
	if strings.Join(got, " ") != want {
		t.Errorf("FEBRL fields\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestPlanFields(t *testing.T) {
	read := func(name, content string) *Table {
		t.Helper()
		tab, err := Read(strings.NewReader(content), name, "")
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	a := read("a.csv", "id,Nombre,apellido,edad,notas,solo_a\n1,Ana,Pérez,30,x,1\n")
	b := read("b.csv", "folio,APELLIDO,nombre,notas,edad\n9,Pérez,Ana,y,31\n")
	tests := []struct {
		name   string
		tables []*Table
		specs  []string
		want   string // fields as name:kind:source
		err    string
		usage  bool
	}{
		{name: "shared columns in the first file's order", tables: []*Table{a, b},
			want: "Nombre:name:column name apellido:name:column name edad:age:column name notas:text:values"},
		{name: "dedup compares every column but the id", tables: []*Table{a},
			want: "Nombre:name:column name apellido:name:column name edad:age:column name notas:text:values solo_a:number:values"},
		{name: "flags set and skip", tables: []*Table{a, b}, specs: []string{"NOTAS:skip", "edad:Number"},
			want: "Nombre:name:column name apellido:name:column name edad:number:flag"},
		{name: "unknown kind", tables: []*Table{a, b}, specs: []string{"edad:years"}, err: `--field edad:years: unknown field kind "years"`, usage: true},
		{name: "no kind", tables: []*Table{a, b}, specs: []string{"edad"}, err: `--field "edad": want COLUMN:KIND`, usage: true},
		{name: "given twice", tables: []*Table{a, b}, specs: []string{"edad:age", "EDAD:number"}, err: "column EDAD is already given as --field edad:age", usage: true},
		{name: "column missing from the right file", tables: []*Table{a, b}, specs: []string{"solo_a:code"},
			err: `b.csv:1: no column "solo_a" for --field solo_a:code (the columns are folio, APELLIDO, nombre, notas, edad)`, usage: true},
		{name: "the id column", tables: []*Table{a, b}, specs: []string{"id:code"}, err: "a.csv:1: --field id:code names the id column", usage: true},
		{name: "nothing shared", tables: []*Table{a, read("c.csv", "id,x\n1,2\n")},
			err: "a.csv:1: a.csv and c.csv share no column to compare besides the id"},
		{name: "nothing but the id", tables: []*Table{read("d.csv", "id\n1\n")}, err: "d.csv:1: no column to compare besides the id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := PlanFields(tt.tables, tt.specs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || errors.Is(err, ErrUsage) != tt.usage {
					t.Fatalf("error %v, want %q (usage %v)", err, tt.err, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fields {
				got = append(got, f.Name+":"+string(f.Kind)+":"+f.Source)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("fields\n got %s\nwant %s", strings.Join(got, " "), tt.want)
			}
			// Records carry each file's values in the fields' order.
			for ti, tab := range tt.tables {
				recs := Records(tab, ti, fields)
				for fi, f := range fields {
					if v := recs[0].Values[fi]; v != tab.Rows[0][tab.Column(f.Name)] {
						t.Errorf("%s record 0 field %s = %q", tab.File, f.Name, v)
					}
				}
			}
		})
	}
}

func TestRunUsageMistakes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	writeFile(t, a, "id,name\n1,ana\n")
	writeFile(t, b, "id,name\n2,ana\n")
	out := filepath.Join(dir, "pairs.csv")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"threshold zero", Config{Left: a, Right: b, Out: out}, "the threshold must be above 0 and at most 1, not 0"},
		{"threshold above one", Config{Left: a, Right: b, Out: out, Threshold: 1.5}, "not 1.5"},
		{"output over an input", Config{Left: a, Right: b, Out: b, Threshold: 0.5}, "the output " + b + " is also an input"},
		{"output over the dedup input", Config{Left: a, Out: filepath.Join(dir, ".", "a.csv"), Threshold: 0.5}, "is also an input"},
		{"unknown kind", Config{Left: a, Right: b, Out: out, Threshold: 0.5, Fields: []string{"name:person"}}, `unknown field kind "person"`},
		{"no output", Config{Left: a, Right: b, Threshold: 0.5}, "an input file and an output file are needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v, want a usage error containing %q", err, tt.want)
			}
			checkOutput(t, out, false)
		})
	}
	// A missing input or output folder is an error, not a usage mistake.
	for _, cfg := range []Config{
		{Left: filepath.Join(dir, "missing.csv"), Right: b, Out: out, Threshold: 0.5},
		{Left: a, Right: b, Out: filepath.Join(dir, "no", "pairs.csv"), Threshold: 0.5},
	} {
		if _, err := Run(cfg); err == nil || errors.Is(err, ErrUsage) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Run(%+v): %v, want a not-exist error", cfg, err)
		}
		checkOutput(t, out, false)
	}
}
