package linkage

import (
	"strings"
	"sync"
)

// A dict interns the words records are made of (folded name tokens, place names, codes) and
// precomputes what comparisons need about each one: its phonetic key and its canonical names.
// Records then hold small integer ids, comparisons of equal words are integer compares, and
// the phonetic key of "Hernández" is computed once, not once per pair.
//
// Interning takes a mutex; reading a word's info does not. Entries live in fixed-size chunks
// that never move, and an id only reaches a reader through a path that synchronised with the
// writer that created it (the dict's mutex or the index lock), so readers need no lock.
type dict struct {
	mu     sync.Mutex
	ids    map[string]uint32 // word -> id
	keyIDs map[string]uint32 // phonetic key -> key id (a separate id space)
	keyStr []string          // key id -> phonetic key
	n      uint32
	chunks [maxChunks]*[chunkSize]word
}

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	maxChunks = 1 << 16 // 268M words, far more than any population has

	// expandedBit marks a token produced by expanding a compound nickname ("Chema" becomes
	// José María): equal to the written name at the nickname level, not the exact one.
	expandedBit = 1 << 31
	idMask      = expandedBit - 1
)

// word is what the engine knows about one interned string.
type word struct {
	s      string
	h      uint64   // hash of s: the term-frequency key of codes and numbers
	kh     uint64   // hash of its first canonical name's phonetic key: its term-frequency key as a name
	phon   uint32   // key id of Phonetic(s)
	ps     string   // Phonetic(s)
	canon  []uint32 // ids of its canonical names (itself when it is no nickname)
	keys   []uint32 // key ids of the phonetic keys of its canonical names: blocking and TF keys
	expand []uint32 // for a nickname of one compound name ("chema"): the ids of its words
}

func newDict() *dict {
	return &dict{ids: map[string]uint32{}, keyIDs: map[string]uint32{}}
}

// at returns the info of word id (without the expanded bit).
func (d *dict) at(id uint32) *word {
	id &= idMask
	return &d.chunks[id>>chunkBits][id&(chunkSize-1)]
}

// intern returns the id of s, adding it (with its phonetic key and canonical names) if new.
func (d *dict) intern(s string) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.internLocked(s)
}

func (d *dict) key(k string) uint32 {
	if id, ok := d.keyIDs[k]; ok {
		return id
	}
	id := uint32(len(d.keyStr))
	d.keyIDs[k] = id
	d.keyStr = append(d.keyStr, k)
	return id
}

func (d *dict) internLocked(s string) uint32 {
	if id, ok := d.ids[s]; ok {
		return id
	}
	id := d.add(s)
	w := d.at(id)
	w.ps = Phonetic(s)
	w.phon = d.key(w.ps)
	// Canonical names: only single words that look like names have any. A nickname spelt
	// another way ("Periko", "Kike") is found by its sound, unless the word is itself a name.
	canon := []string{s}
	if !strings.ContainsAny(s, " 0123456789") {
		if c, ok := nicknames()[s]; ok {
			canon = c
		} else if c, ok := nicknamesBySound()[w.ps]; ok && !canonicalNames()[s] {
			canon = c
		}
	}
	if len(canon) == 1 && strings.Contains(canon[0], " ") {
		// A nickname of exactly one compound name expands into its words; those words are
		// what it agrees with.
		for _, part := range strings.Fields(canon[0]) {
			w.expand = append(w.expand, d.internLocked(part))
		}
		canon = strings.Fields(canon[0])[:1]
	}
	for _, c := range canon {
		if c != s {
			c, _, _ = strings.Cut(c, " ") // an ambiguous nickname agrees with the first word of a compound
		}
		var cid uint32
		if c == s {
			cid = id
		} else {
			cid = d.internLocked(c)
		}
		w = d.at(id) // re-fetch: chunks never move, but keep the read obviously fresh
		w.canon = append(w.canon, cid)
		k := d.at(cid).phon
		if cid == id {
			k = w.phon
		}
		if !containsID(w.keys, k) {
			w.keys = append(w.keys, k)
		}
	}
	w.h = hashString(s)
	w.kh = hashString(d.keyStr[w.keys[0]])
	return id
}

// hashString is 64-bit FNV-1a: stable across processes and dictionaries, so frequency tables
// keyed by it can travel with a Model.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// add allocates the next id for s; the caller fills in the rest under the mutex.
func (d *dict) add(s string) uint32 {
	id := d.n
	if id>>chunkBits >= maxChunks {
		panic("linkage: dictionary full")
	}
	if d.chunks[id>>chunkBits] == nil {
		d.chunks[id>>chunkBits] = new([chunkSize]word)
	}
	d.n++
	d.ids[s] = id
	d.at(id).s = s
	return id
}

// lookup returns the id of s if it is interned.
func (d *dict) lookup(s string) (uint32, bool) {
	d.mu.Lock()
	id, ok := d.ids[s]
	d.mu.Unlock()
	return id, ok
}

func containsID(s []uint32, x uint32) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
