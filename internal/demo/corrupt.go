package demo

import (
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Report is a person as somebody else wrote them down: a relative's missing-person report, or
// a second registration of the same person at another desk. Any field may be unknown.
type Report struct {
	GivenNames  string    // maybe a nickname, one part of a compound name, misspelt
	Surnames    string    // as written: one or both, either order, maybe joined with "y" or "-"
	Sex         string    // "F", "M" or "" if not said
	BirthDate   time.Time // zero if not known
	Age         int       // approximate age in whole years; -1 if not known
	Nationality string    // "" if not said
	OriginTown  string    // maybe wrong, "" if not said
}

// AgeOn returns the age in whole years on asOf of someone born on birth.
func AgeOn(birth, asOf time.Time) int {
	y1, m1, d1 := birth.Date()
	y2, m2, d2 := asOf.Date()
	a := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		a--
	}
	return a
}

// Describe is p as the registry holds them: every field, both surnames paternal first, the
// age counted on asOf.
func Describe(p Person, asOf time.Time) Report {
	return Report{
		GivenNames:  p.GivenNames,
		Surnames:    strings.TrimSpace(p.Surname1 + " " + p.Surname2),
		Sex:         p.Sex,
		BirthDate:   p.BirthDate,
		Age:         AgeOn(p.BirthDate, asOf),
		Nationality: p.Nationality,
		OriginTown:  p.OriginTown,
	}
}

// noise sets how much a description differs from the truth; each is a probability.
type noise struct {
	nickname, onePart, givenTypo          float64 // given names
	oneSurname, swapped, joined           float64 // surnames
	surnameTypo, spelling, accents, upper float64 // any name
	ageOnly, dmSwap, dateTypo, noBirth    float64 // birth
	noTown, wrongTown, noSex, noNation    float64
}

// reportNoise is how a relative describes a missing person from memory, often through a
// volunteer typing on a phone: nicknames, one surname, an age instead of a birth date.
var reportNoise = noise{
	nickname: 0.25, onePart: 0.35, givenTypo: 0.12,
	oneSurname: 0.25, swapped: 0.08, joined: 0.08,
	surnameTypo: 0.12, spelling: 0.15, accents: 0.5, upper: 0.15,
	ageOnly: 0.45, dmSwap: 0.08, dateTypo: 0.05, noBirth: 0.04,
	noTown: 0.2, wrongTown: 0.12, noSex: 0.15, noNation: 0.2,
}

// duplicateNoise is a second registration at another desk: the person is there and shows
// papers more often than not, so the noise is lighter.
var duplicateNoise = noise{
	nickname: 0.03, onePart: 0.06, givenTypo: 0.06,
	oneSurname: 0.06, swapped: 0.03, joined: 0.03,
	surnameTypo: 0.06, spelling: 0.08, accents: 0.4, upper: 0.1,
	ageOnly: 0.05, dmSwap: 0.06, dateTypo: 0.05, noBirth: 0.01,
	noTown: 0.08, wrongTown: 0.04, noSex: 0.02, noNation: 0.05,
}

// CorruptReport returns a missing-person report about p as a relative might file it on asOf:
// a nickname or one part of a compound given name, one surname or both in either order (maybe
// joined with "y" or a hyphen), typos, dropped accents, b/v s/z ll/y h j/g spelling mix-ups,
// an approximate age (off by a few years) instead of the birth date or a birth date with day
// and month swapped, a wrong or missing origin town, sometimes no sex. Deterministic for a
// given r.
func CorruptReport(r *rand.Rand, p Person, asOf time.Time) Report {
	return corrupt(r, p, asOf, &reportNoise)
}

// CorruptDuplicate returns a second registration of p at another desk: the same kinds of
// differences as CorruptReport, much rarer, and nearly always with a birth date.
func CorruptDuplicate(r *rand.Rand, p Person, asOf time.Time) Report {
	return corrupt(r, p, asOf, &duplicateNoise)
}

func corrupt(r *rand.Rand, p Person, asOf time.Time, n *noise) Report {
	c := &corrupter{r: r}
	out := Report{Age: -1}

	// Given names.
	given := p.GivenNames
	parts := strings.Fields(given)
	switch {
	case c.chance(n.nickname) && len(reportNicknames[given]) > 0:
		given = c.pick(reportNicknames[given])
	case len(significant(parts)) > 1 && c.chance(n.onePart):
		sig := significant(parts)
		if c.chance(0.7) {
			given = sig[0]
		} else {
			given = sig[len(sig)-1]
		}
	}
	if c.chance(n.givenTypo) {
		given = c.typo(given)
	}
	given = c.spellAll(given, n.spelling)
	out.GivenNames = given

	// Surnames.
	s1, s2 := p.Surname1, p.Surname2
	if c.chance(n.surnameTypo) {
		if s2 != "" && c.chance(0.5) {
			s2 = c.typo(s2)
		} else {
			s1 = c.typo(s1)
		}
	}
	s1, s2 = c.spellAll(s1, n.spelling), c.spellAll(s2, n.spelling)
	switch {
	case s2 != "" && c.chance(n.oneSurname):
		if c.chance(0.8) {
			s2 = ""
		} else {
			s1, s2 = s2, ""
		}
	case s2 != "" && c.chance(n.swapped):
		s1, s2 = s2, s1
	}
	sep := " "
	if s2 != "" && c.chance(n.joined) {
		sep = " y "
		if c.chance(0.5) {
			sep = "-"
		}
	}
	out.Surnames = strings.TrimSpace(s1 + sep + s2)
	if s2 == "" {
		out.Surnames = s1
	}

	// Case and accents, for the whole report as one person typed it.
	if c.chance(n.accents) {
		out.GivenNames, out.Surnames = stripAccents(out.GivenNames), stripAccents(out.Surnames)
	}
	if c.chance(n.upper) {
		out.GivenNames, out.Surnames = strings.ToUpper(out.GivenNames), strings.ToUpper(out.Surnames)
	}

	// Birth.
	age := AgeOn(p.BirthDate, asOf)
	switch x := r.Float64(); {
	case x < n.noBirth:
	case x < n.noBirth+n.ageOnly:
		out.Age = max(age+c.ageError(age), 0)
	default:
		out.BirthDate = p.BirthDate
		if c.chance(n.dmSwap) {
			y, m, d := p.BirthDate.Date()
			if d <= 12 && d != int(m) {
				out.BirthDate = time.Date(y, time.Month(d), int(m), 0, 0, 0, 0, time.UTC)
			}
		} else if c.chance(n.dateTypo) {
			switch r.IntN(3) {
			case 0:
				out.BirthDate = p.BirthDate.AddDate(0, 0, c.between(1, 3)*c.sign())
			case 1:
				out.BirthDate = p.BirthDate.AddDate(c.sign(), 0, 0)
			default:
				out.BirthDate = p.BirthDate.AddDate(0, c.sign(), 0)
			}
		}
		if c.chance(0.5) {
			out.Age = AgeOn(out.BirthDate, asOf)
		}
	}

	if !c.chance(n.noSex) {
		out.Sex = p.Sex
	}
	if !c.chance(n.noNation) {
		out.Nationality = p.Nationality
	}
	switch x := r.Float64(); {
	case x < n.noTown:
	case x < n.noTown+n.wrongTown:
		out.OriginTown = otherTown(r, p)
	default:
		out.OriginTown = p.OriginTown
	}
	return out
}

type corrupter struct{ r *rand.Rand }

func (c *corrupter) chance(p float64) bool { return c.r.Float64() < p }

func (c *corrupter) between(lo, hi int) int { return lo + c.r.IntN(hi-lo+1) }

func (c *corrupter) sign() int {
	if c.r.IntN(2) == 0 {
		return -1
	}
	return 1
}

func (c *corrupter) pick(s []string) string { return s[c.r.IntN(len(s))] }

// ageError is how far off a relative's guess of an age is: usually right or a year off,
// sometimes a few years, more for adults than for children.
func (c *corrupter) ageError(age int) int {
	x := c.r.Float64()
	switch {
	case x < 0.40:
		return 0
	case x < 0.72:
		return c.sign()
	case x < 0.88:
		return 2 * c.sign()
	case age < 12:
		return c.sign() * c.between(2, 3)
	default:
		return c.sign() * c.between(3, 5)
	}
}

// keyboardNear lists letters next to each other on a Spanish keyboard, for substitutions a
// finger makes.
var keyboardNear = map[rune]string{
	'a': "sqz", 'b': "vn", 'c': "xv", 'd': "sf", 'e': "wr", 'f': "dg", 'g': "fh", 'h': "gj",
	'i': "uo", 'j': "hk", 'k': "jl", 'l': "kñ", 'm': "n", 'n': "bm", 'o': "ip", 'p': "o",
	'q': "wa", 'r': "et", 's': "ad", 't': "ry", 'u': "yi", 'v': "cb", 'w': "qe", 'x': "zc",
	'y': "tu", 'z': "xs",
}

// typo inserts, deletes, substitutes or transposes one letter of one word of s, never the
// first letter of a word (people rarely get that wrong) and never leaving a word shorter than
// two letters.
func (c *corrupter) typo(s string) string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return s
	}
	wi := c.r.IntN(len(words))
	w := []rune(words[wi])
	if len(w) < 3 {
		return s
	}
	i := 1 + c.r.IntN(len(w)-1)
	switch c.r.IntN(4) {
	case 0: // insert a doubled or neighbouring letter
		ins := w[i]
		if near := keyboardNear[unicode.ToLower(w[i])]; near != "" && c.chance(0.5) {
			ins = []rune(near)[c.r.IntN(utf8.RuneCountInString(near))]
		}
		w = append(w[:i], append([]rune{ins}, w[i:]...)...)
	case 1: // delete
		if len(w) > 3 {
			w = append(w[:i], w[i+1:]...)
		}
	case 2: // substitute a neighbour
		if near := keyboardNear[unicode.ToLower(w[i])]; near != "" {
			w[i] = []rune(near)[c.r.IntN(utf8.RuneCountInString(near))]
		}
	default: // transpose with the next letter
		if i+1 < len(w) {
			w[i], w[i+1] = w[i+1], w[i]
		}
	}
	words[wi] = string(w)
	return strings.Join(words, " ")
}

// spellings are the confusions of Latin-American Spanish spelling: letters that sound the
// same. Each pair is tried both ways.
var spellings = [][2]string{
	{"b", "v"}, {"v", "b"}, {"s", "z"}, {"z", "s"}, {"ll", "y"}, {"y", "ll"},
	{"ce", "se"}, {"ci", "si"}, {"se", "ce"}, {"si", "ci"}, {"ge", "je"}, {"gi", "ji"},
	{"je", "ge"}, {"ji", "gi"}, {"que", "ke"}, {"qui", "ki"}, {"ca", "ka"}, {"co", "ko"},
	{"ñ", "n"}, {"x", "j"}, {"rr", "r"}, {"ss", "s"},
}

// spellAll gives each word of s, with probability p, one spelling confusion or a silent h
// added or dropped at its start.
func (c *corrupter) spellAll(s string, p float64) string {
	if s == "" || p == 0 {
		return s
	}
	words := strings.Fields(s)
	for i, w := range words {
		if c.chance(p) {
			words[i] = c.spell(w)
		}
	}
	return strings.Join(words, " ")
}

func (c *corrupter) spell(w string) string {
	lower := strings.ToLower(w)
	if c.chance(0.15) {
		switch {
		case strings.HasPrefix(lower, "h") && len(w) > 2 && w[1] < utf8.RuneSelf:
			return strings.ToUpper(w[1:2]) + w[2:]
		case len(w) > 1 && strings.ContainsRune("aeiouAEIOU", rune(w[0])):
			return "H" + strings.ToLower(w[:1]) + w[1:]
		}
	}
	// Try the confusions in a random order; apply the first that fits, at a random match.
	start := c.r.IntN(len(spellings))
	for k := range spellings {
		sp := spellings[(start+k)%len(spellings)]
		n := strings.Count(lower, sp[0])
		if n == 0 {
			continue
		}
		// ll and y only sound alike before a vowel ("Yolanda", "Llolanda"; not "Nery").
		if (sp[0] == "y" || sp[0] == "ll") && !beforeVowel(lower, sp[0]) {
			continue
		}
		// Only inside the word after the first letter for "h"-free confusions at the start is
		// fine too: "Velásquez" -> "Belásquez" is a real mistake.
		which := c.r.IntN(n)
		at := -1
		for j := 0; j <= which; j++ {
			next := strings.Index(lower[at+1:], sp[0])
			at += 1 + next
		}
		if (sp[0] == "y" || sp[0] == "ll") && !isVowelAt(lower, at+len(sp[0])) {
			continue
		}
		repl := sp[1]
		if at == 0 && w[:1] != lower[:1] {
			repl = strings.ToUpper(repl[:1]) + repl[1:]
		}
		return w[:at] + repl + w[at+len(sp[0]):]
	}
	return w
}

// beforeVowel reports whether sub occurs in s followed by a vowel.
func beforeVowel(s, sub string) bool {
	for i := strings.Index(s, sub); i >= 0; {
		if isVowelAt(s, i+len(sub)) {
			return true
		}
		j := strings.Index(s[i+1:], sub)
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isVowelAt(s string, i int) bool {
	return i < len(s) && strings.ContainsRune("aeiouáéíóú", rune(s[i]))
}

// stripAccents drops accents the way a phone keyboard without them does (ñ becomes n).
func stripAccents(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return s
	}
	return out
}

// significant drops the particles of a compound given name: "María de los Ángeles" has the
// parts María and Ángeles.
func significant(parts []string) []string {
	var out []string
	for _, p := range parts {
		switch strings.ToLower(p) {
		case "de", "del", "la", "las", "los", "y":
			continue
		}
		out = append(out, p)
	}
	return out
}

// reportNicknames are the nicknames relatives use for some of the demo's given names. The
// list is the corrupter's own, deliberately not the linkage package's, so accuracy figures
// also count the nicknames the matcher does not know.
var reportNicknames = map[string][]string{
	"José": {"Pepe", "Chepe", "Chepito"}, "José Luis": {"Pepe", "Chepe", "Joseluis"},
	"José Antonio": {"Pepe", "Toño"}, "José Manuel": {"Chema", "Pepe"}, "José David": {"Chepe"},
	"José Francisco": {"Pancho", "Chepe"}, "José Ángel": {"Chepe"}, "José Alfredo": {"Pepe"},
	"Francisco": {"Pancho", "Paco", "Chico"}, "Jesús": {"Chuy", "Chucho"}, "Jesús Antonio": {"Chuy"},
	"Antonio": {"Toño", "Tony"}, "Eduardo": {"Lalo"}, "Enrique": {"Quique", "Kike"},
	"Roberto": {"Beto"}, "Alberto": {"Beto"}, "Rigoberto": {"Rigo", "Beto"}, "Manuel": {"Manolo"},
	"Guadalupe": {"Lupe", "Lupita"}, "Concepción": {"Concha", "Conchita"}, "María José": {"Majo"},
	"Teresa": {"Tere"}, "María Teresa": {"Maite", "Tere"}, "Patricia": {"Paty"},
	"Karla Patricia": {"Paty"}, "Fernando": {"Nando"}, "Rafael": {"Rafa"},
	"Alejandro": {"Alex"}, "Alejandra": {"Ale"}, "Gabriela": {"Gaby"}, "Daniel": {"Dany"},
	"Carlos": {"Charly"}, "Juan Carlos": {"Juanca"}, "Luis": {"Lucho"}, "Jorge": {"Coque"},
	"Miguel": {"Migue"}, "Gustavo": {"Tavo"}, "Santiago": {"Santi"}, "Isabel": {"Chabela"},
	"Mercedes": {"Meche"}, "Lourdes": {"Lulú"}, "Ernesto": {"Neto"}, "Wilfredo": {"Willy"},
	"Juan": {"Juancho", "Juanito"}, "Pedro": {"Perico"}, "Guillermo": {"Memo"},
	"Ignacio": {"Nacho"}, "Alfonso": {"Poncho"}, "Juan José": {"Juanjo"}, "Juana": {"Juanita"},
	"Josefa": {"Chepa"}, "Francisca": {"Pancha"}, "Rosa": {"Rosita"}, "María": {"Mari"},
	"Sofía": {"Sofi"}, "Valeria": {"Vale"}, "Lucía": {"Lucy"}, "Fernanda": {"Fer"},
	"Andrea": {"Andy"}, "Victoria": {"Vicky"}, "Jessica": {"Jessy"}, "Carmen": {"Carmencita"},
	"Yolanda": {"Yoli"}, "Wendy": {"Wen"}, "Elizabeth": {"Eli", "Betty"}, "Samuel": {"Samu"},
	"Leonardo": {"Leo"}, "Ricardo": {"Richi"}, "Mauricio": {"Mau"}, "Moisés": {"Moi"},
}

// otherTown picks another town of p's country, or p's town if the country has only one.
func otherTown(r *rand.Rand, p Person) string {
	l := loadLists()
	for _, c := range l.countries {
		if c.code != p.Nationality {
			continue
		}
		for range 8 {
			if t := c.towns.pick(r); t != p.OriginTown {
				return t
			}
		}
	}
	return p.OriginTown
}
