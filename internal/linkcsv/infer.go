package linkcsv

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"caravana/internal/linkage"
	"caravana/internal/names"
)

// KindSkip, given as --field COL:skip, leaves a shared column out of the
// comparison (a notes column, say).
const KindSkip = "skip"

// Field is one comparison field: a column present in every input file,
// and how its values are compared.
type Field struct {
	Name   string       // as in the first file's header
	Kind   linkage.Kind // how values are compared
	Source string       // how the kind was chosen: "flag", "column name", "values" or "column name and values"
	cols   []int        // the column's index in each table
}

// PlanFields chooses the comparison fields for tables (one file for
// dedup, two for linkage): every non-id column the files share (by name,
// trimmed, case-insensitive), with its kind from specs ("COL:KIND",
// repeatable; KIND may be "skip"), else inferred from the column's name,
// else from its values.
func PlanFields(tables []*Table, specs []string) ([]Field, error) {
	given, err := parseSpecs(specs)
	if err != nil {
		return nil, err
	}
	first := tables[0]
	// Every --field column must be a compared column of every file.
	for _, s := range given {
		for _, t := range tables {
			switch t.Column(s.col) {
			case -1:
				return nil, usageErr(t.File, t.HeaderLine, "no column %q for --field %s (the columns are %s)", s.col, s.spec, strings.Join(t.Columns, ", "))
			case t.IDCol:
				return nil, usageErr(t.File, t.HeaderLine, "--field %s names the id column, which is never compared", s.spec)
			}
		}
	}
	var fields []Field
	for ci, name := range first.Columns {
		if ci == first.IDCol {
			continue
		}
		f := Field{Name: name, cols: []int{ci}}
		shared := true
		for _, t := range tables[1:] {
			j := t.Column(name)
			if j < 0 || j == t.IDCol {
				shared = false
				break
			}
			f.cols = append(f.cols, j)
		}
		if !shared {
			continue
		}
		if s, ok := given[strings.ToLower(name)]; ok {
			if s.kind == KindSkip {
				continue
			}
			f.Kind, f.Source = linkage.Kind(s.kind), "flag"
		} else {
			var values []string
			for ti, t := range tables {
				for _, row := range t.Rows {
					values = append(values, row[f.cols[ti]])
				}
			}
			f.Kind, f.Source = inferKind(name, values)
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		var files []string
		for _, t := range tables {
			files = append(files, t.File)
		}
		if len(tables) == 1 {
			return nil, fileErr(first.File, first.HeaderLine, "no column to compare besides the id %s", first.Columns[first.IDCol])
		}
		return nil, fileErr(first.File, first.HeaderLine, "%s share no column to compare besides the id (name the same column the same way in both headers)", strings.Join(files, " and "))
	}
	return fields, nil
}

// Records returns table t (the ti-th of those given to PlanFields) as
// engine records holding the values of fields.
func Records(t *Table, ti int, fields []Field) []linkage.Record {
	recs := make([]linkage.Record, len(t.Rows))
	flat := make([]string, len(t.Rows)*len(fields)) // one allocation for all values
	for i, row := range t.Rows {
		vals := flat[i*len(fields) : (i+1)*len(fields) : (i+1)*len(fields)]
		for fi, f := range fields {
			vals[fi] = row[f.cols[ti]]
		}
		recs[i] = linkage.Record{ID: row[t.IDCol], Values: vals}
	}
	return recs
}

// EngineFields returns the fields as the engine takes them.
func EngineFields(fields []Field) []linkage.Field {
	out := make([]linkage.Field, len(fields))
	for i, f := range fields {
		out[i] = linkage.Field{Name: f.Name, Kind: f.Kind}
	}
	return out
}

type spec struct{ spec, col, kind string }

// parseSpecs reads --field COL:KIND flags, keyed by lowercased column.
func parseSpecs(specs []string) (map[string]spec, error) {
	out := make(map[string]spec, len(specs))
	for _, s := range specs {
		i := strings.LastIndexByte(s, ':')
		if i <= 0 || i == len(s)-1 {
			return nil, usagef("--field %q: want COLUMN:KIND, e.g. nombre:name", s)
		}
		col, kind := strings.TrimSpace(s[:i]), strings.ToLower(strings.TrimSpace(s[i+1:]))
		if kind != KindSkip {
			k, err := linkage.ParseKind(kind)
			if err != nil {
				return nil, usagef("--field %s: %v; or skip, to leave the column out", s, err)
			}
			kind = string(k)
		}
		key := strings.ToLower(col)
		if prev, dup := out[key]; dup {
			return nil, usagef("--field %s: column %s is already given as --field %s", s, col, prev.spec)
		}
		out[key] = spec{spec: s, col: col, kind: kind}
	}
	return out, nil
}

// byName maps normalised column names to kinds. "region" stands for
// columns that are a category when they hold few distinct values (state
// codes) and a place otherwise.
var byName = map[string]linkage.Kind{}

const region linkage.Kind = "region"

func init() {
	add := func(k linkage.Kind, keys string) {
		for _, key := range strings.Fields(keys) {
			byName[key] = k
		}
	}
	add(linkage.KindName, `given_name given_names givenname first_name firstname forename forenames given
		middle_name middle_names other_names surname surnames last_name lastname family_name familyname
		maiden_name name names full_name fullname nickname alias apodo nombre nombres primer_nombre
		segundo_nombre nombre_completo apellido apellidos apellido_paterno apellido_materno
		primer_apellido segundo_apellido`)
	add(linkage.KindDate, `date_of_birth dob birth_date birthdate birthday date_birth fecha_nacimiento
		fecha_de_nacimiento fecha_nac f_nac fnac nacimiento date fecha`)
	add(linkage.KindAge, `age edad age_years edad_anos anos years`)
	add(linkage.KindCategory, `sex sexo gender genero nationality nacionalidad country pais
		country_of_birth pais_de_nacimiento pais_nacimiento marital_status estado_civil language idioma
		lengua blood_type relationship parentesco`)
	add(linkage.KindCode, `postcode post_code postal_code zip zipcode zip_code cp codigo_postal
		soc_sec_id ssn social_security phone phone_number telephone tel telefono celular cell mobile
		movil curp rfc dni passport pasaporte document documento email correo`)
	add(linkage.KindNumber, `street_number house_number street_no house_no number numero num no num_ext
		numero_exterior unit apartment`)
	add(linkage.KindPlace, `suburb city town ciudad municipio municipality locality localidad village
		pueblo place lugar origin origen birthplace place_of_birth lugar_de_nacimiento lugar_nacimiento
		county district distrito colonia barrio neighborhood neighbourhood comunidad aldea`)
	add(region, `state estado province provincia region territory departamento department`)
	add(linkage.KindText, `address address_1 address_2 address1 address2 address_line_1 address_line_2
		address_line1 address_line2 street street_address street_name direccion domicilio calle`)
}

// tokenKinds decides on one word of a longer column name, most telling
// words first.
var tokenKinds = []struct {
	words []string
	kind  linkage.Kind
}{
	{[]string{"date", "fecha", "dob"}, linkage.KindDate},
	{[]string{"phone", "telephone", "tel", "telefono", "celular", "postcode", "zip", "curp", "passport", "pasaporte"}, linkage.KindCode},
	{[]string{"name", "names", "nombre", "nombres", "surname", "apellido", "apellidos", "forename"}, linkage.KindName},
	{[]string{"address", "direccion", "domicilio", "street", "calle"}, linkage.KindText},
	{[]string{"city", "town", "suburb", "ciudad", "municipio", "locality", "localidad", "village", "pueblo", "place", "lugar"}, linkage.KindPlace},
	{[]string{"state", "estado", "province", "provincia", "region"}, region},
	{[]string{"sex", "sexo", "gender", "genero"}, linkage.KindCategory},
	{[]string{"age", "edad"}, linkage.KindAge},
}

// inferKind decides how a column is compared from its name and, when the
// name says nothing (or only that it is a state or region), from its values.
func inferKind(column string, values []string) (linkage.Kind, string) {
	key := columnKey(column)
	words := strings.Split(key, "_")
	k, ok := byName[key]
	if !ok {
		k, ok = kindFromWords(words)
	}
	switch {
	case ok && k == region:
		if fewDistinct(values) {
			return linkage.KindCategory, "column name and values"
		}
		return linkage.KindPlace, "column name and values"
	case ok:
		return k, "column name"
	}
	return kindFromValues(values), "values"
}

func kindFromWords(words []string) (linkage.Kind, bool) {
	last := words[len(words)-1]
	// A number of a house or street ("street_number", "numero_casa") before
	// other numbers, which identify things ("phone_number", "card_no").
	numberWord := func(w string) bool { return slices.Contains([]string{"number", "numero", "num", "no", "nr"}, w) }
	for _, w := range words {
		if slices.Contains([]string{"street", "house", "calle", "casa", "exterior", "ext", "interior", "int"}, w) && slices.ContainsFunc(words, numberWord) {
			return linkage.KindNumber, true
		}
	}
	for _, tk := range tokenKinds {
		for _, w := range words {
			if slices.Contains(tk.words, w) {
				return tk.kind, true
			}
		}
	}
	if slices.Contains([]string{"id", "code", "codigo", "clave", "folio"}, last) || numberWord(last) {
		return linkage.KindCode, true
	}
	return "", false
}

// columnKey normalises a column name: accents and case folded, camelCase
// and punctuation turned into underscores ("Fecha de Nacimiento" and
// "fechaDeNacimiento" both become "fecha_de_nacimiento").
func columnKey(name string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range strings.TrimSpace(name) {
		if unicode.IsUpper(r) && prevLower {
			b.WriteByte('_')
		}
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	folded := names.Fold(b.String())
	parts := strings.FieldsFunc(folded, func(r rune) bool { return r == '_' })
	return strings.Join(parts, "_")
}

// kindFromValues guesses a kind from what a column holds.
func kindFromValues(values []string) linkage.Kind {
	var n, dates, digits, decimals, multiword, mixed, leadingZero, short int
	for _, v := range values {
		if v == "" {
			continue
		}
		n++
		if isDate(v) {
			dates++
		}
		if d := stripPhone(v); d != "" && allDigits(d) {
			digits++
			if len(d) > 1 && d[0] == '0' {
				leadingZero++
			}
			if len(d) <= 3 {
				short++
			}
		} else if _, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", "."), 64); err == nil && strings.ContainsAny(v, "0123456789") {
			decimals++
		}
		if len(strings.Fields(v)) >= 2 {
			multiword++
		}
		if strings.ContainsAny(v, "0123456789") && strings.ContainsFunc(v, unicode.IsLetter) {
			mixed++
		}
	}
	most := func(c int) bool { return n > 0 && c*10 >= n*9 } // 90% or more
	switch {
	case n == 0:
		return linkage.KindText
	case most(dates):
		return linkage.KindDate
	case most(digits):
		// Identifiers have leading zeros or several digits; house
		// numbers and counts are mostly short.
		if leadingZero > 0 || short*2 < digits {
			return linkage.KindCode
		}
		return linkage.KindNumber
	case most(digits + decimals):
		return linkage.KindNumber
	case fewDistinct(values):
		return linkage.KindCategory
	case multiword*2 >= n:
		return linkage.KindText
	case mixed*2 >= n:
		return linkage.KindCode
	}
	return linkage.KindText
}

// fewDistinct reports whether a column is a small closed set: at most 20
// values, each used five times on average, fill 85% of the filled cells
// (the rest being misspellings).
func fewDistinct(values []string) bool {
	counts := map[string]int{}
	n := 0
	for _, v := range values {
		if v == "" {
			continue
		}
		counts[strings.ToLower(v)]++
		n++
	}
	if n < 10 {
		return false
	}
	freq := make([]int, 0, len(counts))
	for _, c := range counts {
		freq = append(freq, c)
	}
	slices.Sort(freq)
	slices.Reverse(freq)
	covered, used := 0, 0
	for _, c := range freq {
		if covered*100 >= n*85 {
			break
		}
		covered += c
		used++
	}
	return used <= 20 && used*5 <= n
}

// isDate reports whether v is a date the engine reads: 20060102,
// 2006-01-02, 2006/01/02, 02/01/2006, 02-01-2006 or 02.01.2006.
func isDate(v string) bool {
	if len(v) == 8 && allDigits(v) {
		return validDate(atoi(v[:4]), atoi(v[4:6]), atoi(v[6:]))
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
	if len(parts) != 3 || !allDigits(parts[0]+parts[1]+parts[2]) || len(v) > 10 {
		return false
	}
	a, b, c := atoi(parts[0]), atoi(parts[1]), atoi(parts[2])
	if len(parts[0]) == 4 {
		return validDate(a, b, c)
	}
	if len(parts[2]) == 4 {
		return validDate(c, b, a) || validDate(c, a, b)
	}
	return false
}

func validDate(y, m, d int) bool {
	return y >= 1880 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= 31
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// stripPhone removes the punctuation of phone numbers and identifiers
// ("+52 (962) 123-4567"), leaving what should be digits.
func stripPhone(v string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" +()-", r) {
			return -1
		}
		return r
	}, v)
}
