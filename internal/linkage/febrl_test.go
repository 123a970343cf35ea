package linkage_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"caravana/internal/linkage"
)

// A tiny generator shaped like the FEBRL benchmark files (dataset 4a/4b): English names and
// Australian-style addresses, a birth date as YYYYMMDD and a social security number; the right
// file holds one corrupted copy of every left record.

var febrlFields = []linkage.Field{
	{"given_name", linkage.KindName}, {"surname", linkage.KindName},
	{"street_number", linkage.KindNumber}, {"address_1", linkage.KindText},
	{"address_2", linkage.KindText}, {"suburb", linkage.KindPlace},
	{"postcode", linkage.KindCode}, {"state", linkage.KindCategory},
	{"date_of_birth", linkage.KindDate}, {"soc_sec_id", linkage.KindCode},
}

var (
	febrlGiven = strings.Fields(`james john robert michael william david richard charles joseph thomas
		christopher daniel paul mark donald george kenneth steven edward brian ronald anthony kevin jason
		matthew gary timothy jose larry jeffrey frank scott eric stephen andrew raymond gregory joshua jerry
		dennis walter patrick peter harold douglas henry carl arthur ryan roger joe juan jack albert jonathan
		justin terry gerald keith samuel willie ralph lawrence nicholas roy benjamin bruce brandon adam harry
		fred wayne billy steve louis jeremy aaron randy howard eugene carlos russell bobby victor martin
		mary patricia linda barbara elizabeth jennifer maria susan margaret dorothy lisa nancy karen betty helen
		sandra donna carol ruth sharon michelle laura sarah kimberly deborah jessica shirley cynthia angela
		melissa brenda amy anna rebecca virginia kathleen pamela martha debra amanda stephanie carolyn christine
		marie janet catherine frances ann joyce diane alice julie heather teresa doris gloria evelyn jean cheryl
		mildred katherine joan ashley judith rose janice kelly nicole judy christina kathy theresa beverly denise
		tammy irene jane lori rachel marilyn andrea kathryn louise sara anne jacqueline wanda bonnie julia ruby
		lois tina phyllis norma paula diana annie lillian emily robin peggy crystal gladys rita dawn connie
		florence tracy edna tiffany carmen rosa cindy grace wendy victoria edith kim sherry sylvia josephine
		thelma shannon sheila ethel ellen elaine marjorie carrie charlotte monica esther pauline emma juanita`)
	febrlSurnames = strings.Fields(`smith jones williams brown wilson taylor johnson white martin anderson
		thompson nguyen thomas walker harris lee ryan robinson kelly king davis wright evans roberts green
		hall wood jackson clarke patel khan lewis james phillips mason mitchell rose davies rodriguez cox
		alexander morris garden campbell johnston moore smyth odonnell oneill mcdonald stewart murphy reid
		cooper morgan bell hughes ward hill edwards turner baker collins parker young scott stevens cook
		allen miller carter bennett gray watson shaw price hunter webb lloyd chapman marshall bailey barnes
		russell burns ellis gibson grant hamilton hayes henderson holmes howard hudson hunt jenkins kennedy
		knight lane lawrence matthews mills murray owen palmer payne pearson perry porter powell reynolds
		richards richardson saunders simpson spencer stone sullivan wallace warren watts webster wells west
		whitehead wilkinson williamson woods wyatt young zhang wang chen liu yang huang zhao wu zhou xu sun ma
		zhu hu guo he lin luo zheng liang xie tang han cao deng feng zeng peng xiao cai pan tian dong yuan
		jiang ye du su wei cheng lu ding shen ren yao lui`)
	febrlStreets = strings.Fields(`wattle acacia banksia bottlebrush grevillea waratah jacaranda eucalypt
		kurrajong boronia correa hakea melaleuca casuarina angophora telopea darwinia kunzea leptospermum
		callistemon westgarth lonsdale flinders collins bourke swanston elizabeth queen william king spencer
		exhibition russell lygon brunswick smith johnston gertrude victoria albert george pitt kent sussex
		clarence york castlereagh macquarie phillip hunter bligh oconnell`)
	febrlTypes   = []string{"street", "road", "avenue", "place", "crescent", "close", "circuit", "drive"}
	febrlSuburbs = strings.Fields(`toowoomba bundaberg mackay rockhampton cairns townsville gladstone
		ipswich logan redcliffe caboolture maroochydore nambour gympie maryborough hervey warwick dalby
		kingaroy emerald longreach charleville roma goondiwindi stanthorpe tamworth armidale dubbo orange
		bathurst wagga albury goulburn queanbeyan nowra wollongong gosford newcastle maitland cessnock
		kurri singleton muswellbrook taree kempsey coffs grafton lismore ballina casino tweed bendigo ballarat
		geelong shepparton wodonga wangaratta benalla mildura horsham hamilton warrnambool portland colac
		sale bairnsdale traralgon morwell moe warragul pakenham frankston mornington dandenong ringwood
		croydon lilydale healesville belconnen tuggeranong woden gungahlin weston hobart launceston devonport
		burnie ulverstone kingston glenorchy clarence sorell`)
	febrlStates = []string{"nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"}
)

// febrlRecord is one generated row, values in febrlFields order.
func febrlRecord(r *rand.Rand, i int) []string {
	sub := r.IntN(len(febrlSuburbs))
	addr2 := ""
	if r.IntN(4) == 0 {
		addr2 = []string{"unit", "flat", "apartment", "suite"}[r.IntN(4)] + " " + strconv.Itoa(1+r.IntN(40))
	}
	d := time.Date(1920, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(33000))
	return []string{
		febrlGiven[r.IntN(len(febrlGiven))],
		febrlSurnames[r.IntN(len(febrlSurnames))],
		strconv.Itoa(1 + r.IntN(300)),
		febrlStreets[r.IntN(len(febrlStreets))] + " " + febrlTypes[r.IntN(len(febrlTypes))],
		addr2,
		febrlSuburbs[sub],
		strconv.Itoa(2000 + sub*37%7000),
		febrlStates[sub%len(febrlStates)],
		d.Format("20060102"),
		strconv.Itoa(1000000 + i*7919%9000000),
	}
}

// febrlCorrupt returns a copy of v with one to three FEBRL-style errors: a typo, a missing
// value, a changed digit, day and month swapped, a changed street number.
func febrlCorrupt(r *rand.Rand, v []string) []string {
	out := append([]string(nil), v...)
	for n := 1 + r.IntN(3); n > 0; n-- {
		f := r.IntN(len(out))
		switch x := r.IntN(10); {
		case x < 2:
			out[f] = ""
		case f == 8 && x < 5 && len(out[f]) == 8:
			out[f] = out[f][:4] + out[f][6:8] + out[f][4:6]
		default:
			out[f] = febrlTypo(r, out[f])
		}
	}
	return out
}

func febrlTypo(r *rand.Rand, s string) string {
	if len(s) < 2 {
		return s
	}
	b := []byte(s)
	i := 1 + r.IntN(len(b)-1)
	switch r.IntN(4) {
	case 0:
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = byte('0' + r.IntN(10))
		} else {
			b[i] = byte('a' + r.IntN(26))
		}
	case 1:
		b = append(b[:i], b[i+1:]...)
	case 2:
		b = append(b[:i], append([]byte{b[i]}, b[i:]...)...)
	default:
		if i+1 < len(b) {
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
	return string(b)
}

// febrlFiles returns n left records and their n corrupted copies, shuffled.
func febrlFiles(seed uint64, n int) (left, right []linkage.Record) {
	r := rand.New(rand.NewPCG(seed, 99))
	for i := 0; i < n; i++ {
		v := febrlRecord(r, i)
		left = append(left, linkage.Record{ID: fmt.Sprintf("rec-%d-org", i), Values: v})
		right = append(right, linkage.Record{ID: fmt.Sprintf("rec-%d-dup-0", i), Values: febrlCorrupt(r, v)})
	}
	r.Shuffle(len(right), func(i, j int) { right[i], right[j] = right[j], right[i] })
	return left, right
}

// febrlScore scores Link's pairs against the truth (rec-i-org with rec-i-dup-0).
func febrlScore(left, right []linkage.Record, res linkage.Result) prf {
	tp := 0
	for _, p := range res.Pairs {
		if strings.TrimSuffix(left[p.Left].ID, "-org") == strings.TrimSuffix(right[p.Right].ID, "-dup-0") {
			tp++
		}
	}
	return newPRF(tp, len(res.Pairs), len(left))
}

// BenchmarkLinkFebrlShaped links 5,000 x 5,000 FEBRL-shaped records and reports time, pairs
// completeness of blocking, and precision, recall and F1 at 0.5.
func BenchmarkLinkFebrlShaped(b *testing.B) {
	left, right := febrlFiles(1, 5000)
	var res linkage.Result
	var err error
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err = linkage.Link(febrlFields, left, right, linkage.Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	x := febrlScore(left, right, res)
	b.ReportMetric(x.P, "precision")
	b.ReportMetric(x.R, "recall")
	b.ReportMetric(x.F1, "F1")
	b.ReportMetric(float64(res.Candidates), "candidates")
	b.Logf("FEBRL-shaped 5000x5000: %v, %d candidates", x, res.Candidates)
}
