package linkage

import "strings"

// Phonetic returns a key under which spellings of a word that sound alike in Latin-American
// Spanish agree: "Velásquez", "Belázquez" and "Velasques" all give "BELASKES"; "Yolanda" and
// "Llolanda", "Jiménez" and "Gimenez", "Hernández" and "Ernandes", "Quique" and "Kike".
//
// It folds the word (case, accents, ñ to n) and then, left to right:
//   - b, v and w are B; z and s are S; c before e or i is S, otherwise K; q and k are K
//     ("qu" before e or i drops its u); x starting a word is J (Ximena, Xavier), elsewhere KS;
//   - g before e or i is J ("gu" before e or i keeps G and its u); j is J;
//   - h is silent except in "ch" (kept as CH); ph is F;
//   - ll and y before a vowel are Y; y elsewhere is the vowel I (Yeny, Nery);
//   - n before b, v, w or p is M (Ambrosio, Anbrosio);
//   - doubled letters count once; anything that is not a letter is dropped.
//
// Vowels are kept: Spanish spells them as it says them, so they separate names well.
func Phonetic(word string) string {
	w := fold(validUTF8(word))
	// Keep letters only, as bytes: after folding, Spanish words are ASCII.
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return ""
	}
	var out strings.Builder
	out.Grow(len(b) + 2)
	last := "" // the last code written, to collapse doubles ("rr", "ss", "cc" before e)
	emit := func(code string) {
		if code == last {
			return
		}
		out.WriteString(code)
		last = code
	}
	at := func(i int) byte {
		if i >= 0 && i < len(b) {
			return b[i]
		}
		return 0
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case 'a', 'e', 'i', 'o', 'u':
			emit(string(c - 'a' + 'A'))
		case 'b', 'v', 'w':
			emit("B")
		case 's', 'z':
			emit("S")
		case 'c':
			switch n := at(i + 1); {
			case n == 'h':
				emit("CH")
				i++
			case frontVowel(b, i+1):
				emit("S")
			case n == 'c' && (at(i+2) == 'e' || at(i+2) == 'i'):
				emit("K") // "acción": the first c is K, the second S
				last = "K"
			default:
				emit("K")
			}
		case 'k':
			emit("K")
		case 'q':
			emit("K")
			if at(i+1) == 'u' && (at(i+2) == 'e' || at(i+2) == 'i') {
				i++
			}
		case 'x':
			if i == 0 {
				emit("J")
			} else {
				emit("K")
				emit("S")
			}
		case 'g':
			j := i + 1
			for at(j) == 'h' {
				j++ // silent
			}
			switch {
			case frontVowel(b, j):
				emit("J")
			default:
				emit("G")
			}
		case 'j':
			emit("J")
		case 'h':
			// silent
		case 'p':
			if at(i+1) == 'h' {
				emit("F")
				i++
			} else {
				emit("P")
			}
		case 'l':
			if at(i+1) == 'l' && isVowel(at(i+2)) {
				emit("Y")
				i++
			} else {
				emit("L")
			}
		case 'y':
			if isVowel(at(i + 1)) {
				emit("Y")
			} else {
				emit("I")
			}
		case 'n':
			j := i + 1
			for at(j) == 'h' {
				j++ // silent
			}
			// Before a letter that sounds B or P, n is said m.
			if n := at(j); n == 'b' || n == 'v' || n == 'w' || (n == 'p' && at(j+1) != 'h') {
				emit("M")
			} else {
				emit("N")
			}
		default:
			emit(string(c - 'a' + 'A'))
		}
	}
	return out.String()
}

// frontVowel reports whether b[i] is e or i, or a y that sounds as i (not before a vowel):
// the letters that soften c and g.
func frontVowel(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case 'e', 'i':
		return true
	case 'y':
		return i+1 >= len(b) || !isVowel(b[i+1])
	}
	return false
}

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u':
		return true
	}
	return false
}
