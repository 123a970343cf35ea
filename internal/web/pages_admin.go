package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/ledger"
	"caravana/internal/registry"
	"caravana/internal/store"
	"caravana/internal/supply"
	"caravana/internal/tracing"
)

const auditPage = 50

// auditQuery reads the audit filter. Actor is a user id and record an
// entity id ("person/…"): neither is a name, so they may sit in the URL.
func auditQuery(r *http.Request, defLimit int) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Record: strings.TrimSpace(q.Get("record")), Limit: defLimit}
	var fes []registry.FieldError
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			fes = append(fes, registry.FieldError{Field: "before", Code: "invalid", Message: "must be an audit entry id"})
		}
		f.BeforeID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fes = append(fes, registry.FieldError{Field: "limit", Code: "invalid", Message: "must be 1 to 500"})
		}
		f.Limit = n
	}
	if len(fes) > 0 {
		return f, invalid(fes...)
	}
	return f, nil
}

func (s *Server) readAudit(ctx context.Context, c *reqCtx, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := auth.Check(c.p, auth.AuditRead); err != nil {
		return nil, err
	}
	var out []store.AuditEntry
	err := s.n.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = tx.Audit(ctx, f)
		return err
	})
	return out, err
}

type auditRow struct {
	store.AuditEntry
	When, Who, Link string
	// What and Why are the action and the detail in the reader's
	// language (the stored key or text when this version has no words
	// for it).
	What, Why string
}

type auditData struct {
	Rows          []auditRow
	Actor, Record string
	Users         []auth.User
	Older         string // query string of the next page, or ""
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.AuditRead); err != nil {
		return err
	}
	f, err := auditQuery(r, auditPage)
	if err != nil {
		return err
	}
	entries, err := s.readAudit(r.Context(), c, f)
	if err != nil {
		return err
	}
	users, err := s.n.Auth.Users(r.Context(), c.p)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Username
	}
	places, err := s.auditNames(r, c)
	if err != nil {
		return err
	}
	d := auditData{Actor: f.Actor, Record: f.Record, Users: users}
	for _, e := range entries {
		row := auditRow{AuditEntry: e, When: time.UnixMilli(e.At).UTC().Format("2006-01-02 15:04:05"), Who: e.Actor,
			What: auditAction(c, e.Action), Why: auditDetail(c, places, e.Detail)}
		if n, ok := names[e.Actor]; ok {
			row.Who = n
		}
		if kind, id, ok := strings.Cut(e.Record, "/"); ok && id != "" && (kind == "person" || kind == "household") {
			row.Link = "/" + map[string]string{"person": "people", "household": "households"}[kind] + "/" + id
		}
		d.Rows = append(d.Rows, row)
	}
	if len(entries) == f.Limit && len(entries) > 0 {
		q := make([]string, 0, 3)
		if f.Actor != "" {
			q = append(q, "actor="+url.QueryEscape(f.Actor))
		}
		if f.Record != "" {
			q = append(q, "record="+url.QueryEscape(f.Record))
		}
		q = append(q, "before="+strconv.FormatInt(entries[len(entries)-1].ID, 10))
		d.Older = "/audit?" + strings.Join(q, "&")
	}
	return s.render(w, r, http.StatusOK, "audit", s.newView(r, c, "audit.title", "audit", d))
}

type usersData struct {
	Users    []auth.User
	Roles    []auth.Role
	Username string
	Role     string
	Self     string
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, d usersData, errs map[string]string) error {
	users, err := s.n.Auth.Users(r.Context(), c.p)
	if err != nil {
		return err
	}
	d.Users, d.Roles, d.Self = users, auth.Roles, c.p.UserID
	v := s.newView(r, c, "users.title", "users", d)
	v.Errors = errs
	return s.render(w, r, status, "users", v)
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.UserManage); err != nil {
		return err
	}
	return s.showUsers(w, r, c, http.StatusOK, usersData{Role: string(auth.Volunteer)}, nil)
}

// addUser validates the fields the auth service would refuse with plain
// errors, so each problem can be shown beside its field.
func (s *Server) addUser(ctx context.Context, c *reqCtx, username, role, password string) (auth.User, error) {
	if err := auth.Check(c.p, auth.UserManage); err != nil {
		return auth.User{}, err
	}
	var fes []registry.FieldError
	if !auth.ValidUsername(username) {
		fes = append(fes, registry.FieldError{Field: "username", Code: "username",
			Message: "use 2-32 lowercase letters, digits, dot, dash or underscore"})
	}
	if _, err := auth.ParseRole(role); err != nil {
		fes = append(fes, registry.FieldError{Field: "role", Code: "invalid", Message: "must be coordinator, volunteer, legal or medic"})
	}
	if len([]rune(password)) < auth.MinPasswordLen {
		fes = append(fes, registry.FieldError{Field: "password", Code: "password",
			Message: "must be at least " + strconv.Itoa(auth.MinPasswordLen) + " characters"})
	}
	if len(fes) > 0 {
		return auth.User{}, invalid(fes...)
	}
	u, err := s.n.Auth.AddUser(ctx, c.p, username, auth.Role(role), password)
	if errors.Is(err, auth.ErrUserExists) {
		return auth.User{}, &httpError{status: http.StatusConflict, code: "exists", msg: "username already taken",
			fields: []registry.FieldError{{Field: "username", Code: "exists", Message: "is already taken"}}}
	}
	return u, err
}

func (s *Server) userAdd(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d := usersData{Username: r.PostForm.Get("username"), Role: r.PostForm.Get("role")}
	_, err := s.addUser(r.Context(), c, d.Username, d.Role, r.PostForm.Get("password"))
	if err != nil {
		he := classify(err)
		if len(he.fields) == 0 {
			return err
		}
		return s.showUsers(w, r, c, he.status, d, fieldErrors(c, he.fields))
	}
	return redirect(w, r, "/users")
}

// disableUser refuses to disable the caller's own account: the last
// coordinator locking themselves out would need the CLI to recover.
func (s *Server) disableUser(ctx context.Context, c *reqCtx, username string) error {
	if err := auth.Check(c.p, auth.UserManage); err != nil {
		return err
	}
	if strings.EqualFold(username, c.p.Username) {
		return invalid(registry.FieldError{Field: "username", Code: "self", Message: "you cannot disable your own account"})
	}
	return s.n.Auth.Disable(ctx, c.p, username)
}

func (s *Server) userDisable(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.disableUser(r.Context(), c, r.PathValue("username")); err != nil {
		return err
	}
	return redirect(w, r, "/users")
}

// auditPlaces names the stages and items an audit detail may mention by id.
type auditPlaces struct {
	stages, items map[string]string
}

func (s *Server) auditNames(r *http.Request, c *reqCtx) (auditPlaces, error) {
	out := auditPlaces{stages: map[string]string{}, items: map[string]string{}}
	if auth.Can(c.p.Role, auth.JourneyRead) {
		route, err := s.n.Journey.Route(r.Context(), c.p)
		if err != nil {
			return out, err
		}
		for _, st := range route.Stages {
			out.stages[st.ID] = st.Name
		}
	}
	if auth.Can(c.p.Role, auth.SupplyRead) {
		items, err := s.n.Supply.Items(r.Context(), c.p)
		if err != nil {
			return out, err
		}
		for _, it := range items {
			out.items[it.ID] = it.Name(c.lang)
		}
	}
	return out, nil
}

func nameOr(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

// auditDetail words the detail of an audit entry: why personal data was
// read ("missing list ciudad-hidalgo": the list of one stage), or what a
// sync import did. The services write these in English, and ids only,
// never names; anything this version does not know (an event id, say)
// shows as stored.
func auditDetail(c *reqCtx, places auditPlaces, detail string) string {
	if who, why, ok := strings.Cut(detail, ": "); ok {
		// Facts read for many people: "12 people: headcounts".
		var n int
		switch _, err := fmt.Sscanf(who, "%d people", &n); {
		case who == "everyone":
			return c.T("audit.detail.everyone", auditDetail(c, places, why))
		case err == nil && who == strconv.Itoa(n)+" people":
			return c.T("audit.detail.people", n, auditDetail(c, places, why))
		}
	}
	if stage, ok := strings.CutPrefix(detail, "missing list "); ok {
		return c.T("audit.detail.missing_list", nameOr(places.stages, stage))
	}
	if stage, ok := strings.CutPrefix(detail, "checkin "); ok {
		return c.T("audit.detail.checkin", nameOr(places.stages, stage))
	}
	if item, ok := strings.CutPrefix(detail, "supply "); ok {
		return c.T("audit.detail.supply", nameOr(places.items, item))
	}
	if id, ok := strings.CutPrefix(detail, "household "); ok {
		return c.T("audit.detail.household", id)
	}
	var applied, released, known, held, refused int
	if n, _ := fmt.Sscanf(detail, "%d events applied (%d of them held before), %d already in the log, %d held for review, %d refused",
		&applied, &released, &known, &held, &refused); n == 5 {
		return c.T("audit.detail.sync_import", applied, known, held, refused)
	}
	switch detail {
	case "view":
		return c.T("audit.detail.view")
	case "edit":
		return c.T("audit.detail.edit")
	case "card print":
		return c.T("audit.detail.card_print")
	case "card lookup":
		return c.T("audit.detail.card_lookup")
	case "card reissued":
		return c.T("audit.detail.card_reissued")
	case "trace match":
		return c.T("audit.detail.trace_match")
	case "matches":
		return c.T("audit.detail.matches")
	case "duplicates":
		return c.T("audit.detail.duplicates")
	case "conflicts":
		return c.T("audit.detail.conflicts")
	case "conflict resolved":
		return c.T("audit.detail.conflict_resolved")
	case "list":
		return c.T("audit.detail.list")
	case "search":
		return c.T("audit.detail.search")
	case "update", "updated":
		return c.T("audit.detail.updated")
	case "registered":
		return c.T("audit.detail.registered")
	case "reported":
		return c.T("audit.detail.reported")
	case "confirmed":
		return c.T("audit.detail.confirmed")
	case "rejected":
		return c.T("audit.detail.rejected")
	case "withdrawn":
		return c.T("audit.detail.withdrawn")
	case "headcounts":
		return c.T("audit.detail.headcounts")
	case "aggregate counts":
		return c.T("audit.detail.aggregate")
	}
	return detail
}

// auditAction words an audit action: a read of personal data, a login, a
// sync, or the kind of event a change appended.
func auditAction(c *reqCtx, action string) string {
	switch action {
	case "login":
		return c.T("audit.action.login")
	case "login.failed":
		return c.T("audit.action.login_failed")
	case "person.read":
		return c.T("audit.action.person_read")
	case "person.facts":
		return c.T("audit.action.person_facts")
	case "stats.read":
		return c.T("audit.action.stats_read")
	case "trace.read":
		return c.T("audit.action.trace_read")
	case "supply.note.read":
		return c.T("audit.action.supply_note_read")
	case "sync.import":
		return c.T("audit.action.sync_import")
	case "sync.export":
		return c.T("audit.action.sync_export")
	case "sync.release":
		return c.T("audit.action.sync_release")
	case "sync.discard":
		return c.T("audit.action.sync_discard")
	case "node.invite":
		return c.T("audit.action.node_invite")
	case auth.KindUserAdded:
		return c.T("audit.action.user_added")
	case auth.KindUserDisabled:
		return c.T("audit.action.user_disabled")
	case auth.KindUserPassword:
		return c.T("audit.action.user_password_set")
	case ledger.KindNodeEnrolled:
		return c.T("audit.action.node_enrolled")
	case ledger.KindNodeRevoked:
		return c.T("audit.action.node_revoked")
	case registry.KindPersonRegistered:
		return c.T("audit.action.person_registered")
	case registry.KindPersonUpdated:
		return c.T("audit.action.person_updated")
	case registry.KindPersonMerged:
		return c.T("audit.action.person_merged")
	case registry.KindHouseholdCreated:
		return c.T("audit.action.household_created")
	case registry.KindHouseholdUpdated:
		return c.T("audit.action.household_updated")
	case registry.KindMemberAdded:
		return c.T("audit.action.household_member_added")
	case registry.KindMemberRemoved:
		return c.T("audit.action.household_member_removed")
	case journey.KindRouteSet:
		return c.T("audit.action.route_set")
	case journey.KindCheckin:
		return c.T("audit.action.checkin_recorded")
	case journey.KindFound:
		return c.T("audit.action.journey_found")
	case journey.KindLeft:
		return c.T("audit.action.journey_left")
	case journey.KindRejoined:
		return c.T("audit.action.journey_rejoined")
	case journey.KindIncident:
		return c.T("audit.action.incident_recorded")
	case journey.KindHazard:
		return c.T("audit.action.hazard_recorded")
	case journey.KindHazardCleared:
		return c.T("audit.action.hazard_cleared")
	case tracing.KindReported:
		return c.T("audit.action.trace_reported")
	case tracing.KindConfirmed:
		return c.T("audit.action.trace_confirmed")
	case tracing.KindRejected:
		return c.T("audit.action.trace_rejected")
	case tracing.KindLinked:
		return c.T("audit.action.trace_linked")
	case tracing.KindWithdrawn:
		return c.T("audit.action.trace_withdrawn")
	case tracing.KindDistinct:
		return c.T("audit.action.trace_distinct")
	case tracing.KindReviewed:
		return c.T("audit.action.trace_reviewed")
	case supply.KindItemDefined:
		return c.T("audit.action.supply_item_defined")
	case supply.KindReceived:
		return c.T("audit.action.supply_received")
	case supply.KindDistributed:
		return c.T("audit.action.supply_distributed")
	case supply.KindReviewed:
		return c.T("audit.action.supply_reviewed")
	}
	return action
}
