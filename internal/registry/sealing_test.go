package registry_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"testing"

	"caravana/internal/crypto"
	"caravana/internal/event"
	"caravana/internal/names"
	"caravana/internal/registry"
	"caravana/internal/store"
)

// rawPerson is the stored person document, read as generic JSON: the test
// looks at what is on disk, not at the registry's own types.
type rawPerson struct {
	ID     string `json:"id"`
	Fields map[string]struct {
		V string   `json:"v"`
		I []string `json:"i"`
	} `json:"fields"`
}

func readRawPerson(t *testing.T, st store.Store, id string) ([]byte, rawPerson) {
	t.Helper()
	var data []byte
	if err := st.View(ctx, func(tx store.ReadTx) error {
		var err error
		data, err = tx.Get(ctx, "person", id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var doc rawPerson
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return data, doc
}

var blindKeyRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestPIISealedInStore (S2): no plaintext PII in any projection document or
// event body; blind index keys are keyed hashes, not the names.
func TestPIISealedInStore(t *testing.T) {
	n := newNode(t)
	in := fullPerson()
	p := register(t, n, in)
	if _, err := n.Registry.Update(ctx, coord, p.ID, registry.Patch{Fields: map[string]string{"surname2": "Cuauhtemoctzin"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Registry.CreateHousehold(ctx, coord, registry.HouseholdInput{Label: "Familia Tlapaltecatl", Kind: "family",
		Members: []registry.Member{{Person: p.ID, Role: "head"}}}); err != nil {
		t.Fatal(err)
	}
	secret := append(secrets(in), "Cuauhtemoctzin", "Familia Tlapaltecatl", p.Code)
	secret = append(secret, in.Flags...) // health and vulnerability are PII too

	docs, events := 0, 0
	err := n.Store.View(ctx, func(tx store.ReadTx) error {
		if err := tx.EachDoc(ctx, func(kind, id string, data []byte) error {
			docs++
			if l := leaked(kind+" "+id+" "+string(data), secret); len(l) > 0 {
				t.Errorf("document %s/%s holds plaintext %q", kind, id, l)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.EachEvent(ctx, func(e *event.Event) error {
			events++
			if l := leaked(e.Actor+" "+e.Subject+" "+string(e.Body), secret); len(l) > 0 {
				t.Errorf("event %s (%s) holds plaintext %q", e.ID(), e.Kind, l)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if docs < 3 || events < 5 {
		t.Fatalf("scanned %d documents and %d events: too few to mean anything", docs, events)
	}

	_, doc := readRawPerson(t, n.Store, p.ID)
	for _, f := range []string{"code", "given_names", "surname1", "surname2", "sex", "birth_date", "nationality",
		"origin_town", "phone", "notes", "flags"} {
		if v := doc.Fields[f].V; !crypto.IsSealed(v) {
			t.Errorf("stored %s = %q, not a sealed value", f, v)
		}
	}
	// Blind index keys: keyed hashes, one per name token, that the index
	// really files the person under; never the token itself.
	for f, v := range map[string]string{"given_names": in.GivenNames, "surname1": in.Surname1, "surname2": "Cuauhtemoctzin"} {
		keys := doc.Fields[f].I
		tokens := names.Tokens(v)
		if len(keys) != len(tokens) {
			t.Errorf("%s: %d index keys for %d tokens", f, len(keys), len(tokens))
		}
		for _, k := range keys {
			if !blindKeyRE.MatchString(k) || slices.Contains(tokens, k) || k == v {
				t.Errorf("%s: index key %q is not a blind key", f, k)
			}
			var ids []string
			n.Store.View(ctx, func(tx store.ReadTx) error { ids, _ = tx.Lookup(ctx, "name", k); return nil })
			if !slices.Equal(ids, []string{p.ID}) {
				t.Errorf("%s: index key %s finds %v, want [%s]", f, k, ids, p.ID)
			}
		}
	}
	if keys := doc.Fields["code"].I; len(keys) != 1 || !blindKeyRE.MatchString(keys[0]) || keys[0] == p.Code {
		t.Errorf("code index keys = %q", keys)
	}
	// Same name, same key: the index is deterministic (or search could not work).
	q := register(t, n, registry.PersonInput{GivenNames: "XOCHIQUETZAL", Surname1: "Otro", Sex: "F",
		Consent: registry.Consent{Registration: true}})
	_, qdoc := readRawPerson(t, n.Store, q.ID)
	if len(qdoc.Fields["given_names"].I) != 1 || qdoc.Fields["given_names"].I[0] != doc.Fields["given_names"].I[0] {
		t.Errorf("blind keys for the same folded name differ: %v vs %v", qdoc.Fields["given_names"].I, doc.Fields["given_names"].I)
	}
	// ... but the sealed values do not repeat (random nonces).
	if qdoc.Fields["sex"].V == doc.Fields["sex"].V {
		t.Error("two people's equal sex values sealed to the same ciphertext")
	}
}

// TestSealedValueBoundToRecord (S2): a sealed value opens only for the
// person and field it was sealed for; moved to another person's document
// or another field, or with one bit flipped, it fails to open, and the
// registry refuses to show that record rather than show a wrong value.
func TestSealedValueBoundToRecord(t *testing.T) {
	n := newNode(t)
	a := register(t, n, fullPerson())
	b := register(t, n, person("Berta", "Paz"))
	_, adoc := readRawPerson(t, n.Store, a.ID)
	sealed := adoc.Fields["given_names"].V

	if got, err := n.Sealer.OpenField("person/"+a.ID, "given_names", sealed); err != nil || got != a.GivenNames {
		t.Fatalf("OpenField in place = %q, %v; want %q", got, err, a.GivenNames)
	}
	if _, err := n.Sealer.OpenField("person/"+b.ID, "given_names", sealed); !errors.Is(err, crypto.ErrSealed) {
		t.Errorf("OpenField for another person: error = %v, want ErrSealed", err)
	}
	if _, err := n.Sealer.OpenField("person/"+a.ID, "surname1", sealed); !errors.Is(err, crypto.ErrSealed) {
		t.Errorf("OpenField for another field: error = %v, want ErrSealed", err)
	}

	tamper := func(t *testing.T, id string, edit func(map[string]any)) {
		t.Helper()
		err := n.Store.Update(ctx, func(tx store.Tx) error {
			data, err := tx.Get(ctx, "person", id)
			if err != nil {
				return err
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				return err
			}
			edit(doc)
			data, _ = json.Marshal(doc)
			return tx.Put(ctx, "person", id, data)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setField := func(f, v string) func(map[string]any) {
		return func(doc map[string]any) { doc["fields"].(map[string]any)[f].(map[string]any)["v"] = v }
	}
	t.Run("moved to another person", func(t *testing.T) {
		tamper(t, b.ID, setField("given_names", sealed))
		if got, err := n.Registry.Get(ctx, coord, b.ID, "t"); !errors.Is(err, crypto.ErrSealed) {
			t.Errorf("Get after swap = %+v, %v; want ErrSealed", got, err)
		}
		tamper(t, b.ID, setField("given_names", n.Sealer.Seal("person/"+b.ID, "given_names", "Berta")))
		if got, err := n.Registry.Get(ctx, coord, b.ID, "t"); err != nil || got.GivenNames != "Berta" {
			t.Errorf("Get after restore = %+v, %v", got, err)
		}
	})
	t.Run("moved to another field", func(t *testing.T) {
		tamper(t, a.ID, setField("surname2", sealed))
		if _, err := n.Registry.Get(ctx, coord, a.ID, "t"); !errors.Is(err, crypto.ErrSealed) {
			t.Errorf("Get after moving a value to another field: %v, want ErrSealed", err)
		}
		tamper(t, a.ID, setField("surname2", adoc.Fields["surname2"].V))
	})
	t.Run("bit flipped", func(t *testing.T) {
		flipped := []byte(sealed)
		i := len(flipped) - 5
		flipped[i] ^= 0x01
		if flipped[i] == sealed[i] || string(flipped) == sealed {
			t.Fatal("flip did nothing")
		}
		tamper(t, a.ID, setField("given_names", string(flipped)))
		if _, err := n.Registry.Get(ctx, coord, a.ID, "t"); !errors.Is(err, crypto.ErrSealed) {
			t.Errorf("Get after a bit flip: %v, want ErrSealed", err)
		}
	})
}
