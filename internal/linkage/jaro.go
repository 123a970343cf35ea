package linkage

import "unicode/utf8"

// JaroWinkler returns the Jaro-Winkler similarity of a and b in [0,1]: 1 for equal strings,
// 0 for strings with nothing in common, with a bonus for a shared prefix of up to four
// characters (scaling factor 0.1, applied above a Jaro similarity of 0.7). It compares
// characters, not bytes; callers fold case and accents first if they want them ignored.
func JaroWinkler(a, b string) float64 {
	if isASCII(a) && isASCII(b) {
		return jaroWinklerBytes(a, b)
	}
	return jaroWinklerRunes([]rune(a), []rune(b))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jaroWinklerBytes is the allocation-free path for ASCII (folded names are ASCII); strings
// longer than 64 bytes take the general path.
func jaroWinklerBytes(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	if la > 64 || lb > 64 {
		return jaroWinklerRunes([]rune(a), []rune(b))
	}
	if la > lb || (la == lb && a > b) { // a fixed order keeps the greedy matching symmetric
		a, b, la, lb = b, a, lb, la
	}
	window := max(lb/2-1, 0)
	var ma, mb uint64 // matched flags
	m := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if mb&(1<<j) == 0 && a[i] == b[j] {
				ma |= 1 << i
				mb |= 1 << j
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, j := 0, 0
	for i := 0; i < la; i++ {
		if ma&(1<<i) == 0 {
			continue
		}
		for mb&(1<<j) == 0 {
			j++
		}
		if a[i] != b[j] {
			t++
		}
		j++
	}
	fm := float64(m)
	jaro := (fm/float64(la) + fm/float64(lb) + (fm-float64(t/2))/fm) / 3
	return winkler(jaro, commonPrefixBytes(a, b))
}

func commonPrefixBytes(a, b string) int {
	n := 0
	for n < 4 && n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func winkler(jaro float64, prefix int) float64 {
	if jaro <= 0.7 {
		return jaro
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

func jaroWinklerRunes(a, b []rune) float64 {
	la, lb := len(a), len(b)
	if la == 0 && lb == 0 {
		return 1
	}
	if la == 0 || lb == 0 {
		return 0
	}
	if la > lb || (la == lb && string(a) > string(b)) {
		a, b, la, lb = b, a, lb, la
	}
	window := max(lb/2-1, 0)
	ma := make([]bool, la)
	mb := make([]bool, lb)
	m := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-window), min(lb, i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && a[i] == b[j] {
				ma[i], mb[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, j := 0, 0
	for i := 0; i < la; i++ {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if a[i] != b[j] {
			t++
		}
		j++
	}
	fm := float64(m)
	jaro := (fm/float64(la) + fm/float64(lb) + (fm-float64(t/2))/fm) / 3
	p := 0
	for p < 4 && p < la && p < lb && a[p] == b[p] {
		p++
	}
	return winkler(jaro, p)
}

// within1 reports whether a and b differ by at most one edit: one byte inserted, deleted or
// substituted, or two adjacent bytes transposed (the optimal string alignment distance is at
// most 1). Codes and numbers are ASCII after normalisation.
func within1(a, b string) bool {
	la, lb := len(a), len(b)
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	if lb-la > 1 {
		return false
	}
	i := 0
	for i < la && a[i] == b[i] {
		i++
	}
	if i == la {
		return true // equal, or b has one more byte at the end
	}
	if la == lb {
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // transposition
	}
	return a[i:] == b[i+1:] // insertion into a
}
