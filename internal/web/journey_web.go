package web

// What the journey pages and API share: the map's wording, labels for the
// journey's kinds, route-file errors made safe to show, the check-in budget,
// the memory of each session's last scans, and time fields.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"caravana/internal/journey"
	"caravana/internal/registry"
)

// mapText is the route map's wording in the request's language (the
// journey package ships only English).
func mapText(c *reqCtx) journey.MapText {
	return journey.MapText{Title: c.T("map.title"), Column: c.T("map.column"), Covered: c.T("map.covered"),
		ToGo: c.T("map.to_go"), Kind: func(k string) string { return kindLabel(c, k) }, Km: km}
}

// kindLabel translates an incident kind, hazard kind or severity (the map
// shows all three through one function).
func kindLabel(c *reqCtx, k string) string {
	for _, prefix := range []string{"incident.kind.", "hazard.kind.", "severity."} {
		if c.cat.Has(prefix + k) {
			return c.T(prefix + k)
		}
	}
	return k
}

// km formats a distance in whole km with a thin thousands separator.
func km(v float64) string {
	n := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, r := range n {
		if i > 0 && (len(n)-i)%3 == 0 {
			b.WriteRune('\u202f')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fmtTime shows a time in UTC, as the audit page does: nodes of one
// caravan sit in several time zones and compare notes.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// routeField and quoted keep a route file's problems showable: the field is
// a path the parser builds ("stages[3].km"), unless it is a key or column
// the file itself named, and quoted text from the file is left out. Route
// files hold places, not people, but a wrong file (a list of people saved
// as CSV) must not have its contents echoed back (S4).
var (
	routeField = regexp.MustCompile(`^(stages(\[\d+\])?)?(\.?(id|name|country|lat|lon|km))?$`)
	quoted     = regexp.MustCompile(`"[^"]*"|'[^']*'`)
)

func safeRouteMessage(msg string) string {
	return quoted.ReplaceAllStringFunc(msg, func(q string) string {
		if slices.Contains([]string{`"stages"`, `"id"`, `"name"`, `"country"`, `"lat"`, `"lon"`, `"km"`}, q) {
			return q
		}
		return "…"
	})
}

// routeProblem is one problem of a route file, as pages and the API show it.
type routeProblem struct {
	Line  int
	Field string
	Msg   string
}

func routeProblems(re *journey.RouteError) []routeProblem {
	out := make([]routeProblem, len(re.Problems))
	for i, p := range re.Problems {
		field := p.Field
		if !routeField.MatchString(field) {
			field = "column"
		}
		out[i] = routeProblem{Line: p.Line, Field: field, Msg: safeRouteMessage(p.Msg)}
	}
	return out
}

// routeInvalid is a 400 naming each problem's line and field.
func routeInvalid(re *journey.RouteError) *httpError {
	var fes []registry.FieldError
	for _, p := range routeProblems(re) {
		field := p.Field
		if field == "" {
			field = "file"
		}
		if p.Line > 0 {
			field = fmt.Sprintf("line %d: %s", p.Line, field)
		}
		fes = append(fes, registry.FieldError{Field: field, Code: "invalid", Message: p.Msg})
	}
	return &httpError{status: http.StatusBadRequest, code: "invalid", msg: "the route is not valid; nothing was changed",
		fields: fes, raw: true}
}

// spendCheckins takes n from the user's check-in budget.
func (s *Server) spendCheckins(c *reqCtx, n int) error {
	if ok, wait := s.checkins.allowN(c.p.UserID, n); !ok {
		s.log.Warn("check-in budget exhausted", "user", c.p.UserID)
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited",
			msg: "too many check-ins or look-ups by code; wait a moment", retryAfter: wait}
	}
	return nil
}

// scanMemo keeps each session's last scans at each stage in memory, so
// the check-in page can show a scan's result after redirecting to itself
// (POST-redirect-GET) without writing anything more: the check-in and the
// audit of every name shown are durable before the redirect goes out.
// Memory only, like the rate limits: a restart loses what the page shows,
// never a check-in.
type scanMemo struct {
	mu  sync.Mutex
	m   map[string]*scanLog
	now func() time.Time
}

// scanLog is one session's scans at one stage, newest first.
type scanLog struct {
	scans []scan
	seen  time.Time
}

// scan is one submission of the check-in form.
type scan struct {
	At     time.Time
	Result *journey.CheckinResult // nil when refused
	Err    string                 // catalogue key of the refusal
}

const (
	scanKeep    = 6
	scanIdle    = 30 * time.Minute
	scanMaxKeys = 5000
)

func newScanMemo() *scanMemo {
	return &scanMemo{m: map[string]*scanLog{}, now: time.Now}
}

// memoKey never holds the session token itself.
func memoKey(token, stage string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:12]) + "@" + stage
}

func (m *scanMemo) add(token, stage string, sc scan) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.m) >= scanMaxKeys {
		for k, l := range m.m {
			if now.Sub(l.seen) > scanIdle {
				delete(m.m, k)
			}
		}
	}
	k := memoKey(token, stage)
	l := m.m[k]
	if l == nil {
		if len(m.m) >= scanMaxKeys {
			return // full of live sessions: the page shows less, nothing is lost
		}
		l = &scanLog{}
		m.m[k] = l
	}
	l.seen = now
	l.scans = append([]scan{sc}, l.scans...)
	if len(l.scans) > scanKeep {
		l.scans = l.scans[:scanKeep]
	}
}

// recent returns the session's scans at stage, newest first.
func (m *scanMemo) recent(token, stage string) []scan {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.m[memoKey(token, stage)]
	if l == nil || m.now().Sub(l.seen) > scanIdle {
		return nil
	}
	return slices.Clone(l.scans)
}

// forget drops a session's scans (on logout).
func (m *scanMemo) forget(token string) {
	prefix := memoKey(token, "")
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.m {
		if strings.HasPrefix(k, prefix) {
			delete(m.m, k)
		}
	}
}

// formTime reads a datetime-local field (UTC, like every time on these
// pages); "" is the zero time.
func formTime(field, v string) (time.Time, *registry.FieldError) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &registry.FieldError{Field: field, Code: "invalid", Message: "must be a date and time such as 2018-10-20T14:30"}
}

// queryTime reads an RFC 3339 (or datetime-local) query parameter.
func queryTime(r *http.Request, field string) (time.Time, *registry.FieldError) {
	return formTime(field, r.URL.Query().Get(field))
}

// inputTime formats t for a datetime-local input.
func inputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

// stageParam returns a stage id from a query or form only if it is on the
// route: it goes back into Location headers and links.
func stageParam(route journey.Route, v string) string {
	if route.Index(v) >= 0 {
		return v
	}
	return ""
}
