package linkage

import "testing"

func TestPhoneticConfusions(t *testing.T) {
	same := [][]string{
		{"Velásquez", "Belázquez", "Velasques", "VELAZQUEZ"}, // b/v, s/z, accents
		{"Yolanda", "Llolanda"},                              // ll/y
		{"Cecilia", "Sesilia", "Zesilia"},                    // s/z/c before e, i
		{"Hernández", "Ernandes"},                            // silent h, z/s
		{"Heidy", "Eidy"},                                    // silent h
		{"Jiménez", "Gimenez", "Ximénez"},                    // j/g before e, i; x as j
		{"Ximena", "Jimena"},                                 // x as j
		{"Quique", "Kike"},                                   // qu/k
		{"Quintanilla", "Kintanilla", "Quintaniya"},          // qu/k, ll/y
		{"Carlos", "Karlos"},                                 // c/k before a, o, u
		{"Núñez", "Nunez", "NUÑES"},                          // ñ/n
		{"Ambrosio", "Anbrosio"},                             // n/m before b
		{"Rossa", "Rosa"},                                    // double letters
		{"Felipe", "Phelipe"},                                // ph
		{"Wilmer", "Vilmer", "Bilmer"},                       // w/v/b
		{"Reyna", "Reina"},                                   // y as a vowel
		{"Thelma", "Telma"},                                  // silent h after t
	}
	for _, group := range same {
		want := Phonetic(group[0])
		for _, w := range group[1:] {
			if got := Phonetic(w); got != want {
				t.Errorf("Phonetic(%q) = %q, Phonetic(%q) = %q: want equal", w, got, group[0], want)
			}
		}
	}
	differ := [][2]string{
		{"Rosa", "Rosario"}, {"Mario", "María"}, {"Pérez", "Peña"}, {"Castro", "Castillo"},
		{"Gerardo", "Gerarda"}, {"Juan", "Juana"}, {"Chávez", "Sánchez"}, {"Luis", "Luz"},
	}
	for _, p := range differ {
		if Phonetic(p[0]) == Phonetic(p[1]) {
			t.Errorf("Phonetic(%q) = Phonetic(%q) = %q: want different", p[0], p[1], Phonetic(p[0]))
		}
	}
}

func TestPhoneticKeys(t *testing.T) {
	tests := map[string]string{
		"Velásquez": "BELASKES", "Hernández": "ERNANDES", "Quique": "KIKE", "Chávez": "CHABES",
		"Guillermo": "GUIYERMO", "Gerardo": "JERARDO", "Acción": "AKSION", "Cynthia": "SINTIA",
		"Xol": "JOL", "Alexander": "ALEKSANDER", "Yeny": "YENI", "": "", "123": "", "Güity": "GUITI",
	}
	for in, want := range tests {
		if got := Phonetic(in); got != want {
			t.Errorf("Phonetic(%q) = %q, want %q", in, got, want)
		}
	}
}
