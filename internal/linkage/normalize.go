package linkage

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"caravana/internal/names"
)

// honorifics are words reporters put before a name that say nothing about who it is
// ("Doña Lupe", "Sr. Hernández"). They are dropped on top of the particles names.Tokens drops.
var honorifics = map[string]bool{
	"sr": true, "sra": true, "srta": true, "don": true, "dona": true, "senor": true, "senora": true,
	"senorita": true,
}

// NameTokens folds a name and splits it into the words that identify a person: accents and
// case folded, particles (de, del, de la, de los, y) and honorifics dropped, hyphen- or
// "y"-joined surnames split ("Pérez-López", "Pérez y López" both give [perez lopez]) and
// apostrophes inside words kept as part of the word (the Q'eqchi' surname "Tz'ul" is one
// word, "tzul"). It builds on names.Tokens, whose behaviour the registry's blind indexes
// depend on, and never changes it.
func NameTokens(s string) []string {
	s = validUTF8(s)
	if strings.ContainsAny(s, "'’`´") {
		s = strings.NewReplacer("'", "", "’", "", "`", "", "´", "").Replace(s)
	}
	toks := nameWords(s)
	out := toks[:0]
	for _, t := range toks {
		if !honorifics[t] {
			out = append(out, t)
		}
	}
	return out
}

// validUTF8 replaces invalid bytes with spaces: names.Fold leaves a string it cannot decode
// unfolded as a whole, which would make one bad byte change how the rest of a name compares.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, " ")
}

// fold lowercases and strips accents exactly as names.Fold does. names.Fold runs the Unicode
// normalisation machinery on every call, which dominates filling an index with a million
// people; a fast path handles ASCII and the accented Latin letters of Spanish names with a
// table, and anything else goes to names.Fold (FuzzFold checks the two agree).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r >= 0xC0 && r <= 0xFF && latinFold[r-0xC0] != 0:
			b.WriteByte(latinFold[r-0xC0])
		default:
			return names.Fold(s)
		}
	}
	return b.String()
}

// latinFold maps U+00C0..U+00FF to their folded ASCII letter, 0 where names.Fold does not
// give one ASCII letter (Æ, Ø, ß, ×, ÷, Ð, Þ).
var latinFold = [64]byte{
	'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i', // À..Ï
	0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 0, // Ð..ß
	'a', 'a', 'a', 'a', 'a', 'a', 0, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i', 'i', // à..ï
	0, 'n', 'o', 'o', 'o', 'o', 'o', 0, 0, 'u', 'u', 'u', 'u', 'y', 0, 'y', // ð..ÿ
}

// nameWords is names.Tokens on the fast fold: folded words, particles dropped. Strings the
// fast path cannot fold go to names.Tokens itself.
func nameWords(s string) []string {
	f := fold(s)
	words := strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := words[:0]
	for _, w := range words {
		if !particles[w] {
			out = append(out, w)
		}
	}
	return out
}

// particles are the words names.Tokens drops; TestParticlesMatchNames keeps the two in step.
var particles = map[string]bool{"de": true, "del": true, "la": true, "las": true, "los": true, "y": true, "e": true, "da": true, "do": true, "dos": true}

// textTokens folds free text into words, keeping every word (addresses have no particles to
// drop, and "de" in "calle de la paz" costs nothing).
func textTokens(s string) []string {
	return strings.FieldsFunc(fold(validUTF8(s)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// normCode keeps the letters and digits of an identifier, upper-cased: "hn-1234 5" and
// "HN12345" are the same code.
func normCode(s string) string {
	var b strings.Builder
	for _, r := range fold(validUTF8(s)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// normNumber keeps the digits of a number, without leading zeros ("007" is "7"); a value with
// no digits is kept as a code so "s/n" (sin número) still compares equal to itself.
func normNumber(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if b.Len() == 0 && r == '0' {
				continue
			}
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		if strings.ContainsFunc(s, func(r rune) bool { return r == '0' }) {
			return "0"
		}
		return normCode(s)
	}
	return b.String()
}

// categorySynonyms maps the usual spellings of sex to the registry's F and M; other categories
// are compared folded.
var categorySynonyms = map[string]string{
	"f": "f", "fem": "f", "femenino": "f", "female": "f", "mujer": "f", "woman": "f", "nina": "f", "girl": "f",
	"m": "m", "masc": "m", "masculino": "m", "male": "m", "hombre": "m", "man": "m", "nino": "m", "boy": "m",
	"varon": "m",
}

// normCategory folds a category value and maps synonyms of F and M.
func normCategory(s string) string {
	f := strings.Join(textTokens(s), " ")
	if c, ok := categorySynonyms[f]; ok {
		return c
	}
	return f
}

// placeTokens folds a place name into words, dropping particles like names do ("La Ceiba" and
// "Ceiba" agree) and splitting "Choloma, Cortés" into its town and department.
func placeTokens(s string) []string { return NameTokens(s) }

// A date is packed as yyyymmdd in an int32; month and day 0 mean "only the year is known".
// 0 is a missing date.
type date int32

func (d date) year() int  { return int(d) / 10000 }
func (d date) month() int { return int(d) / 100 % 100 }
func (d date) day() int   { return int(d) % 100 }

func mkDate(y, m, d int) date { return date(y*10000 + m*100 + d) }

// daysIn returns the number of days in month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// dayNumber returns days since 0000-03-01 (a proleptic Gregorian day count), for date
// differences without the time package.
func (d date) dayNumber() int {
	y, m, dd := d.year(), d.month(), d.day()
	if m <= 2 {
		y--
		m += 12
	}
	return 365*y + y/4 - y/100 + y/400 + (153*(m-3)+2)/5 + dd - 1
}

// parseDate reads 2006-01-02, 2006/01/02, 20060102, 02/01/2006 and 02-01-2006 (day first, as
// written in Central America), 2006-01 and a bare year. Anything else, or an impossible date,
// is treated as missing (0): a value that cannot be read is no evidence either way.
func parseDate(s string) date {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	// Drop a time part: "2006-01-02T15:04:05Z" or "2006-01-02 00:00".
	if i := strings.IndexAny(s, "T "); i >= 8 {
		s = s[:i]
	}
	var parts []string
	switch {
	case strings.ContainsAny(s, "-/."):
		parts = strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' })
	case len(s) == 8:
		parts = []string{s[:4], s[4:6], s[6:]}
	case len(s) == 4:
		parts = []string{s}
	default:
		return 0
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0
		}
		nums[i] = n
	}
	var y, m, d int
	switch len(nums) {
	case 1:
		y = nums[0]
	case 2:
		if len(parts[0]) == 4 {
			y, m = nums[0], nums[1]
		} else {
			m, y = nums[0], nums[1]
		}
	case 3:
		if len(parts[0]) == 4 {
			y, m, d = nums[0], nums[1], nums[2]
		} else {
			d, m, y = nums[0], nums[1], nums[2]
			if len(parts[2]) == 2 { // 02/01/06: a two-digit year, read as the most recent century that fits
				y += 1900
				if y < 1930 {
					y += 100
				}
			}
		}
	default:
		return 0
	}
	if y < 1800 || y > 2200 || m < 0 || m > 12 || d < 0 || (m == 0 && d != 0) {
		return 0
	}
	if m > 0 && d > daysIn(y, m) {
		return 0
	}
	return mkDate(y, m, d)
}

// parseAge reads a whole number of years from "30", "30 años", "~30", "30?" or "30.5"; a range
// "30-35" gives its middle. It returns -1 when there is no plausible age.
func parseAge(s string) int {
	var nums []int
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n > 1000 {
				return -1
			}
			n = n*10 + int(c-'0')
			in = true
		case c == '.' || c == ',':
			// A decimal part: keep the whole years and skip the fraction.
			if in {
				nums = append(nums, n)
				n, in = 0, false
				for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					i++
				}
			}
		default:
			if in {
				nums = append(nums, n)
				n, in = 0, false
			}
		}
	}
	if in {
		nums = append(nums, n)
	}
	var a int
	switch len(nums) {
	case 0:
		return -1
	case 1:
		a = nums[0]
	default:
		a = (nums[0] + nums[1]) / 2
	}
	if a > 130 {
		return -1
	}
	return a
}

// ageOn returns the age in whole years on ref of someone born on d (a year-only date counts
// as born mid-year).
func ageOn(d date, ref date) int {
	if d == 0 || ref == 0 {
		return -1
	}
	a := ref.year() - d.year()
	m, dd := d.month(), d.day()
	if m == 0 {
		m, dd = 7, 1
	}
	if ref.month()*100+ref.day() < m*100+dd {
		a--
	}
	return a
}
