package web

import (
	"context"
	"strings"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

// TestAPIMemberAddFieldNames: the member endpoint's errors name the keys
// of its own body (role, person, code), not the registry's members[0].
func TestAPIMemberAddFieldNames(t *testing.T) {
	e := newEnv(t)
	head := e.register(samplePerson("Cabeza", "Familia"))
	kid := e.register(samplePerson("Nino", "Familia"))
	h, err := e.n.Registry.CreateHousehold(context.Background(), auth.Operator("test"),
		registry.HouseholdInput{Label: "Casa", Kind: "family", Members: []registry.Member{{Person: head.ID, Role: "head"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(auth.Coordinator)
	path := "/api/v1/households/" + h.ID + "/members"
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"bad role, by id", `{"person":"` + kid.ID + `","role":"kid"}`, []string{"role"}},
		{"bad role, by code", `{"code":"` + kid.Code + `","role":"kid"}`, []string{"role"}},
		{"unknown person id", `{"person":"0123456789abcdef","role":"child"}`, []string{"person"}},
		{"unknown person and role", `{"person":"0123456789abcdef","role":""}`, []string{"role", "person"}},
		{"both person and code", `{"person":"` + kid.ID + `","code":"` + kid.Code + `","role":"child"}`, []string{"person"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.events()
			r := c.do("POST", path, tt.body, nil)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			var got errorBody
			r.json(t, &got)
			var names []string
			for _, f := range got.Fields {
				names = append(names, f.Field)
			}
			if strings.Join(names, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %v, want %v: %s", names, tt.fields, r.body)
			}
			if e.events() != before {
				t.Errorf("a refused request wrote events")
			}
		})
	}
	if r := c.do("POST", path, `{"code":"`+kid.Code+`","role":"child"}`, nil); r.status != 200 {
		t.Errorf("a good member: %d %s", r.status, r.body)
	}
}
