package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runMain runs the command line exactly as the binary does.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// linkPeople writes two small lists of the same people, as a shelter and
// a partner might keep them: the second with typos, dropped accents,
// swapped surnames, a nickname, missing values and a few people of its
// own. Ids sharing the number after "p" are the same person.
func linkPeople(t *testing.T, dir string) (left, right string, truth int) {
	t.Helper()
	given := []string{"José Luis", "María", "Guadalupe", "Francisco", "Ana", "Jesús", "Rosa", "Carlos", "Karla", "Eduardo", "Sofía", "Miguel", "Lucía", "Jorge", "Elena", "Pedro"}
	sur := []string{"García", "Hernández", "López", "Martínez", "Pérez", "Ramírez", "Cruz", "Flores", "Reyes", "Morales", "Ortiz", "Castillo", "Mejía", "Orellana", "Zelaya", "Funes", "Ayala", "Portillo"}
	towns := []string{"San Pedro Sula", "Tegucigalpa", "Choloma", "La Ceiba", "Santa Ana", "Comayagua", "Quetzaltenango", "Escuintla", "El Progreso", "Danlí", "Usulután", "Chalatenango"}
	var l, r strings.Builder
	l.WriteString("\xef\xbb\xbfid,nombre,apellidos,fecha_nacimiento,sexo,municipio,telefono\r\n")
	r.WriteString("Folio, Nombre, Apellidos, Fecha_Nacimiento, Sexo, Municipio, Telefono\n")
	for i := range 120 {
		g, s1, s2 := given[i%len(given)], sur[(i*7)%len(sur)], sur[(i*5+3)%len(sur)]
		birth := fmt.Sprintf("%04d-%02d-%02d", 1960+i%45, 1+i%12, 1+(i*3)%28)
		sex := "F"
		if i%2 == 0 {
			sex = "M"
		}
		town := towns[(i*11)%len(towns)]
		phone := fmt.Sprintf("5%07d", 1000000+i*7919)
		fmt.Fprintf(&l, "p%d,%s,%s %s,%s,%s,%s,%s\r\n", i, g, s1, s2, birth, sex, town, phone)
		if i%4 == 3 {
			continue // not in the partner's list
		}
		truth++
		rg, rs, rb, rt, rp := strings.ToUpper(g), s1+" "+s2, birth, town, phone
		switch i % 8 {
		case 0:
			rs = s2 + " " + s1 // surnames swapped
		case 1:
			rg = g[:len(g)-1] + "x" // a typo
		case 2:
			rb = birth[:5] + birth[8:] + birth[4:7] // day and month swapped
		case 4:
			rs = s1 // one surname only
		case 5:
			rp, rt = "", "" // unknown
		case 6:
			rs = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u").Replace(s1 + " " + s2)
		}
		fmt.Fprintf(&r, "q%d-%d, %s, %s, %s, %s, %s, %s\n", i, i, rg, rs, rb, sex, rt, rp)
	}
	for i := range 30 { // the partner's own people
		fmt.Fprintf(&r, "x%d, %s, %s %s, %04d-01-%02d, F, %s, \n", i, given[(i*3)%len(given)], sur[(i*11+1)%len(sur)], sur[(i*13+5)%len(sur)], 2000+i%20, 1+i%28, towns[i%len(towns)])
	}
	left, right = filepath.Join(dir, "albergue.csv"), filepath.Join(dir, "socio.csv")
	if err := os.WriteFile(left, []byte(l.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(right, []byte(r.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return left, right, truth
}

// samePerson tells whether a left id (p12) and a right id (q12-12) are
// the same person in linkPeople's files.
func samePerson(a, b string) bool {
	na, nb := strings.TrimPrefix(a, "p"), strings.TrimPrefix(b, "q")
	return strings.HasPrefix(nb, na+"-")
}

// readPairs reads a pairs file and checks its shape: the header, ids,
// probabilities with four decimals at or above min, best first.
func readPairs(t *testing.T, path string, min float64) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "left_id,right_id,probability" {
		t.Fatalf("pairs header: %q", rows)
	}
	prev := 2.0
	for _, r := range rows[1:] {
		p, err := strconv.ParseFloat(r[2], 64)
		if err != nil || len(r[2]) != 6 || p < min-0.00005 || p > prev || r[0] == "" || r[1] == "" {
			t.Fatalf("bad or unsorted pair %q after %v", r, prev)
		}
		prev = p
	}
	return rows[1:]
}

func TestLinkCommand(t *testing.T) {
	dir := t.TempDir()
	left, right, truth := linkPeople(t, dir)
	out := filepath.Join(dir, "pares.csv")

	code, stdout, stderr := runMain(t, "link", "--left", left, "--right", right, "--out", out)
	if code != 0 {
		t.Fatalf("link: exit %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("link wrote to stdout: %q", stdout)
	}
	for _, want := range []string{"linked " + left + " (120 records) with " + right + " (120 records)", "6 fields",
		"nombre:name", "apellidos:name", "fecha_nacimiento:date", "sexo:category", "municipio:place", "telefono:code",
		"candidate pairs compared", "written to " + out} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	pairs := readPairs(t, out, 0.5)
	tp := 0
	for _, p := range pairs {
		if samePerson(p[0], p[1]) {
			tp++
		}
	}
	if tp < truth*8/10 || tp < len(pairs)*8/10 {
		t.Errorf("%d pairs written, %d true of %d: want most found and most right", len(pairs), tp, truth)
	}

	// --json: the summary on stdout; a higher threshold writes fewer pairs.
	code, stdout, stderr = runMain(t, "link", "--left", left, "--right", right, "-o", out, "--threshold", "0.99", "--json")
	var s struct {
		Mode   string
		Inputs []struct {
			File    string
			Records int
		}
		Fields []struct{ Name, Kind, Source string }
		Pairs  int
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &s) != nil {
		t.Fatalf("link --json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	strict := readPairs(t, out, 0.99)
	if s.Mode != "link" || len(s.Inputs) != 2 || s.Inputs[1].Records != 120 || len(s.Fields) != 6 || s.Pairs != len(strict) || len(strict) > len(pairs) {
		t.Errorf("link --json summary %+v; %d pairs written, %d at 0.5", s, len(strict), len(pairs))
	}

	// --field sets kinds and leaves columns out; --id picks the id column.
	code, _, stderr = runMain(t, "link", "--left", left, "--right", right, "--out", out, "--id", "ID",
		"--field", "telefono:skip", "--field", "MUNICIPIO:text")
	if code == 0 {
		t.Errorf("--id ID linked files whose right id column is Folio")
	}
	if !strings.Contains(stderr, right+":1: no column \"ID\" for --id") {
		t.Errorf("--id missing from the right file: %s", stderr)
	}
	code, _, stderr = runMain(t, "link", "--left", left, "--right", right, "--out", out, "--field", "telefono:skip", "--field", "MUNICIPIO:text")
	if code != 0 || !strings.Contains(stderr, "5 fields") || !strings.Contains(stderr, "municipio:text") || strings.Contains(stderr, "telefono") {
		t.Errorf("--field: exit %d\n%s", code, stderr)
	}
}

func TestLinkDedupCommand(t *testing.T) {
	dir := t.TempDir()
	_, right, _ := linkPeople(t, dir)
	// The partner's list with some of its people entered twice.
	data, _ := os.ReadFile(right)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var b strings.Builder
	b.WriteString(strings.Join(lines, "\n") + "\n")
	twice := 0
	for i, l := range lines[1:80] {
		if i%5 == 0 {
			id, rest, _ := strings.Cut(l, ",")
			fmt.Fprintf(&b, "%s-again,%s\n", id, strings.Replace(rest, "a", "á", 1))
			twice++
		}
	}
	in, out := filepath.Join(dir, "registro.csv"), filepath.Join(dir, "duplicados.csv")
	os.WriteFile(in, []byte(b.String()), 0o600)
	code, _, stderr := runMain(t, "link", "--dedup", in, "--out", out)
	if code != 0 || !strings.Contains(stderr, "deduplicated "+in) {
		t.Fatalf("dedup: exit %d\n%s", code, stderr)
	}
	found := 0
	for _, p := range readPairs(t, out, 0.5) {
		if strings.TrimSuffix(p[0], "-again") == strings.TrimSuffix(p[1], "-again") {
			found++
		}
	}
	if found < twice*8/10 {
		t.Errorf("dedup found %d of %d people entered twice", found, twice)
	}
}

func TestLinkCommandMistakes(t *testing.T) {
	dir := t.TempDir()
	left, right, _ := linkPeople(t, dir)
	out := filepath.Join(dir, "pairs.csv")
	ragged := filepath.Join(dir, "ragged.csv")
	os.WriteFile(ragged, []byte("id,nombre\n1,Ana\n2,Luis,extra\n"), 0o600)
	latin1 := filepath.Join(dir, "latin1.csv")
	os.WriteFile(latin1, []byte("id,nombre\n1,Ana\n2,Jos\xe9\n"), 0o600)
	dupID := filepath.Join(dir, "dup.csv")
	os.WriteFile(dupID, []byte("id,nombre\n1,Ana\n2,Luis\n1,Rosa\n"), 0o600)
	noHeader := filepath.Join(dir, "noheader.csv")
	os.WriteFile(noHeader, []byte("1,Ana,1990-01-01\n2,Luis,1991-02-02\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to link", []string{"link", "--out", out}, 2, "give --left and --right"},
		{"only a left file", []string{"link", "--left", left, "--out", out}, 2, "give --left and --right"},
		{"both modes", []string{"link", "--dedup", left, "--left", left, "--right", right, "--out", out}, 2, "not both"},
		{"no output", []string{"link", "--left", left, "--right", right}, 2, "--out is required"},
		{"unknown kind", []string{"link", "--left", left, "--right", right, "--out", out, "--field", "nombre:person"}, 2, `unknown field kind "person"`},
		{"missing --field column", []string{"link", "--left", left, "--right", right, "--out", out, "--field", "edad:age"}, 2, left + `:1: no column "edad" for --field edad:age`},
		{"bad threshold", []string{"link", "--left", left, "--right", right, "--out", out, "--threshold", "1.5"}, 2, "threshold"},
		{"threshold not a number", []string{"link", "--left", left, "--right", right, "--out", out, "--threshold", "alta"}, 2, "invalid argument"},
		{"output over an input", []string{"link", "--left", left, "--right", right, "--out", right}, 2, "is also an input"},
		{"stray argument", []string{"link", "--left", left, "--right", right, "--out", out, "extra"}, 2, "unknown command"},
		{"ragged row", []string{"link", "--left", ragged, "--right", right, "--out", out}, 1, ragged + ":3: row has 3 fields, the header has 2"},
		{"bad encoding", []string{"link", "--dedup", latin1, "--out", out}, 1, latin1 + ":3: field 2 is not valid UTF-8"},
		{"duplicate id", []string{"link", "--left", left, "--right", dupID, "--out", out}, 1, dupID + `:4: duplicate id "1", also on line 2`},
		{"no header", []string{"link", "--dedup", noHeader, "--out", out}, 1, noHeader + ":1: the first row looks like data"},
		{"missing input", []string{"link", "--dedup", filepath.Join(dir, "nada.csv"), "--out", out}, 1, "no such file"},
	}
	const previous = "left_id,right_id,probability\nold,older,0.9000\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(out, []byte(previous), 0o600)
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", code, tt.code, stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout: %q", stdout)
			}
			if data, _ := os.ReadFile(out); string(data) != previous {
				t.Errorf("existing output changed: %q", data)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(m) > 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
	// A failure when no output existed leaves none.
	os.Remove(out)
	if code, _, _ := runMain(t, "link", "--left", ragged, "--right", right, "--out", out); code != 1 {
		t.Errorf("ragged: exit %d", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed link left an output: %v", err)
	}
}

func TestLinkHelp(t *testing.T) {
	code, stdout, _ := runMain(t, "link", "--help")
	for _, want := range []string{"--left", "--right", "--dedup", "--out", "--id", "--field", "--threshold", "left_id,right_id,probability", "caravana link --dedup"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("link --help (exit %d) lacks %q", code, want)
		}
	}
}

func TestLinkProgressBar(t *testing.T) {
	var errb bytes.Buffer
	app := &App{Stderr: &errb}
	quick := app.linkProgress()
	quick.report(1, 10)
	quick.finish()
	if errb.Len() != 0 {
		t.Errorf("a bar for quick work: %q", errb.String())
	}
	slow := app.linkProgress()
	slow.start = slow.start.Add(-time.Second)
	for done := range 11 {
		slow.report(done*1000, 10000)
	}
	slow.finish()
	if !strings.Contains(errb.String(), "linking") || !strings.Contains(errb.String(), "/10000)") {
		t.Errorf("no bar for slow work: %q", errb.String())
	}
	app.JSON = true
	errb.Reset()
	silent := app.linkProgress()
	silent.start = silent.start.Add(-time.Second)
	silent.report(5, 10)
	silent.finish()
	if errb.Len() != 0 {
		t.Errorf("a bar with --json: %q", errb.String())
	}
}
