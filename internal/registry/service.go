package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/crypto"
	"caravana/internal/ledger"
	"caravana/internal/names"
	"caravana/internal/store"
)

// ErrNotFound means no person or household has that id or code.
var ErrNotFound = errors.New("not found")

// PersonInput is what a desk records about a person.
type PersonInput struct {
	GivenNames  string   `json:"given_names"`
	Surname1    string   `json:"surname1"`
	Surname2    string   `json:"surname2"`
	Sex         string   `json:"sex"`
	BirthDate   string   `json:"birth_date"`
	Nationality string   `json:"nationality"`
	OriginTown  string   `json:"origin_town"`
	Phone       string   `json:"phone"`
	Notes       string   `json:"notes"`
	Flags       []string `json:"flags"`
	Consent     Consent  `json:"consent"`
}

func (in *PersonInput) fields() map[string]string {
	return map[string]string{
		auth.FieldGivenNames: in.GivenNames, auth.FieldSurname1: in.Surname1, auth.FieldSurname2: in.Surname2,
		auth.FieldSex: in.Sex, auth.FieldBirthDate: in.BirthDate, auth.FieldNationality: in.Nationality,
		auth.FieldOriginTown: in.OriginTown, auth.FieldPhone: in.Phone, auth.FieldNotes: in.Notes,
		auth.FieldFlags: strings.Join(in.Flags, ","),
	}
}

// Person is what one principal may see of a person. Fields the principal's
// role may not see are empty and listed in Hidden.
type Person struct {
	ID          string    `json:"id"`
	Code        string    `json:"code,omitempty"`
	GivenNames  string    `json:"given_names,omitempty"`
	Surname1    string    `json:"surname1,omitempty"`
	Surname2    string    `json:"surname2,omitempty"`
	Sex         string    `json:"sex,omitempty"`
	BirthDate   string    `json:"birth_date,omitempty"`
	Age         *int      `json:"age,omitempty"`
	Nationality string    `json:"nationality,omitempty"`
	OriginTown  string    `json:"origin_town,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	Flags       []string  `json:"flags,omitempty"`
	Consent     Consent   `json:"consent"`
	Households  []string  `json:"households,omitempty"`
	Registered  time.Time `json:"registered"`
	Hidden      []string  `json:"hidden,omitempty"`
	// MergedInto names the person this registration was merged into, as
	// a duplicate; "" for everyone else.
	MergedInto string `json:"merged_into,omitempty"`
	// Node is the node the person was registered on.
	Node string `json:"node,omitempty"`
}

// FullName joins the visible name parts.
func (p Person) FullName() string {
	return strings.Join(strings.Fields(p.GivenNames+" "+p.Surname1+" "+p.Surname2), " ")
}

// Service is the registry's domain API, shared by CLI, API and web pages.
type Service struct {
	led  *ledger.Ledger
	st   store.Store
	seal *crypto.Sealer
	rand io.Reader
	now  func() time.Time

	stats statsCache
	facts factsCache
}

// NewService builds the registry over a ledger and its sealer.
func NewService(led *ledger.Ledger, seal *crypto.Sealer) *Service {
	return &Service{led: led, st: led.Store(), seal: seal, rand: rand.Reader, now: time.Now}
}

func (s *Service) newID() string {
	b := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic(fmt.Sprintf("random source failed: %v", err))
	}
	return hex.EncodeToString(b)
}

func entity(id string) string { return "person/" + id }

// blindName returns the blind index keys for a name value.
func (s *Service) blindName(v string) []string {
	var out []string
	for _, t := range names.Tokens(v) {
		out = append(out, s.seal.Blind(idxName, t))
	}
	return out
}

// sealFields seals every non-empty field and computes its blind keys.
func (s *Service) sealFields(id string, fields map[string]string) personBody {
	body := personBody{Fields: map[string]string{}, Index: map[string][]string{}}
	keys := make([]string, 0, len(fields))
	for f := range fields {
		keys = append(keys, f)
	}
	sort.Strings(keys)
	for _, f := range keys {
		v := fields[f]
		body.Fields[f] = s.seal.Seal(entity(id), f, v)
		switch indexFor(f) {
		case idxName:
			if k := s.blindName(v); len(k) > 0 {
				body.Index[f] = k
			}
		case idxCode:
			if v != "" {
				body.Index[f] = []string{s.seal.Blind(idxCode, v)}
			}
		}
	}
	return body
}

// Registration is a new person's registration, ready to append.
type Registration struct {
	ID, Code string
	Draft    ledger.Draft
}

// PrepareRegister validates in and builds its event without writing it, so
// bulk loads (the demo, imports) can append many in one commit.
func (s *Service) PrepareRegister(p auth.Principal, in PersonInput) (Registration, error) {
	if err := auth.Check(p, auth.PersonRegister); err != nil {
		return Registration{}, err
	}
	// Every problem is reported at once, consent included.
	now := s.now()
	v := in.normalize(now)
	if !in.Consent.Registration {
		v.add("consent.registration", "required", "the person must consent to being registered")
	}
	// What a role may not see, it may not set either, at registration as at
	// an update: a desk that could set a flag it cannot read back could
	// neither check nor correct it.
	var unseen bool
	for _, f := range in.Flags {
		unseen = unseen || !auth.CanSeeFlag(p.Role, f)
	}
	if unseen {
		v.add(auth.FieldFlags, "not_allowed", "includes a flag your role may not set (it may set: %s)",
			strings.Join(settableFlags(p.Role), ", "))
	}
	checkFlagsFit(&v, &in, in.Flags, now)
	if len(v) > 0 {
		return Registration{}, v
	}
	id := s.newID()
	code, err := cardcode.New(s.rand)
	if err != nil {
		return Registration{}, fmt.Errorf("card code: %w", err)
	}
	f := in.fields()
	f[auth.FieldCode] = code
	body := s.sealFields(id, f)
	c := in.Consent
	body.Consent = &c
	return Registration{ID: id, Code: code,
		Draft: ledger.Draft{Kind: KindPersonRegistered, Subject: entity(id), Body: body}}, nil
}

// Register records a new person with a fresh card code.
func (s *Service) Register(ctx context.Context, p auth.Principal, in PersonInput) (Person, error) {
	r, err := s.PrepareRegister(p, in)
	if err != nil {
		return Person{}, err
	}
	out, err := s.writeAndShow(ctx, p, r.ID, "registered", r.Draft)
	if err != nil {
		return Person{}, fmt.Errorf("register: %w", err)
	}
	return out, nil
}

// writeAndShow appends drafts about person id and returns the person as p
// sees them. The read is audited in the same durable commit as the change:
// one commit per registration, not two.
func (s *Service) writeAndShow(ctx context.Context, p auth.Principal, id, why string, drafts ...ledger.Draft) (Person, error) {
	canRead := auth.Can(p.Role, auth.PersonRead)
	var audit []store.AuditEntry
	if canRead {
		audit = append(audit, readEntry(p, why, id))
	}
	if _, err := s.led.Append(ctx, p.Actor(), drafts, audit...); err != nil {
		return Person{}, err
	}
	if !canRead {
		return Person{ID: id}, nil
	}
	doc, err := s.load(ctx, id)
	if err != nil {
		return Person{}, err
	}
	out, err := s.openAll(ctx, p, []personDoc{doc})
	if err != nil {
		return Person{}, err
	}
	return out[0], nil
}

// Patch changes some fields of a person. Only the keys present change; an
// empty string clears a field.
type Patch struct {
	Fields map[string]string `json:"fields"`
	Flags  *[]string         `json:"flags,omitempty"`
	// ConsentKeys is the API's "consent": only the keys present change.
	ConsentKeys *ConsentPatch `json:"consent,omitempty"`
	// Consent, for Go callers that know all three answers, replaces them
	// at once; ConsentKeys, if also set, applies on top of it.
	Consent *Consent `json:"-"`
}

// ConsentPatch changes some consents: a nil key keeps its value. Consent to
// registration cannot be withdrawn by an update: that is an erasure
// request, not an edit.
type ConsentPatch struct {
	Registration *bool `json:"registration,omitempty"`
	Tracing      *bool `json:"tracing,omitempty"`
	Sharing      *bool `json:"sharing,omitempty"`
}

// consentAfter applies the patch's consent changes to cur, and reports
// whether anything changed. Withdrawing consent to registration is refused.
func (patch Patch) consentAfter(cur Consent, v *ValidationError) (Consent, bool) {
	next := cur
	if patch.Consent != nil {
		next = *patch.Consent
	}
	withdraw := cur.Registration && !next.Registration
	if k := patch.ConsentKeys; k != nil {
		if k.Registration != nil {
			next.Registration = *k.Registration
			withdraw = withdraw || !*k.Registration
		}
		if k.Tracing != nil {
			next.Tracing = *k.Tracing
		}
		if k.Sharing != nil {
			next.Sharing = *k.Sharing
		}
	}
	if withdraw {
		v.add("consent.registration", "not_allowed",
			"cannot be withdrawn by an update: withdrawing consent to registration is an erasure request")
	}
	return next, next != cur
}

// Update applies a patch. A role may change only fields it may see.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, patch Patch) (Person, error) {
	if err := auth.Check(p, auth.PersonUpdate); err != nil {
		return Person{}, err
	}
	doc, err := s.load(ctx, id)
	if err != nil {
		return Person{}, err
	}
	// Validate the patch as a whole record: current values overlaid with the patch.
	in, set, cur, err := s.currentInput(doc)
	if err != nil {
		return Person{}, err
	}
	var v ValidationError
	changed := map[string]bool{}
	for f, val := range patch.Fields {
		ptr, ok := set[f]
		if !ok {
			// The key is client input: echo it only if it is one of our
			// field names, else name the map (S4: no input in messages).
			name := "fields"
			if slices.Contains(auth.AllFields, f) {
				name = f
			}
			v.add(name, "unknown", "names a field that cannot be changed this way")
			continue
		}
		if !auth.CanWrite(p.Role, f) {
			return Person{}, fmt.Errorf("%w: change %s", auth.ErrForbidden, f)
		}
		*ptr, changed[f] = val, true
	}
	if patch.Flags != nil {
		if !auth.CanWrite(p.Role, auth.FieldFlags) {
			return Person{}, fmt.Errorf("%w: change flags", auth.ErrForbidden)
		}
		// A role sees only some flags; it changes only those it sees and
		// keeps the others as they are.
		var keep []string
		for _, f := range cur.Flags {
			if !auth.CanSeeFlag(p.Role, f) {
				keep = append(keep, f)
			}
		}
		for _, f := range *patch.Flags {
			if !auth.CanSeeFlag(p.Role, f) && slices.Contains(auth.Flags, f) {
				return Person{}, fmt.Errorf("%w: set flag %s", auth.ErrForbidden, f)
			}
		}
		in.Flags = append(keep, *patch.Flags...)
		changed[auth.FieldFlags] = true
	}
	consent, consentChanged := patch.consentAfter(cur.Consent, &v)
	if len(v) > 0 {
		return Person{}, v
	}
	now := s.now()
	if v := in.normalize(now); len(v) > 0 {
		return Person{}, v
	}
	// A change to the flags, sex or birth date must leave them fitting each
	// other. Only the flags this role sees are checked: an error about one
	// it cannot see would tell it the flag is there. Flags that stopped
	// fitting with time (a child turned 18) do not block other changes.
	if changed[auth.FieldFlags] || changed[auth.FieldSex] || changed[auth.FieldBirthDate] {
		var seen []string
		for _, f := range in.Flags {
			if auth.CanSeeFlag(p.Role, f) {
				seen = append(seen, f)
			}
		}
		if checkFlagsFit(&v, in, seen, now); len(v) > 0 {
			return Person{}, v
		}
	}
	all := in.fields()
	fields := map[string]string{}
	for f := range changed {
		fields[f] = all[f]
	}
	if len(fields) == 0 && !consentChanged {
		return s.Get(ctx, p, id, "update")
	}
	body := s.sealFields(id, fields)
	if consentChanged {
		body.Consent = &consent
	}
	// Say which version of each field this change replaces, so a
	// concurrent change on another node is detected and kept (conflicts.go).
	out, err := s.writeAndShow(ctx, p, id, "updated", ledger.Draft{Kind: KindPersonUpdated, Subject: entity(id),
		Body: updateBody{personBody: body, Base: baseOf(doc, fields)}})
	if err != nil {
		return Person{}, fmt.Errorf("update: %w", err)
	}
	return out, nil
}

// currentInput is a person's current record as input, with a pointer to
// each text field by name, for a change validated as a whole record.
func (s *Service) currentInput(doc personDoc) (*PersonInput, map[string]*string, Person, error) {
	cur, err := s.open(doc, auth.Principal{Role: auth.Coordinator})
	if err != nil {
		return nil, nil, Person{}, err
	}
	in := &PersonInput{GivenNames: cur.GivenNames, Surname1: cur.Surname1, Surname2: cur.Surname2, Sex: cur.Sex,
		BirthDate: cur.BirthDate, Nationality: cur.Nationality, OriginTown: cur.OriginTown, Phone: cur.Phone,
		Notes: cur.Notes, Flags: cur.Flags}
	set := map[string]*string{auth.FieldGivenNames: &in.GivenNames, auth.FieldSurname1: &in.Surname1,
		auth.FieldSurname2: &in.Surname2, auth.FieldSex: &in.Sex, auth.FieldBirthDate: &in.BirthDate,
		auth.FieldNationality: &in.Nationality, auth.FieldOriginTown: &in.OriginTown, auth.FieldPhone: &in.Phone,
		auth.FieldNotes: &in.Notes}
	return in, set, cur, nil
}

// ReissueCard gives a person a new card code (the old card was lost or
// stolen); the old code stops finding them.
func (s *Service) ReissueCard(ctx context.Context, p auth.Principal, id string) (Person, error) {
	if err := auth.Check(p, auth.PersonUpdate); err != nil {
		return Person{}, err
	}
	// Whoever voids a card must be able to print its replacement.
	if err := auth.Check(p, auth.CardPrint); err != nil {
		return Person{}, err
	}
	if _, err := s.load(ctx, id); err != nil {
		return Person{}, err
	}
	code, err := cardcode.New(s.rand)
	if err != nil {
		return Person{}, err
	}
	body := s.sealFields(id, map[string]string{auth.FieldCode: code})
	out, err := s.writeAndShow(ctx, p, id, "card reissued", ledger.Draft{Kind: KindPersonUpdated, Subject: entity(id), Body: body})
	if err != nil {
		return Person{}, fmt.Errorf("reissue card: %w", err)
	}
	return out, nil
}

func (s *Service) load(ctx context.Context, id string) (personDoc, error) {
	var doc personDoc
	var found bool
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		found, err = store.GetJSON(ctx, tx, docPerson, id, &doc)
		return err
	})
	if err != nil {
		return doc, err
	}
	if !found {
		return doc, fmt.Errorf("person %s: %w", id, ErrNotFound)
	}
	return doc, nil
}

// open decrypts what p's role may see. It is the only place person PII is
// decrypted (S7).
func (s *Service) open(doc personDoc, p auth.Principal) (Person, error) {
	out := Person{ID: doc.ID, Consent: doc.Consent, Registered: doc.Registered.Time(), Node: doc.Node}
	if doc.Merged != nil {
		out.MergedInto = doc.Merged.Into
	}
	get := func(f string) (string, error) {
		v := doc.Fields[f].V
		if v == "" {
			return "", nil
		}
		pt, err := s.seal.OpenField(entity(doc.ID), f, v)
		if err != nil {
			return "", fmt.Errorf("person %s field %s: %w", doc.ID, f, err)
		}
		return pt, nil
	}
	targets := []struct {
		field string
		dst   *string
	}{
		{auth.FieldCode, &out.Code}, {auth.FieldGivenNames, &out.GivenNames}, {auth.FieldSurname1, &out.Surname1},
		{auth.FieldSurname2, &out.Surname2}, {auth.FieldSex, &out.Sex}, {auth.FieldBirthDate, &out.BirthDate},
		{auth.FieldNationality, &out.Nationality}, {auth.FieldOriginTown, &out.OriginTown},
		{auth.FieldPhone, &out.Phone}, {auth.FieldNotes, &out.Notes},
	}
	for _, t := range targets {
		if !auth.CanSee(p.Role, t.field) {
			out.Hidden = append(out.Hidden, t.field)
			continue
		}
		v, err := get(t.field)
		if err != nil {
			return Person{}, err
		}
		*t.dst = v
	}
	if auth.CanSee(p.Role, auth.FieldAge) {
		bd, err := get(auth.FieldBirthDate)
		if err != nil {
			return Person{}, err
		}
		if d, err := time.Parse("2006-01-02", bd); err == nil {
			a := AgeOn(d, s.now())
			out.Age = &a
		}
	}
	if auth.CanSee(p.Role, auth.FieldFlags) {
		fl, err := get(auth.FieldFlags)
		if err != nil {
			return Person{}, err
		}
		for _, f := range strings.Split(fl, ",") {
			if f != "" && auth.CanSeeFlag(p.Role, f) {
				out.Flags = append(out.Flags, f)
			}
		}
	}
	// A role that may not see every flag is told so for everyone, flagged
	// or not: marking only the people who have such a flag would reveal it
	// (S6).
	if !seesAllFlags(p.Role) {
		out.Hidden = append(out.Hidden, auth.FieldFlags)
	}
	return out, nil
}

// seesAllFlags reports whether role r may see every vulnerability flag.
func seesAllFlags(r auth.Role) bool {
	return len(settableFlags(r)) == len(auth.Flags)
}

// settableFlags lists the flags role r may see, hence set, in display order.
func settableFlags(r auth.Role) []string {
	var out []string
	for _, f := range auth.Flags {
		if auth.CanSeeFlag(r, f) {
			out = append(out, f)
		}
	}
	return out
}

// AgeOn is the age in whole years at t of someone born on birth.
func AgeOn(birth, t time.Time) int {
	age := t.Year() - birth.Year()
	if t.Month() < birth.Month() || (t.Month() == birth.Month() && t.Day() < birth.Day()) {
		age--
	}
	return age
}

func (s *Service) audit(ctx context.Context, p auth.Principal, why string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	entries := make([]store.AuditEntry, len(ids))
	for i, id := range ids {
		entries[i] = readEntry(p, why, id)
	}
	if err := s.led.Audit(ctx, entries...); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func readEntry(p auth.Principal, why, id string) store.AuditEntry {
	return store.AuditEntry{Actor: p.Actor(), Action: "person.read", Record: entity(id), Detail: why}
}

// reveal opens docs for p, after the read is durably audited.
func (s *Service) reveal(ctx context.Context, p auth.Principal, why string, docs []personDoc) ([]Person, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	if err := s.audit(ctx, p, why, ids...); err != nil {
		return nil, err
	}
	return s.openAll(ctx, p, docs)
}

// openAll opens docs for p with their households. Callers audit first.
func (s *Service) openAll(ctx context.Context, p auth.Principal, docs []personDoc) ([]Person, error) {
	out := make([]Person, 0, len(docs))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, d := range docs {
			person, err := s.open(d, p)
			if err != nil {
				return err
			}
			if person.Households, err = tx.Lookup(ctx, idxMember, d.ID); err != nil {
				return err
			}
			out = append(out, person)
		}
		return nil
	})
	return out, err
}

// Get shows one person to p; why is recorded in the audit log.
func (s *Service) Get(ctx context.Context, p auth.Principal, id, why string) (Person, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return Person{}, err
	}
	doc, err := s.load(ctx, id)
	if err != nil {
		return Person{}, err
	}
	out, err := s.reveal(ctx, p, why, []personDoc{doc})
	if err != nil {
		return Person{}, err
	}
	return out[0], nil
}

// ByCode finds the person holding a card code. code must already be
// canonical (cardcode.Parse).
func (s *Service) ByCode(ctx context.Context, p auth.Principal, code string) (Person, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return Person{}, err
	}
	var ids []string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		ids, err = tx.Lookup(ctx, idxCode, s.seal.Blind(idxCode, code))
		if err != nil || len(ids) == 0 {
			return err
		}
		// A merged duplicate's card finds the person it was merged into.
		ids[0], err = survivor(ctx, tx, ids[0])
		return err
	})
	if err != nil {
		return Person{}, err
	}
	if len(ids) == 0 {
		return Person{}, fmt.Errorf("card code: %w", ErrNotFound)
	}
	return s.Get(ctx, p, ids[0], "card lookup")
}

func (s *Service) loadMany(ctx context.Context, ids []string) ([]personDoc, error) {
	docs := make([]personDoc, 0, len(ids))
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, id := range ids {
			var d personDoc
			found, err := store.GetJSON(ctx, tx, docPerson, id, &d)
			if err != nil {
				return err
			}
			if found {
				docs = append(docs, d)
			}
		}
		return nil
	})
	return docs, err
}

// Find searches by name, accent- and case-insensitively, through the blind
// index: people matching every word of the query come first, then those
// matching most words.
func (s *Service) Find(ctx context.Context, p auth.Principal, query string, limit int) ([]Person, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, err
	}
	tokens := names.Tokens(query)
	if len(tokens) == 0 {
		return nil, ValidationError{{Field: "q", Code: "required", Message: "type a name or a card code"}}
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	hits := map[string]int{}
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		for _, t := range slices.Compact(slices.Sorted(slices.Values(tokens))) {
			ids, err := tx.Lookup(ctx, idxName, s.seal.Blind(idxName, t))
			if err != nil {
				return err
			}
			for _, id := range slices.Compact(ids) {
				hits[id]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(hits))
	for id := range hits {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if hits[ids[i]] != hits[ids[j]] {
			return hits[ids[i]] > hits[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if len(ids) > limit {
		ids = ids[:limit]
	}
	docs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.reveal(ctx, p, "search", docs)
}

// List shows people newest first, a page at a time, and the total count.
func (s *Service) List(ctx context.Context, p auth.Principal, offset, limit int) ([]Person, int, error) {
	if err := auth.Check(p, auth.PersonRead); err != nil {
		return nil, 0, err
	}
	var ids []string
	var total int
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if total, err = tx.Count(ctx, docPerson); err != nil {
			return err
		}
		ids, err = tx.Range(ctx, idxRegistered, true, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	docs, err := s.loadMany(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.reveal(ctx, p, "list", docs)
	return out, total, err
}
