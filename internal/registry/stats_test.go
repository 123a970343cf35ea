package registry_test

import (
	"slices"
	"testing"

	"caravana/internal/registry"
)

func countsMap(cs []registry.Count) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Key] = c.Value
	}
	return m
}

func sum(cs []registry.Count) int {
	s := 0
	for _, c := range cs {
		s += c.Value
	}
	return s
}

func TestStats(t *testing.T) {
	n := newNode(t)
	// Ages on today (2018-10-20), birthdays on the edges of the bands.
	people := []struct {
		birth, sex, nat string
		flags           []string
	}{
		{"2016-01-01", "F", "HN", []string{"unaccompanied_child"}}, // 2
		{"2013-10-21", "M", "HN", nil},                             // 4: birthday tomorrow
		{"2013-10-20", "M", "GT", nil},                             // 5 today
		{"2006-10-21", "F", "HN", []string{"separated_child"}},     // 11
		{"2006-10-20", "X", "SV", nil},                             // 12
		{"2000-10-21", "F", "HN", []string{"pregnant"}},            // 17
		{"2000-10-20", "F", "HN", []string{"pregnant", "medical"}}, // 18
		{"1958-10-21", "M", "GT", []string{"disability"}},          // 59
		{"1958-10-20", "M", "", []string{"elderly", "medical"}},    // 60
		{"", "F", "", nil},                                         // unknown age
	}
	var ids []string
	for i, p := range people {
		in := person("Persona", "Prueba")
		in.GivenNames = "Persona " + string(rune('A'+i))
		in.BirthDate, in.Sex, in.Nationality, in.Flags = p.birth, p.sex, p.nat, p.flags
		ids = append(ids, register(t, n, in).ID)
	}
	// Households of 1, 2 and 7 people, and one emptied (not counted).
	mk := func(members ...string) string {
		var ms []registry.Member
		for i, id := range members {
			role := "child"
			if i == 0 {
				role = "head"
			}
			ms = append(ms, registry.Member{Person: id, Role: role})
		}
		h, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "H", Kind: "family", Members: ms})
		if err != nil {
			t.Fatal(err)
		}
		return h.ID
	}
	mk(ids[0])
	mk(ids[1], ids[2])
	mk(ids[3:]...)
	empty := mk(ids[0])
	if _, err := n.Registry.RemoveMember(ctx, coord, empty, ids[0]); err != nil {
		t.Fatal(err)
	}

	st, err := n.Registry.Stats(ctx, coord)
	if err != nil {
		t.Fatal(err)
	}
	if st.People != 10 || st.Children != 6 || st.Households != 3 {
		t.Errorf("people %d children %d households %d, want 10 6 3", st.People, st.Children, st.Households)
	}
	wantBands := []registry.Count{{"0-4", 2}, {"5-11", 2}, {"12-17", 2}, {"18-59", 2}, {"60+", 1}, {"unknown", 1}}
	if !slices.Equal(st.AgeBands, wantBands) {
		t.Errorf("age bands %v, want %v", st.AgeBands, wantBands)
	}
	if wantSex := []registry.Count{{"F", 5}, {"M", 4}, {"X", 1}}; !slices.Equal(st.Sex, wantSex) {
		t.Errorf("sex %v, want %v", st.Sex, wantSex)
	}
	if wantNat := []registry.Count{{"HN", 5}, {"GT", 2}, {"unknown", 2}, {"SV", 1}}; !slices.Equal(st.Nationality, wantNat) {
		t.Errorf("nationality %v, want %v", st.Nationality, wantNat)
	}
	if got, want := countsMap(st.HouseholdSizes), map[string]int{"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6+": 1}; !mapsEqual(got, want) {
		t.Errorf("household sizes %v, want %v", got, want)
	}
	wantFlags := map[string]int{"unaccompanied_child": 1, "separated_child": 1, "pregnant": 2, "disability": 1, "elderly": 1, "medical": 2}
	if got := countsMap(st.Flags); !mapsEqual(got, wantFlags) {
		t.Errorf("flags %v, want %v", got, wantFlags)
	}

	// The totals add up for every role, and flags follow what the role may see.
	for _, v := range visibility {
		st, err := n.Registry.Stats(ctx, v.p)
		if err != nil {
			t.Fatal(err)
		}
		if sum(st.AgeBands) != st.People || sum(st.Sex) != st.People || sum(st.Nationality) != st.People ||
			sum(st.HouseholdSizes) != st.Households || st.People != 10 {
			t.Errorf("%s: totals do not add up: %+v", v.p.Role, st)
		}
		got := countsMap(st.Flags)
		var keys []string
		for k, c := range got {
			keys = append(keys, k)
			if c != wantFlags[k] {
				t.Errorf("%s: flag %s = %d, want %d", v.p.Role, k, c, wantFlags[k])
			}
		}
		if slices.Sort(keys); !slices.Equal(keys, v.flags) {
			t.Errorf("%s: flags shown %v, want %v", v.p.Role, keys, v.flags)
		}
	}
	// Reading figures is audited, as an aggregate.
	last := lastAuditID(t, n)
	n.Registry.Stats(ctx, vol)
	if rows := auditSince(t, n, last); len(rows) != 1 || rows[0].Action != "stats.read" || rows[0].Actor != vol.UserID {
		t.Errorf("stats audit rows %+v", rows)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAgeBand(t *testing.T) {
	tests := []struct {
		age   int
		known bool
		want  string
	}{
		{0, true, "0-4"}, {4, true, "0-4"}, {5, true, "5-11"}, {11, true, "5-11"}, {12, true, "12-17"},
		{17, true, "12-17"}, {18, true, "18-59"}, {59, true, "18-59"}, {60, true, "60+"}, {104, true, "60+"},
		{30, false, "unknown"},
	}
	for _, tc := range tests {
		if got := registry.AgeBand(tc.age, tc.known); got != tc.want {
			t.Errorf("AgeBand(%d, %v) = %q, want %q", tc.age, tc.known, got, tc.want)
		}
	}
}
