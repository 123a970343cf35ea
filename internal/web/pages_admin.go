package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/registry"
	"caravana/internal/store"
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
	d := auditData{Actor: f.Actor, Record: f.Record, Users: users}
	for _, e := range entries {
		row := auditRow{AuditEntry: e, When: time.UnixMilli(e.At).UTC().Format("2006-01-02 15:04:05"), Who: e.Actor}
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
