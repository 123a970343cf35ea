package registry

// What the journey (check-ins, headcounts, the missing list) needs from the
// registry, without ever decrypting a field outside this package (S7): code
// look-ups that return an id, the minimal summary a checkpoint shows, and
// bulk, in-memory, audited facts (age band, child-protection flags) and
// household memberships for many people at once.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"caravana/internal/auth"
	"caravana/internal/event"
	"caravana/internal/store"
)

// Summary is what a checkpoint shows to recognise a person at a glance: the
// name, sex, age and vulnerability flags, as far as the principal's role may
// see them. No birth date, phone, origin or notes, whatever the role.
type Summary struct {
	ID      string   `json:"id"`
	Code    string   `json:"code,omitempty"`
	Name    string   `json:"name,omitempty"`
	Sex     string   `json:"sex,omitempty"`
	Age     *int     `json:"age,omitempty"`
	AgeBand string   `json:"age_band"`
	Flags   []string `json:"flags,omitempty"`
}

// Facts are what counting and the missing list need about one person, and
// nothing that names them: age band, whether a child, and the
// vulnerability flags the role may see.
type Facts struct {
	AgeBand string   `json:"age_band"`
	Child   bool     `json:"child"` // under 18, age known
	Flags   []string `json:"flags,omitempty"`
}

// HasFlag reports whether f is among the facts' flags.
func (f Facts) HasFlag(flag string) bool { return slices.Contains(f.Flags, flag) }

// HouseholdFacts is a household's kind and members, and its label when asked.
type HouseholdFacts struct {
	ID      string   `json:"id"`
	Label   string   `json:"label,omitempty"`
	Kind    string   `json:"kind"`
	Members []Member `json:"members"`
}

// Glance is a person and their households' members, as a checkpoint shows
// them after a scan.
type Glance struct {
	Person     Summary           `json:"person"`
	Households []GlanceHousehold `json:"households"`
}

// GlanceHousehold is one household in a Glance.
type GlanceHousehold struct {
	ID      string         `json:"id"`
	Label   string         `json:"label,omitempty"`
	Kind    string         `json:"kind"`
	Members []GlanceMember `json:"members"`
}

// GlanceMember is a household member in a Glance.
type GlanceMember struct {
	Role   string  `json:"role"`
	Person Summary `json:"person"`
}

// factsDoc is the part of a person document that facts and summaries read:
// decoding only these fields skips the rest of the sealed record.
type factsDoc struct {
	ID     string `json:"id"`
	Fields struct {
		Code       versioned `json:"code"`
		GivenNames versioned `json:"given_names"`
		Surname1   versioned `json:"surname1"`
		Surname2   versioned `json:"surname2"`
		Sex        versioned `json:"sex"`
		BirthDate  versioned `json:"birth_date"`
		Flags      versioned `json:"flags"`
	} `json:"fields"`
}

// householdView is the part of a household document shown: decoding only
// these fields skips the add/remove bookkeeping.
type householdView struct {
	Label   versioned `json:"label"`
	Kind    versioned `json:"kind"`
	Members []Member  `json:"members"`
}

// ResolveCode returns the id of the person holding a canonical card code
// (cardcode.Parse first), revealing nothing else.
func (s *Service) ResolveCode(ctx context.Context, p auth.Principal, code string) (string, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return "", err
	}
	var ids []string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		ids, err = tx.Lookup(ctx, idxCode, s.seal.Blind(idxCode, code))
		return err
	})
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("card code: %w", ErrNotFound)
	}
	return ids[0], nil
}

// Exists reports which of ids are registered people.
func (s *Service) Exists(ctx context.Context, p auth.Principal, ids []string) (map[string]bool, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, id := range ids {
			_, err := tx.Get(ctx, docPerson, id)
			switch err {
			case nil:
				out[id] = true
			case store.ErrNotFound:
			default:
				return err
			}
		}
		return nil
	})
	return out, err
}

// openFacts decrypts the age and flags of d that role may see.
func (s *Service) openFacts(d *factsDoc, role auth.Role, now time.Time) (Facts, *int, error) {
	var f Facts
	f.AgeBand = AgeBand(0, false)
	var age *int
	if auth.CanSee(role, auth.FieldAge) && d.Fields.BirthDate.V != "" {
		bd, err := s.seal.OpenField(entity(d.ID), auth.FieldBirthDate, d.Fields.BirthDate.V)
		if err != nil {
			return Facts{}, nil, fmt.Errorf("person %s field %s: %w", d.ID, auth.FieldBirthDate, err)
		}
		if t, err := time.Parse("2006-01-02", bd); err == nil {
			a := AgeOn(t, now)
			age = &a
			f.AgeBand = AgeBand(a, true)
			f.Child = a < 18
		}
	}
	if auth.CanSee(role, auth.FieldFlags) && d.Fields.Flags.V != "" {
		fl, err := s.seal.OpenField(entity(d.ID), auth.FieldFlags, d.Fields.Flags.V)
		if err != nil {
			return Facts{}, nil, fmt.Errorf("person %s field %s: %w", d.ID, auth.FieldFlags, err)
		}
		for _, x := range strings.Split(fl, ",") {
			if x != "" && auth.CanSeeFlag(role, x) {
				f.Flags = append(f.Flags, x)
			}
		}
	}
	return f, age, nil
}

// openSummary decrypts the summary of d for role.
func (s *Service) openSummary(d *factsDoc, role auth.Role, now time.Time) (Summary, error) {
	f, age, err := s.openFacts(d, role, now)
	if err != nil {
		return Summary{}, err
	}
	out := Summary{ID: d.ID, Age: age, AgeBand: f.AgeBand, Flags: f.Flags}
	open := func(field string, v versioned) (string, error) {
		if v.V == "" || !auth.CanSee(role, field) {
			return "", nil
		}
		pt, err := s.seal.OpenField(entity(d.ID), field, v.V)
		if err != nil {
			return "", fmt.Errorf("person %s field %s: %w", d.ID, field, err)
		}
		return pt, nil
	}
	var parts [3]string
	for i, fv := range []struct {
		f string
		v versioned
	}{{auth.FieldGivenNames, d.Fields.GivenNames}, {auth.FieldSurname1, d.Fields.Surname1}, {auth.FieldSurname2, d.Fields.Surname2}} {
		if parts[i], err = open(fv.f, fv.v); err != nil {
			return Summary{}, err
		}
	}
	out.Name = strings.Join(strings.Fields(strings.Join(parts[:], " ")), " ")
	if out.Code, err = open(auth.FieldCode, d.Fields.Code); err != nil {
		return Summary{}, err
	}
	if out.Sex, err = open(auth.FieldSex, d.Fields.Sex); err != nil {
		return Summary{}, err
	}
	return out, nil
}

func loadFactsDoc(ctx context.Context, tx store.ReadTx, id string) (factsDoc, bool, error) {
	var d factsDoc
	found, err := store.GetJSON(ctx, tx, docPerson, id, &d)
	return d, found, err
}

func readEntries(p auth.Principal, why string, ids []string) []store.AuditEntry {
	out := make([]store.AuditEntry, len(ids))
	for i, id := range ids {
		out[i] = store.AuditEntry{Actor: p.Actor(), Action: "person.read", Record: entity(id), Detail: why}
	}
	return out
}

// PrepareGlance opens a person's summary and their households' members for
// p, and returns the audit entries for every person shown WITHOUT writing
// them: the caller must append them durably (ledger.Append) in the same
// commit as the change the glance goes with (a check-in), and must not show
// the glance if that append fails. It saves a checkpoint a second durable
// commit per scan.
func (s *Service) PrepareGlance(ctx context.Context, p auth.Principal, id, why string) (Glance, []store.AuditEntry, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return Glance{}, nil, err
	}
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return Glance{}, nil, err
	}
	now := s.now()
	var g Glance
	shown := []string{id}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		d, found, err := loadFactsDoc(ctx, tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("person %s: %w", id, ErrNotFound)
		}
		if g.Person, err = s.openSummary(&d, p.Role, now); err != nil {
			return err
		}
		hids, err := tx.Lookup(ctx, idxMember, id)
		if err != nil {
			return err
		}
		for _, hid := range hids {
			var hd householdView
			found, err := store.GetJSON(ctx, tx, docHousehold, hid, &hd)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			label, err := s.seal.OpenField(householdEntity(hid), "label", hd.Label.V)
			if err != nil {
				return fmt.Errorf("household %s: %w", hid, err)
			}
			gh := GlanceHousehold{ID: hid, Label: label, Kind: hd.Kind.V, Members: []GlanceMember{}}
			for _, m := range hd.Members {
				if m.Person == id {
					gh.Members = append(gh.Members, GlanceMember{Role: m.Role, Person: g.Person})
					continue
				}
				md, found, err := loadFactsDoc(ctx, tx, m.Person)
				if err != nil {
					return err
				}
				sum := Summary{ID: m.Person, AgeBand: AgeBand(0, false)}
				if found {
					if sum, err = s.openSummary(&md, p.Role, now); err != nil {
						return err
					}
					shown = append(shown, m.Person)
				}
				gh.Members = append(gh.Members, GlanceMember{Role: m.Role, Person: sum})
			}
			sort.SliceStable(gh.Members, func(i, j int) bool {
				return slices.Index(HouseholdRoles, gh.Members[i].Role) < slices.Index(HouseholdRoles, gh.Members[j].Role)
			})
			g.Households = append(g.Households, gh)
		}
		return nil
	})
	if err != nil {
		return Glance{}, nil, err
	}
	if g.Households == nil {
		g.Households = []GlanceHousehold{}
	}
	slices.Sort(shown)
	return g, readEntries(p, why, slices.Compact(shown)), nil
}

// Summaries shows many people's summaries to p. Every person asked for is
// audited (one commit for all); the summaries are opened while that commit
// is under way, but none is returned unless it succeeded. Ids that do not
// exist are left out.
func (s *Service) Summaries(ctx context.Context, p auth.Principal, ids []string, why string) (map[string]Summary, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	audited := s.auditAsync(ctx, readEntries(p, why, ids)...)
	now := s.now()
	out := make(map[string]Summary, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, id := range ids {
			d, found, err := loadFactsDoc(ctx, tx, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			sum, err := s.openSummary(&d, p.Role, now)
			if err != nil {
				return err
			}
			out[id] = sum
		}
		return nil
	})
	if aerr := <-audited; aerr != nil {
		return nil, fmt.Errorf("audit: %w", aerr)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// auditAsync writes audit entries durably in the background, so the
// commit's latency overlaps the reading; the caller must wait on the
// channel before letting anything it read go.
func (s *Service) auditAsync(ctx context.Context, entries ...store.AuditEntry) <-chan error {
	done := make(chan error, 1)
	if len(entries) == 0 {
		done <- nil
		return done
	}
	go func() { done <- s.led.Audit(ctx, entries...) }()
	return done
}

// Facts returns the facts of the people with the given ids (every
// registered person when ids is nil), computed in memory, without their
// households (HouseholdsOf). The read is audited as one entry: the facts
// name nobody, but they tie ids to flags.
func (s *Service) Facts(ctx context.Context, p auth.Principal, ids []string, why string) (map[string]Facts, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	who := fmt.Sprintf("%d people", len(ids))
	if ids == nil {
		who = "everyone"
	}
	audited := s.auditAsync(ctx, store.AuditEntry{Actor: p.Actor(), Action: "person.facts", Record: "registry",
		Detail: who + ": " + why})
	now := s.now()
	var cacheKey string
	if ids == nil {
		// Everyone's facts, for headcounts: reuse them while nothing in the
		// log (and not the date) has changed.
		var vec map[string]uint64
		if err := s.st.View(ctx, func(tx store.ReadTx) error {
			var err error
			vec, err = tx.Vector(ctx)
			return err
		}); err != nil {
			<-audited
			return nil, err
		}
		cacheKey = vectorKey(vec) + "|" + now.Format(time.DateOnly) + "|" + string(p.Role)
		s.facts.mu.Lock()
		cached, ok := s.facts.byKey[cacheKey]
		s.facts.mu.Unlock()
		if ok {
			if aerr := <-audited; aerr != nil {
				return nil, fmt.Errorf("audit: %w", aerr)
			}
			return cached, nil
		}
	}
	out := make(map[string]Facts, len(ids))
	open := func(d *factsDoc) error {
		f, _, err := s.openFacts(d, p.Role, now)
		if err != nil {
			return err
		}
		out[d.ID] = f
		return nil
	}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		if ids == nil {
			return tx.Scan(ctx, docPerson, func(id string, data []byte) error {
				var d factsDoc
				if err := json.Unmarshal(data, &d); err != nil {
					return err
				}
				return open(&d)
			})
		}
		for _, id := range ids {
			d, found, err := loadFactsDoc(ctx, tx, id)
			if err != nil {
				return err
			}
			if found {
				if err := open(&d); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if aerr := <-audited; aerr != nil {
		return nil, fmt.Errorf("audit: %w", aerr)
	}
	if err != nil {
		return nil, err
	}
	if cacheKey != "" {
		s.facts.mu.Lock()
		// Keep only the current generation: one entry per role.
		for k := range s.facts.byKey {
			if !strings.HasPrefix(k, cacheKey[:strings.LastIndex(cacheKey, "|")]) {
				delete(s.facts.byKey, k)
			}
		}
		if s.facts.byKey == nil {
			s.facts.byKey = map[string]map[string]Facts{}
		}
		s.facts.byKey[cacheKey] = out
		s.facts.mu.Unlock()
	}
	return out, nil
}

// factsCache holds everyone's facts per role for the current log version.
// The maps it hands out are shared: callers must not change them.
type factsCache struct {
	mu    sync.Mutex
	byKey map[string]map[string]Facts
}

// HouseholdsOf maps each of the given people to the households they are
// in (people in none are left out). It reveals no PII.
func (s *Service) HouseholdsOf(ctx context.Context, p auth.Principal, ids []string) (map[string][]string, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, id := range ids {
			hids, err := tx.Lookup(ctx, idxMember, id)
			if err != nil {
				return err
			}
			if len(hids) > 0 {
				out[id] = hids
			}
		}
		return nil
	})
	return out, err
}

// HouseholdMembers returns the kind and members of the households with the
// given ids, skipping ids that do not exist; with labels, their labels too
// (opened for p, as HouseholdLabels does).
func (s *Service) HouseholdMembers(ctx context.Context, p auth.Principal, hids []string, labels bool) (map[string]HouseholdFacts, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return nil, err
	}
	out := make(map[string]HouseholdFacts, len(hids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, hid := range hids {
			var hd householdView
			found, err := store.GetJSON(ctx, tx, docHousehold, hid, &hd)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			h := HouseholdFacts{ID: hid, Kind: hd.Kind.V, Members: hd.Members}
			if labels {
				if h.Label, err = s.seal.OpenField(householdEntity(hid), "label", hd.Label.V); err != nil {
					return fmt.Errorf("household %s: %w", hid, err)
				}
			}
			out[hid] = h
		}
		return nil
	})
	return out, err
}

// RegistrationOrder lists every person's id in the order they were
// registered (by the HLC of their registration, then id). A bulk load
// registers in one append, so its people come out in the order loaded.
func (s *Service) RegistrationOrder(ctx context.Context, p auth.Principal) ([]string, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	type reg struct {
		id string
		t  event.HLC
	}
	var all []reg
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		return tx.Scan(ctx, docPerson, func(id string, data []byte) error {
			var d struct {
				Registered event.HLC `json:"registered"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			all = append(all, reg{id, d.Registered})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].t != all[j].t {
			return all[i].t < all[j].t
		}
		return all[i].id < all[j].id
	})
	out := make([]string, len(all))
	for i, r := range all {
		out[i] = r.id
	}
	return out, nil
}

// PeopleCount is the number of registered people.
func (s *Service) PeopleCount(ctx context.Context, p auth.Principal) (int, error) {
	if err := auth.Check(p, auth.StatsRead); err != nil {
		return 0, err
	}
	var n int
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		n, err = tx.Count(ctx, docPerson)
		return err
	})
	return n, err
}
