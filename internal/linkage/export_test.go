package linkage

import "time"

// BlockedPairs returns the pairs blocking proposes, as positions in the inputs (for dedup,
// left == right and Left < Right), so tests can measure what blocking loses.
func BlockedPairs(fields []Field, left, right []Record, dedup bool, asOf time.Time) (map[[2]int]bool, error) {
	e, err := newEngine(fields, asOf)
	if err != nil {
		return nil, err
	}
	lo, ro := canonicalOrder(left), canonicalOrder(right)
	lf, rf := featurizeAll(e, left, lo), featurizeAll(e, right, ro)
	if dedup {
		rf, ro = lf, lo
	}
	out := map[[2]int]bool{}
	for _, c := range candidates(e, lf, rf, dedup) {
		a, b := lo[c.a], ro[c.b]
		if dedup && a > b {
			a, b = b, a
		}
		out[[2]int{a, b}] = true
	}
	return out, nil
}
