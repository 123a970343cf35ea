package linkage

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// The nickname list is a data file so that people who know the region can correct it without
// touching Go code; it is embedded so the binary needs no files at run time.
//
//go:embed data/nicknames.tsv
var nicknamesTSV string

// nicknames maps a folded nickname to the folded canonical names it stands for; loaded once.
var nicknames = sync.OnceValue(func() map[string][]string {
	m, err := parseNicknames(nicknamesTSV)
	if err != nil {
		panic("linkage: " + err.Error()) // the file is compiled in; the tests load it
	}
	return m
})

// nicknamesBySound maps the phonetic key of each nickname to its canonical names, so that a
// nickname spelt another way is still known. Nicknames that sound alike pool their names.
var nicknamesBySound = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	for nick, canon := range nicknames() {
		k := Phonetic(nick)
		for _, c := range canon {
			if !slices.Contains(m[k], c) {
				m[k] = append(m[k], c)
			}
		}
	}
	return m
})

// canonicalNames is the set of words that are canonical names in the nickname file (and so are
// never taken for a misspelt nickname).
var canonicalNames = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, canon := range nicknames() {
		for _, c := range canon {
			for _, w := range strings.Fields(c) {
				m[w] = true
			}
		}
	}
	return m
})

// parseNicknames reads the nickname file: "nickname<TAB>canonical|canonical...".
func parseNicknames(s string) (map[string][]string, error) {
	m := map[string][]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		nick, canon, ok := strings.Cut(line, "\t")
		key := strings.Join(NameTokens(nick), " ")
		if !ok || key == "" || strings.TrimSpace(canon) == "" {
			return nil, fmt.Errorf("nicknames.tsv:%d: want nickname<TAB>canonical", i+1)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("nicknames.tsv:%d: %q listed twice", i+1, nick)
		}
		for _, c := range strings.Split(canon, "|") {
			ct := strings.Join(NameTokens(c), " ")
			if ct == "" {
				return nil, fmt.Errorf("nicknames.tsv:%d: empty canonical name", i+1)
			}
			m[key] = append(m[key], ct)
		}
	}
	return m, nil
}

// Canonical maps a given name or nickname to the canonical given names it may stand for,
// folded: "Pepe" gives [jose], "Beto" gives [alberto roberto humberto ...], "Chema" gives
// ["jose maria"] (a compound canonical is one string, its words joined by a space). A
// nickname spelt another way is known by its sound ("Periko" gives [pedro]) unless the word is
// itself a canonical name. A name with no entry gives itself, folded; an empty name gives nil.
func Canonical(given string) []string {
	key := strings.Join(NameTokens(given), " ")
	if key == "" {
		return nil
	}
	if c, ok := nicknames()[key]; ok {
		return append([]string(nil), c...)
	}
	if !strings.Contains(key, " ") && !canonicalNames()[key] {
		if c, ok := nicknamesBySound()[Phonetic(key)]; ok {
			return append([]string(nil), c...)
		}
	}
	return []string{key}
}
