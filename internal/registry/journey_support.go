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
	Merged *struct {
		Into string `json:"into"`
	} `json:"merged"`
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
	var id string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		id, err = s.Reader(tx, p).ResolveCode(ctx, code)
		return err
	})
	return id, err
}

// Exists reports which of ids are registered people.
func (s *Service) Exists(ctx context.Context, p auth.Principal, ids []string) (map[string]bool, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		r := s.Reader(tx, p)
		for _, id := range ids {
			ok, err := r.Exists(ctx, id)
			if err != nil {
				return err
			}
			if ok {
				out[id] = true
			}
		}
		return nil
	})
	return out, err
}

// Reader reads the registry inside a caller's read transaction, so a
// request that needs several look-ups (a check-in: the card code, the
// person, their household and its members) makes them all in one snapshot
// and reads each person once. Every method checks p's role as the
// Service's own methods do. A Reader belongs to one transaction and one
// goroutine.
type Reader struct {
	s      *Service
	tx     store.ReadTx
	p      auth.Principal
	now    time.Time
	people map[string]*glanceDoc // read so far; nil: no such person
}

// Reader returns a registry reader over tx for p.
func (s *Service) Reader(tx store.ReadTx, p auth.Principal) *Reader {
	return &Reader{s: s, tx: tx, p: p, now: s.now(), people: map[string]*glanceDoc{}}
}

// person returns the glance projection of id, nil if nobody has that id.
func (r *Reader) person(ctx context.Context, id string) (*glanceDoc, error) {
	if g, ok := r.people[id]; ok {
		return g, nil
	}
	g, found, err := loadGlance(ctx, r.tx, id)
	if err != nil {
		return nil, err
	}
	var out *glanceDoc
	if found {
		out = &g
	}
	r.people[id] = out
	return out, nil
}

// ResolveCode returns the id of the person holding a canonical card code,
// revealing nothing else: a merged duplicate's card finds the person it
// was merged into. A code nobody holds is an error wrapping ErrNotFound.
func (r *Reader) ResolveCode(ctx context.Context, code string) (string, error) {
	if err := auth.Check(r.p, auth.PersonRead); err != nil {
		return "", err
	}
	ids, err := r.tx.Lookup(ctx, idxCode, r.s.seal.Blind(idxCode, code))
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("card code: %w", ErrNotFound)
	}
	return r.survivor(ctx, ids[0])
}

// survivor follows merge marks from id to the record it ends in; a cycle
// (concurrent merges each way) ends in its smallest id, as everywhere.
func (r *Reader) survivor(ctx context.Context, id string) (string, error) {
	var seen []string
	for {
		g, err := r.person(ctx, id)
		if err != nil {
			return "", err
		}
		if g == nil || g.MergedInto == "" {
			return id, nil
		}
		seen = append(seen, id)
		id = g.MergedInto
		if slices.Contains(seen, id) {
			return slices.Min(seen), nil
		}
	}
}

// Exists reports whether id is a registered person.
func (r *Reader) Exists(ctx context.Context, id string) (bool, error) {
	if err := auth.Check(r.p, auth.PersonRead); err != nil {
		return false, err
	}
	g, err := r.person(ctx, id)
	return g != nil, err
}

// glance converts a person document read for its facts into the glance
// projection, for a database written before that projection existed.
func (d *factsDoc) glance() glanceDoc {
	g := glanceDoc{Code: d.Fields.Code.V, GivenNames: d.Fields.GivenNames.V, Surname1: d.Fields.Surname1.V,
		Surname2: d.Fields.Surname2.V, Sex: d.Fields.Sex.V, BirthDate: d.Fields.BirthDate.V, Flags: d.Fields.Flags.V}
	if d.Merged != nil {
		g.MergedInto = d.Merged.Into
	}
	return g
}

// openFacts decrypts the age and flags of person id (its glance g) that
// role may see.
func (s *Service) openFacts(id string, g *glanceDoc, role auth.Role, now time.Time) (Facts, *int, error) {
	var f Facts
	f.AgeBand = AgeBand(0, false)
	var age *int
	if auth.CanSee(role, auth.FieldAge) && g.BirthDate != "" {
		bd, err := s.seal.OpenField(entity(id), auth.FieldBirthDate, g.BirthDate)
		if err != nil {
			return Facts{}, nil, fmt.Errorf("person %s field %s: %w", id, auth.FieldBirthDate, err)
		}
		if t, err := time.Parse("2006-01-02", bd); err == nil {
			a := AgeOn(t, now)
			age = &a
			f.AgeBand = AgeBand(a, true)
			f.Child = a < 18
		}
	}
	if auth.CanSee(role, auth.FieldFlags) && g.Flags != "" {
		fl, err := s.seal.OpenField(entity(id), auth.FieldFlags, g.Flags)
		if err != nil {
			return Facts{}, nil, fmt.Errorf("person %s field %s: %w", id, auth.FieldFlags, err)
		}
		for _, x := range strings.Split(fl, ",") {
			if x != "" && auth.CanSeeFlag(role, x) {
				f.Flags = append(f.Flags, x)
			}
		}
	}
	return f, age, nil
}

// openSummary decrypts the summary of person id (its glance g) for role.
func (s *Service) openSummary(id string, g *glanceDoc, role auth.Role, now time.Time) (Summary, error) {
	f, age, err := s.openFacts(id, g, role, now)
	if err != nil {
		return Summary{}, err
	}
	out := Summary{ID: id, Age: age, AgeBand: f.AgeBand, Flags: f.Flags}
	open := func(field, v string) (string, error) {
		if v == "" || !auth.CanSee(role, field) {
			return "", nil
		}
		pt, err := s.seal.OpenField(entity(id), field, v)
		if err != nil {
			return "", fmt.Errorf("person %s field %s: %w", id, field, err)
		}
		return pt, nil
	}
	var parts [3]string
	for i, fv := range [3][2]string{{auth.FieldGivenNames, g.GivenNames}, {auth.FieldSurname1, g.Surname1}, {auth.FieldSurname2, g.Surname2}} {
		if parts[i], err = open(fv[0], fv[1]); err != nil {
			return Summary{}, err
		}
	}
	out.Name = strings.Join(strings.Fields(strings.Join(parts[:], " ")), " ")
	if out.Code, err = open(auth.FieldCode, g.Code); err != nil {
		return Summary{}, err
	}
	if out.Sex, err = open(auth.FieldSex, g.Sex); err != nil {
		return Summary{}, err
	}
	return out, nil
}

func loadFactsDoc(ctx context.Context, tx store.ReadTx, id string) (factsDoc, bool, error) {
	var d factsDoc
	found, err := store.GetJSON(ctx, tx, docPerson, id, &d)
	return d, found, err
}

// loadGlance reads a person's glance projection. A database written before
// that projection existed (and not rebuilt since) has none: the person
// document stands in.
func loadGlance(ctx context.Context, tx store.ReadTx, id string) (glanceDoc, bool, error) {
	var g glanceDoc
	found, err := store.GetJSON(ctx, tx, docGlance, id, &g)
	if err != nil || found {
		return g, found, err
	}
	d, found, err := loadFactsDoc(ctx, tx, id)
	if err != nil || !found {
		return glanceDoc{}, false, err
	}
	return d.glance(), true, nil
}

func readEntries(p auth.Principal, why string, ids []string) []store.AuditEntry {
	out := make([]store.AuditEntry, len(ids))
	for i, id := range ids {
		out[i] = store.AuditEntry{Actor: p.Actor(), Action: "person.read", Record: entity(id), Detail: why}
	}
	return out
}

// PrepareGlance opens a person's summary and their households' members for
// p, and returns the audit entries for every person and household label
// shown WITHOUT writing them: the caller must append them durably
// (ledger.Append) in the same commit as the change the glance goes with (a
// check-in), and must not show the glance if that append fails. It saves a
// checkpoint a second durable commit per scan.
func (s *Service) PrepareGlance(ctx context.Context, p auth.Principal, id, why string) (Glance, []store.AuditEntry, error) {
	var g Glance
	var entries []store.AuditEntry
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		g, entries, err = s.Reader(tx, p).PrepareGlance(ctx, id, why)
		return err
	})
	return g, entries, err
}

// PrepareGlance is Service.PrepareGlance inside the reader's transaction.
func (r *Reader) PrepareGlance(ctx context.Context, id, why string) (Glance, []store.AuditEntry, error) {
	if err := auth.Check(r.p, auth.PersonRead); err != nil {
		return Glance{}, nil, err
	}
	if err := auth.Check(r.p, auth.HouseholdRead); err != nil {
		return Glance{}, nil, err
	}
	s, tx, role := r.s, r.tx, r.p.Role
	d, err := r.person(ctx, id)
	if err != nil {
		return Glance{}, nil, err
	}
	if d == nil {
		return Glance{}, nil, fmt.Errorf("person %s: %w", id, ErrNotFound)
	}
	var g Glance
	if g.Person, err = s.openSummary(id, d, role, r.now); err != nil {
		return Glance{}, nil, err
	}
	shown := []string{id}
	hids, err := tx.Lookup(ctx, idxMember, id)
	if err != nil {
		return Glance{}, nil, err
	}
	g.Households = make([]GlanceHousehold, 0, len(hids))
	var labelled []string // households whose label is shown
	for _, hid := range hids {
		var hd householdView
		found, err := store.GetJSON(ctx, tx, docHousehold, hid, &hd)
		if err != nil {
			return Glance{}, nil, err
		}
		if !found {
			continue
		}
		label, err := s.seal.OpenField(householdEntity(hid), "label", hd.Label.V)
		if err != nil {
			return Glance{}, nil, fmt.Errorf("household %s: %w", hid, err)
		}
		labelled = append(labelled, hid)
		gh := GlanceHousehold{ID: hid, Label: label, Kind: hd.Kind.V, Members: make([]GlanceMember, 0, len(hd.Members))}
		for _, m := range hd.Members {
			if m.Person == id {
				gh.Members = append(gh.Members, GlanceMember{Role: m.Role, Person: g.Person})
				continue
			}
			md, err := r.person(ctx, m.Person)
			if err != nil {
				return Glance{}, nil, err
			}
			sum := Summary{ID: m.Person, AgeBand: AgeBand(0, false)}
			if md != nil {
				if sum, err = s.openSummary(m.Person, md, role, r.now); err != nil {
					return Glance{}, nil, err
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
	slices.Sort(shown)
	entries := append(readEntries(r.p, why, slices.Compact(shown)), householdReads(r.p, why, labelled)...)
	return g, entries, nil
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
			g, found, err := loadGlance(ctx, tx, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			sum, err := s.openSummary(id, &g, p.Role, now)
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
	open := func(id string, g *glanceDoc) error {
		f, _, err := s.openFacts(id, g, p.Role, now)
		if err != nil {
			return err
		}
		out[id] = f
		return nil
	}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		if ids == nil {
			return tx.Scan(ctx, docPerson, func(id string, data []byte) error {
				var d factsDoc
				if err := json.Unmarshal(data, &d); err != nil {
					return err
				}
				if d.Merged != nil {
					return nil // counted once, as the person it was merged into
				}
				g := d.glance()
				return open(id, &g)
			})
		}
		for _, id := range ids {
			g, found, err := loadGlance(ctx, tx, id)
			if err != nil {
				return err
			}
			if found {
				if err := open(id, &g); err != nil {
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
// (opened for p, as HouseholdLabels does, and audited: one household.read
// row per household asked for, in one commit that must succeed before any
// label is returned).
func (s *Service) HouseholdMembers(ctx context.Context, p auth.Principal, hids []string, labels bool) (map[string]HouseholdFacts, error) {
	if err := auth.Check(p, auth.HouseholdRead); err != nil {
		return nil, err
	}
	audited := s.auditAsync(ctx)
	if labels {
		audited = s.auditAsync(ctx, householdReads(p, "household labels", hids)...)
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
			if h.Members == nil {
				h.Members = []Member{}
			}
			if labels {
				if h.Label, err = s.seal.OpenField(householdEntity(hid), "label", hd.Label.V); err != nil {
					return fmt.Errorf("household %s: %w", hid, err)
				}
			}
			out[hid] = h
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

// RegistrationOrder lists every person's id in the order they were
// registered (by the HLC of their registration, then id), leaving out
// duplicates merged into someone else. A bulk load
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
				Merged     *struct{} `json:"merged"`
			}
			if err := json.Unmarshal(data, &d); err != nil {
				return err
			}
			if d.Merged != nil {
				return nil // counted once, as the person it was merged into
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
