package linkcsv

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A FEBRL-like generator: records shaped like the public FEBRL benchmark
// files (English names, Australian addresses, YYYYMMDD birth dates, 7-digit
// social security numbers, ", " separators) and duplicates corrupted the
// way FEBRL corrupts them: typos, OCR and phonetic errors, inserted and
// lost spaces, missing values, values replaced by others, swapped words
// and fields, nicknames. The word lists are small on purpose: frequent
// values repeat, as they do in the real files, which is what makes
// blocking and the u probabilities work for their living.

var febrlHeader = []string{"rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"}

const (
	fID = iota
	fGiven
	fSurname
	fNumber
	fAddr1
	fAddr2
	fSuburb
	fPostcode
	fState
	fDOB
	fSSN
)

var (
	genGiven = strings.Fields(`jack thomas william joshua lachlan benjamin samuel james ethan daniel
		matthew ryan nicholas alexander liam jacob riley noah dylan luke callum harrison cooper connor
		mitchell jayden blake isaac zachary charlie oliver max jordan caleb nathan angus patrick edward
		robert michael christopher anthony lily emily chloe olivia jessica sophie ella isabella hannah
		grace mia charlotte georgia sarah madison emma zoe amelia caitlin ruby abigail brianna rebecca
		elizabeth katherine jasmine tayla kate molly paige imogen lucy alyssa keeley talia natalie`)
	genSurnames = strings.Fields(`smith jones williams brown wilson taylor johnson white martin anderson
		thompson nguyen thomas walker harris lee ryan robinson kelly king davis wright evans roberts green
		hall wood jackson clarke patel khan lewis james phillips mitchell turner campbell webb reid
		morrison bishop lowry coulson donaldson matthews berry godfrey sherriff chandler dent george
		mason thorpe hope zimmermann huxley carbone blackwell neville mccarthy mcneill gibb heron roche
		stephenson bissett weller corbin basey cannell capel dooley boulter dakin warnock domingo banham
		newport sells gigney heidrich harrington gaskin manthorpe blacklow girdler bevis homann mayer
		hemmings coppock benger beattie mahon lionis swetnam monis dojcic malzard kubenk moujalli lovelock`)
	genStreets = strings.Fields(`stanley pinkerton salkauskas macquoid randwick cutlack caley traeger
		carpenter corin hawkesbury willoughby sinclair cowcher lienhop wootton bishopbourne tweed pelsart
		araluen ngunawal elvire mcintyre macgregor abernethy crease hadleigh darling dryandra leach
		broadbent coxen rowntree britten newman vickery sugarloaf westall mcgivern marcus lamb winder
		tebbutt hodgson stenhouse arid smith dugan mimosa fergusson southern namatjira cobby tanumbirini`)
	genStreetTypes = []string{"street", "street", "street", "crescent", "crescent", "place", "place", "circuit", "close", "road", "avenue", "drive", "court"}
	genAddr2       = strings.Fields(`miami bega_flats kela broadbridge_manor avalind allandale_aged_care_facility
		valley_of_springs gold_tyne deergarden_caravn_park donna_valley rosetta_village brentwood_vlge
		kassingbrook sorrento the_manor_garden lismore_road five_oaks st_francis_vlge bombowlee
		whispering_pines narada spq_camp apt_27 stonyridge kanangra_hostel edellen rowethorpe jeran
		ferndale plain_view willows_trees harlyn belleview locn_8774 the_park medical_centre villa_3 flt_2a`)
	genSuburbs = strings.Fields(`winston_hills richlands dapto south_grafton hoppers_crossing budgewoi
		mill_park north_ward canterbury clayfield cooma carrara chelsea_heights ryde surfers_paradise lalor
		northmead padstow keilor daisy_hill avoca brighton bronte woongarra woollahra cecil_plains manunda
		north_ryde rossmoyne exton west_lakes frankston corio tara urangan tallebudgera warnbro springwood
		magill windsor moree wingfield highbury lockleys kilsyth west_wyalong carnegie macquarie_fields
		vermont burwood hawthorn cranbourne mittagong currajong stanley slacks_creek kilcunda toowoomba
		bowral kempsey kingston elwood mosman bundaberg`)
	genStates = []string{"nsw", "nsw", "nsw", "nsw", "nsw", "nsw", "nsw", "vic", "vic", "vic", "vic", "vic", "qld", "qld", "qld", "qld", "wa", "wa", "sa", "sa", "tas", "act", "nt"}
	genNicks  = map[string][]string{"william": {"bill", "will", "liam"}, "robert": {"bob", "rob"}, "elizabeth": {"liz", "beth"},
		"katherine": {"kate", "katie"}, "thomas": {"tom"}, "james": {"jim", "jimmy"}, "joshua": {"josh"}, "samuel": {"sam"},
		"benjamin": {"ben"}, "alexander": {"alex"}, "matthew": {"matt"}, "nicholas": {"nick"}, "daniel": {"dan", "danny"},
		"jessica": {"jess"}, "rebecca": {"bec", "becky"}, "christopher": {"chris"}, "michael": {"mike"}, "jacob": {"jake"},
		"charlotte": {"charlie"}, "isabella": {"bella"}, "madison": {"maddy"}, "abigail": {"abby"}, "edward": {"ed", "ted"},
		"zachary": {"zac"}, "anthony": {"tony"}, "patrick": {"pat"}, "lachlan": {"lachie"}}
	genOCR      = [][2]string{{"m", "rn"}, {"rn", "m"}, {"l", "1"}, {"o", "0"}, {"s", "5"}, {"b", "6"}, {"g", "9"}, {"i", "l"}, {"cl", "d"}, {"h", "b"}, {"e", "c"}, {"u", "v"}, {"1", "7"}, {"0", "8"}, {"5", "6"}}
	genPhonetic = [][2]string{{"ph", "f"}, {"f", "ph"}, {"ck", "k"}, {"c", "k"}, {"ie", "y"}, {"y", "ie"}, {"ee", "ea"}, {"z", "s"}, {"s", "z"}, {"ll", "l"}, {"tt", "t"}, {"mc", "mac"}, {"th", "t"}, {"ou", "ow"}, {"ae", "e"}}
)

// febrlGen makes FEBRL-like records from a seeded generator.
type febrlGen struct {
	r         *rand.Rand
	postcodes []string
}

func newFebrlGen(seed uint64) *febrlGen {
	g := &febrlGen{r: rand.New(rand.NewPCG(seed, 0x4febe1))}
	for range 400 {
		g.postcodes = append(g.postcodes, fmt.Sprintf("%04d", 800+g.r.IntN(7200)))
	}
	return g
}

// pick chooses from list with a Zipf-like skew: early entries are common.
func (g *febrlGen) pick(list []string) string {
	i := int(float64(len(list)) * g.r.Float64() * g.r.Float64())
	return strings.ReplaceAll(list[i], "_", " ")
}

func (g *febrlGen) maybe(p float64, v string) string {
	if g.r.Float64() < p {
		return ""
	}
	return v
}

// original makes one clean record.
func (g *febrlGen) original(id string) []string {
	rec := make([]string, len(febrlHeader))
	rec[fID] = id
	rec[fGiven] = g.maybe(0.03, g.pick(genGiven))
	rec[fSurname] = g.maybe(0.01, g.pick(genSurnames))
	n := 1 + g.r.IntN(50)
	if g.r.Float64() < 0.3 {
		n = 1 + g.r.IntN(400)
	}
	rec[fNumber] = g.maybe(0.03, strconv.Itoa(n))
	rec[fAddr1] = g.maybe(0.02, g.pick(genStreets)+" "+genStreetTypes[g.r.IntN(len(genStreetTypes))])
	rec[fAddr2] = g.maybe(0.4, g.pick(genAddr2))
	rec[fSuburb] = g.maybe(0.01, g.pick(genSuburbs))
	rec[fPostcode] = g.postcodes[g.r.IntN(len(g.postcodes))]
	rec[fState] = g.maybe(0.01, genStates[g.r.IntN(len(genStates))])
	rec[fDOB] = g.maybe(0.03, fmt.Sprintf("%04d%02d%02d", 1900+g.r.IntN(100), 1+g.r.IntN(12), 1+g.r.IntN(28)))
	rec[fSSN] = strconv.Itoa(1000000 + g.r.IntN(9000000))
	return rec
}

// duplicate corrupts a copy of rec with one to five modifications, at most
// one per field, like FEBRL's generator.
func (g *febrlGen) duplicate(rec []string, id string) []string {
	d := append([]string(nil), rec...)
	d[fID] = id
	k := []int{1, 1, 2, 2, 3, 3, 3, 4, 4, 5}[g.r.IntN(10)]
	touched := map[int]bool{}
	for range k {
		f := g.field()
		if touched[f] {
			continue
		}
		touched[f] = true
		g.modify(d, f)
	}
	return d
}

// fieldWeights says how often each field is the one modified: names and
// addresses often, state and identifiers seldom, as in FEBRL's set-up.
var fieldWeights = [...]float64{fGiven: 0.2, fSurname: 0.15, fNumber: 0.1, fAddr1: 0.12, fAddr2: 0.1, fSuburb: 0.1, fPostcode: 0.05, fState: 0.03, fDOB: 0.1, fSSN: 0.05}

func (g *febrlGen) field() int {
	x := g.r.Float64()
	for f, w := range fieldWeights {
		if x < w {
			return f
		}
		x -= w
	}
	return fGiven
}

func (g *febrlGen) modify(d []string, f int) {
	v := d[f]
	x := g.r.Float64()
	switch {
	case x < 0.10:
		d[f] = "" // missing
		return
	case x < 0.16 && (f == fGiven || f == fSurname): // given name and surname swapped
		d[fGiven], d[fSurname] = d[fSurname], d[fGiven]
		return
	case x < 0.16 && (f == fAddr1 || f == fAddr2):
		d[fAddr1], d[fAddr2] = d[fAddr2], d[fAddr1]
		return
	case x < 0.22 && f == fGiven && genNicks[v] != nil:
		nicks := genNicks[v]
		d[f] = nicks[g.r.IntN(len(nicks))]
		return
	case x < 0.32: // replaced by another value, as FEBRL does from its look-up tables
		d[f] = g.original("x")[f]
		return
	case x < 0.40 && f == fDOB && len(v) == 8: // day and month swapped
		d[f] = v[:4] + v[6:] + v[4:6]
		return
	}
	if v == "" {
		return
	}
	switch y := g.r.Float64(); {
	case y < 0.55:
		d[f] = g.typo(v, f)
	case y < 0.70:
		d[f] = g.substitute(v, genOCR)
	case y < 0.80 && f != fDOB && f != fSSN && f != fPostcode && f != fNumber:
		d[f] = g.substitute(v, genPhonetic)
	case y < 0.90 && strings.Contains(v, " "):
		d[f] = strings.Replace(v, " ", "", 1) // a lost space
	default:
		i := 1 + g.r.IntN(max(1, len(v)-1)) // an inserted space
		d[f] = v[:i] + " " + v[i:]
	}
}

// typo makes one keyboard error: an inserted, deleted, substituted or
// transposed character (digits stay digits in number fields).
func (g *febrlGen) typo(v string, f int) string {
	b := []byte(v)
	alphabet := "abcdefghijklmnopqrstuvwxyz"
	if f == fNumber || f == fPostcode || f == fDOB || f == fSSN {
		alphabet = "0123456789"
	}
	i := g.r.IntN(len(b))
	c := alphabet[g.r.IntN(len(alphabet))]
	switch g.r.IntN(4) {
	case 0:
		return string(b[:i]) + string(c) + string(b[i:])
	case 1:
		if len(b) > 1 {
			return string(b[:i]) + string(b[i+1:])
		}
	case 2:
		if i+1 < len(b) {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
	}
	b[i] = c
	return string(b)
}

// substitute applies one of the rules at a random place where it fits,
// else makes a typo.
func (g *febrlGen) substitute(v string, rules [][2]string) string {
	start := g.r.IntN(len(rules))
	for k := range rules {
		r := rules[(start+k)%len(rules)]
		if strings.Contains(v, r[0]) {
			return strings.Replace(v, r[0], r[1], 1)
		}
	}
	return g.typo(v, 0)
}

// febrlLink makes a FEBRL4-like pair of files: n originals and, in a
// shuffled second file, one corrupted duplicate of each.
func febrlLink(seed uint64, n int) (left, right [][]string) {
	g := newFebrlGen(seed)
	for i := range n {
		left = append(left, g.original(fmt.Sprintf("rec-%d-org", i)))
	}
	for i, rec := range left {
		right = append(right, g.duplicate(rec, fmt.Sprintf("rec-%d-dup-0", i)))
	}
	g.r.Shuffle(len(right), func(i, j int) { right[i], right[j] = right[j], right[i] })
	return left, right
}

// febrlDedup makes one file like FEBRL's dedup sets: originals, some with
// one to three duplicates, shuffled together.
func febrlDedup(seed uint64, originals int) [][]string {
	g := newFebrlGen(seed)
	var recs [][]string
	for i := range originals {
		org := g.original(fmt.Sprintf("rec-%d-org", i))
		recs = append(recs, org)
		if g.r.IntN(10) < 3 {
			for j := range 1 + g.r.IntN(3) {
				recs = append(recs, g.duplicate(org, fmt.Sprintf("rec-%d-dup-%d", i, j)))
			}
		}
	}
	g.r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return recs
}

// writeFebrl writes rows the way the FEBRL files are written: a header,
// ", " between fields, no quoting.
func writeFebrl(t testing.TB, path string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(strings.Join(febrlHeader, ", ") + "\n")
	for _, r := range rows {
		w.WriteString(strings.Join(r, ", ") + "\n")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// truthKey is the original's number in a FEBRL id: rec-1070-org and
// rec-1070-dup-0 are the same person.
func truthKey(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) < 2 {
		return id
	}
	return parts[1]
}

// quality scores a pairs file against the FEBRL ids: precision, recall
// and F1, given the number of true pairs.
type quality struct{ tp, fp, truth int }

func (q quality) precision() float64 { return float64(q.tp) / float64(max(1, q.tp+q.fp)) }
func (q quality) recall() float64    { return float64(q.tp) / float64(max(1, q.truth)) }
func (q quality) f1() float64 {
	p, r := q.precision(), q.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
func (q quality) String() string {
	return fmt.Sprintf("precision %.4f recall %.4f F1 %.4f (%d true of %d written, %d true pairs)", q.precision(), q.recall(), q.f1(), q.tp, q.tp+q.fp, q.truth)
}

func scorePairs(t testing.TB, path string, truth int) quality {
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
	q := quality{truth: truth}
	seen := map[[2]string]bool{}
	for _, r := range rows[1:] {
		key := [2]string{min(r[0], r[1]), max(r[0], r[1])}
		if seen[key] {
			t.Fatalf("pair %v written twice", key)
		}
		seen[key] = true
		if truthKey(r[0]) == truthKey(r[1]) {
			q.tp++
		} else {
			q.fp++
		}
	}
	return q
}

// dedupTruth counts the true pairs in a dedup file: every two records of
// one original's group.
func dedupTruth(recs [][]string) int {
	groups := map[string]int{}
	for _, r := range recs {
		groups[truthKey(r[fID])]++
	}
	n := 0
	for _, c := range groups {
		n += c * (c - 1) / 2
	}
	return n
}

func writeLinkFiles(t testing.TB, n int) (left, right string) {
	t.Helper()
	dir := t.TempDir()
	l, r := febrlLink(1, n)
	left, right = filepath.Join(dir, "dataset4a.csv"), filepath.Join(dir, "dataset4b.csv")
	writeFebrl(t, left, l)
	writeFebrl(t, right, r)
	return left, right
}

func TestGeneratorIsFebrlShaped(t *testing.T) {
	l, r := febrlLink(7, 300)
	changed, missing := 0, 0
	for i := range l {
		if l[i][fSSN] == "" || len(l[i][fDOB]) != 8 && l[i][fDOB] != "" || len(l[i][fPostcode]) != 4 ||
			strings.ContainsAny(strings.Join(l[i], ""), "_|,") || len(strings.Fields(l[i][fAddr2])) > 4 {
			t.Fatalf("original %q is not FEBRL-shaped", l[i])
		}
	}
	orgs := map[string][]string{}
	for _, rec := range l {
		orgs[truthKey(rec[fID])] = rec
	}
	for _, d := range r {
		o := orgs[truthKey(d[fID])]
		for f := 1; f < len(febrlHeader); f++ {
			if d[f] != o[f] {
				changed++
				if d[f] == "" {
					missing++
				}
			}
		}
	}
	// One to five modifications per duplicate (a swap changes two fields).
	if avg := float64(changed) / float64(len(r)); avg < 1.3 || avg > 4 {
		t.Errorf("%.2f fields changed per duplicate, want FEBRL's 1 to 4", avg)
	}
	if missing == 0 {
		t.Error("no duplicate lost a value")
	}
}
