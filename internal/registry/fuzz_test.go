package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"caravana/internal/registry"
)

// FuzzPersonInputJSON (S18) decodes arbitrary bytes as an API body into a
// PersonInput, strictly, and registers what decodes. It must never panic;
// it either registers exactly one event or returns a ValidationError naming
// only real fields, with nothing written.
func FuzzPersonInputJSON(f *testing.F) {
	seeds := []string{
		`{"given_names":"José Luis","surname1":"Núñez","sex":"M","birth_date":"1990-05-01","nationality":"hn","consent":{"registration":true}}`,
		`{"given_names":"Ana","surname1":"Paz","sex":"f","phone":"+504 9812-3456","flags":["pregnant","medical"],"consent":{"registration":true,"tracing":true}}`,
		`{"given_names":"","surname1":"","sex":"Q","birth_date":"3000-01-01","flags":["vip"]}`,
		`{"given_names":"A\u0000","surname1":"B","sex":"X","notes":"line\nline","consent":{"registration":true}}`,
		`{"given_names":"Ana","surname1":"Paz","sex":"X","nationality":"ß","consent":{"registration":true}}`,
		`{"given_names":"Ana","surname1":"Paz","sex":"X","origin_town":"` + strings.Repeat("o", 101) + `","consent":{"registration":true}}`,
		`{"given_names":"Ana","surname1":"Paz","sex":"X","flags":[" medical","medical",""],"consent":{"registration":true}}`,
		`{"unknown":1}`,
		`{"flags":null,"consent":null}`,
		`[]`, `null`, `{`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	n := newNode(f)
	known := map[string]bool{"given_names": true, "surname1": true, "surname2": true, "sex": true, "birth_date": true,
		"nationality": true, "origin_town": true, "phone": true, "notes": true, "flags": true, "consent.registration": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var in registry.PersonInput
		if err := dec.Decode(&in); err != nil {
			return
		}
		before := countEvents(t, n)
		p, err := n.Registry.Register(ctx, coord, in)
		after := countEvents(t, n)
		if err == nil {
			if after != before+1 {
				t.Fatalf("a registration wrote %d events, want 1", after-before)
			}
			if p.ID == "" || p.Code == "" || p.GivenNames == "" || p.Surname1 == "" || !in.Consent.Registration {
				t.Fatalf("registered %+v from %+v", p, in)
			}
			return
		}
		var v registry.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("Register error %v (%T) is not a ValidationError", err, err)
		}
		if len(v) == 0 {
			t.Fatal("empty ValidationError")
		}
		for _, fe := range v {
			if !known[fe.Field] || fe.Code == "" || fe.Message == "" {
				t.Fatalf("field error %+v names no known field", fe)
			}
		}
		if after != before {
			t.Fatalf("a refused registration wrote %d events", after-before)
		}
	})
}
