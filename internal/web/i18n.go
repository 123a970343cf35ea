package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// catalog is one language's UI strings, by key. Values may hold fmt verbs.
type catalog map[string]string

// T returns the string for key, formatted with args. A missing key shows
// as itself: the catalogue test makes sure that never ships.
func (c catalog) T(key string, args ...any) string {
	v, ok := c[key]
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(v, args...)
	}
	return v
}

// Has reports whether key is in the catalogue.
func (c catalog) Has(key string) bool { _, ok := c[key]; return ok }

// languages in preference order: Spanish first, the caravan's language.
var languages = []string{"es", "en"}

func loadCatalogs() (map[string]catalog, error) {
	cats := map[string]catalog{}
	for _, l := range languages {
		data, err := assets.ReadFile("i18n/" + l + ".json")
		if err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", l, err)
		}
		var c catalog
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", l, err)
		}
		cats[l] = c
	}
	// Both catalogues must have the same keys, or a page would show a raw
	// key in one language.
	want := slices.Sorted(maps.Keys(cats[languages[0]]))
	for _, l := range languages[1:] {
		if got := slices.Sorted(maps.Keys(cats[l])); !slices.Equal(got, want) {
			return nil, fmt.Errorf("web: catalogues %s and %s have different keys", languages[0], l)
		}
	}
	return cats, nil
}
