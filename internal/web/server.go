// Package web is Caravana's HTTP layer: the JSON API under /api/v1/ and the
// server-rendered web UI, both calling the same domain services with the
// same permission checks. Templates, the stylesheet, the i18n catalogues and
// the OpenAPI document are embedded and checked when the server is built,
// so a broken asset stops the program at start rather than on a request.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"caravana/internal/node"
	"caravana/internal/replication"
)

//go:embed templates/*.html static/app.css i18n/*.json openapi.json
var assets embed.FS

// Options tune the server.
type Options struct {
	Log *slog.Logger
}

// Server serves one node over HTTP.
type Server struct {
	n       *node.Node
	opt     Options
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*pageTemplate
	cats    map[string]catalog
	css     []byte
	cssPath string
	openapi []byte
	metrics *metrics
	codes   *limiter // card-code look-ups per user (S9)
	// checkins is the per-user budget of check-ins and journey look-ups by
	// code, much larger than codes': see newCheckinLimiter.
	checkins *limiter
	scans    *scanMemo // each session's last scans, for the check-in page
	// repl answers the node-to-node sync endpoints (/sync/v1/).
	repl    *replication.Server
	handler http.Handler
	// patterns lists every route registered and apiRoutes the /api/v1 ones,
	// so tests can hold the role matrix and OpenAPI document to all of them.
	patterns  []string
	apiRoutes []string
}

// New builds a server for n. It parses every template and catalogue now.
func New(n *node.Node, opt Options) (*Server, error) {
	if n == nil {
		return nil, fmt.Errorf("web: nil node")
	}
	s := &Server{n: n, opt: opt, log: opt.Log, mux: http.NewServeMux(), codes: newLimiter(30, 10),
		checkins: newCheckinLimiter(), scans: newScanMemo()}
	if s.log == nil {
		s.log = slog.Default()
	}
	var err error
	if s.cats, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(assets); err != nil {
		return nil, err
	}
	if s.css, err = assets.ReadFile("static/app.css"); err != nil {
		return nil, fmt.Errorf("web: stylesheet: %w", err)
	}
	sum := sha256.Sum256(s.css)
	s.cssPath = "/static/" + hex.EncodeToString(sum[:6]) + "/app.css"
	if s.openapi, err = assets.ReadFile("openapi.json"); err != nil {
		return nil, fmt.Errorf("web: openapi: %w", err)
	}
	if !json.Valid(s.openapi) {
		return nil, fmt.Errorf("web: openapi.json is not valid JSON")
	}
	s.metrics = newMetrics()
	s.repl = replication.NewServer(n, s.log)
	s.routes()
	s.handler = s.observe(s.secure(s.gzip(s.langSwitch(s.fallback(s.mux)))))
	return s, nil
}

// Handler is the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// handle registers a route and remembers its pattern.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

func (s *Server) routes() {
	m := s
	m.handle("GET /healthz", s.healthz)
	m.handle("GET /metrics", s.metrics.handler().ServeHTTP)
	m.handle("GET /static/{hash}/app.css", s.static)

	// Pages.
	m.handle("GET /login", s.loginForm)
	m.handle("POST /login", s.loginSubmit)
	m.handle("POST /logout", s.page(s.logout))
	m.handle("GET /{$}", s.page(s.dashboard))
	m.handle("GET /people", s.page(s.peopleList))
	m.handle("POST /people/search", s.page(s.peopleSearch))
	m.handle("GET /people/new", s.page(s.personNew))
	m.handle("POST /people", s.page(s.personCreate))
	m.handle("GET /people/{id}", s.page(s.personShow))
	m.handle("GET /people/{id}/edit", s.page(s.personEdit))
	m.handle("POST /people/{id}/edit", s.page(s.personUpdate))
	m.handle("GET /people/{id}/card", s.page(s.cardShow))
	m.handle("POST /people/{id}/card/reissue", s.page(s.cardReissue))
	m.handle("GET /households", s.page(s.householdList))
	m.handle("GET /households/new", s.page(s.householdNew))
	m.handle("POST /households", s.page(s.householdCreate))
	m.handle("GET /households/{id}", s.page(s.householdShow))
	m.handle("POST /households/{id}/members", s.page(s.memberAdd))
	m.handle("POST /households/{id}/members/{person}/remove", s.page(s.memberRemove))
	m.handle("GET /audit", s.page(s.auditPage))
	m.handle("GET /users", s.page(s.usersPage))
	m.handle("POST /users", s.page(s.userAdd))
	m.handle("POST /users/{username}/disable", s.page(s.userDisable))
	m.handle("GET /route", s.page(s.routePage))
	m.handle("POST /route", s.page(s.routeImport))
	m.handle("GET /headcounts", s.page(s.headcountsPage))
	m.handle("GET /checkin", s.page(s.checkinChoose))
	m.handle("GET /checkin/{stage}", s.page(s.checkinPage))
	m.handle("POST /checkin/{stage}", s.page(s.checkinSubmit))
	m.handle("GET /missing", s.page(s.missingPage))
	m.handle("POST /missing/found", s.page(s.missingFound))
	m.handle("POST /missing/left", s.page(s.missingLeft))
	m.handle("POST /missing/rejoined", s.page(s.missingRejoined))
	m.handle("GET /timeline", s.page(s.timelinePage))
	m.handle("POST /incidents", s.page(s.incidentCreate))
	m.handle("POST /hazards", s.page(s.hazardCreate))
	m.handle("POST /hazards/{id}/clear", s.page(s.hazardClear))
	m.handle("GET /tracing", s.page(s.tracingList))
	m.handle("GET /tracing/new", s.page(s.tracingNew))
	m.handle("POST /tracing", s.page(s.tracingCreate))
	m.handle("GET /tracing/{id}", s.page(s.tracingShow))
	m.handle("POST /tracing/{id}/confirm", s.page(s.tracingConfirm))
	m.handle("POST /tracing/{id}/reject", s.page(s.tracingReject))
	m.handle("POST /tracing/{id}/withdraw", s.page(s.tracingWithdraw))
	m.handle("GET /duplicates", s.page(s.duplicatesPage))
	m.handle("POST /duplicates/distinct", s.page(s.duplicatesDistinct))
	m.handle("POST /duplicates/merge", s.page(s.duplicatesMerge))
	m.handle("GET /conflicts", s.page(s.conflictsPage))
	m.handle("POST /conflicts/resolve", s.page(s.conflictResolve))
	m.handle("POST /conflicts/review", s.page(s.conflictReview))
	m.handle("POST /conflicts/disable-user", s.page(s.conflictDisableUser))
	m.handle("GET /supply", s.page(s.supplyPage))
	m.handle("POST /supply/check", s.page(s.supplyCheckSubmit))
	m.handle("POST /supply/give", s.page(s.supplyGiveSubmit))
	m.handle("POST /supply/receive", s.page(s.supplyReceiveSubmit))
	m.handle("GET /sync", s.page(s.syncPage))
	m.handle("POST /sync/nodes/{id}/revoke", s.page(s.syncRevoke))
	m.handle("POST /sync/held/{id}/release", s.page(s.syncRelease))

	// Node-to-node sync: signed by node keys, no session (see replication).
	m.handle("POST "+replication.PathPull, s.repl.Pull)
	m.handle("POST "+replication.PathPush, s.repl.Push)
	m.handle("POST "+replication.PathJoin, s.repl.Join)

	// JSON API.
	s.api("POST /api/v1/session", s.apiLogin, public)
	s.api("GET /api/v1/session", s.apiWhoAmI, 0)
	s.api("DELETE /api/v1/session", s.apiLogout, 0)
	s.api("GET /api/v1/people", s.apiPeopleList, 0)
	s.api("POST /api/v1/people", s.apiPersonCreate, 0)
	s.api("GET /api/v1/people/{id}", s.apiPersonGet, 0)
	s.api("PATCH /api/v1/people/{id}", s.apiPersonPatch, 0)
	s.api("POST /api/v1/people/search", s.apiPeopleSearch, 0)
	s.api("POST /api/v1/people/{id}/card", s.apiCardReissue, 0)
	s.api("GET /api/v1/households", s.apiHouseholdList, 0)
	s.api("POST /api/v1/households", s.apiHouseholdCreate, 0)
	s.api("GET /api/v1/households/{id}", s.apiHouseholdGet, 0)
	s.api("POST /api/v1/households/{id}/members", s.apiMemberAdd, 0)
	s.api("DELETE /api/v1/households/{id}/members/{person}", s.apiMemberRemove, 0)
	s.api("GET /api/v1/stats", s.apiStats, 0)
	s.api("GET /api/v1/audit", s.apiAudit, 0)
	s.api("GET /api/v1/users", s.apiUsers, 0)
	s.api("POST /api/v1/users", s.apiUserAdd, 0)
	s.api("POST /api/v1/users/{username}/disable", s.apiUserDisable, 0)
	s.api("GET /api/v1/route", s.apiRoute, 0)
	s.api("PUT /api/v1/route", s.apiRouteSet, 0)
	s.api("GET /api/v1/map", s.apiMap, 0)
	s.api("GET /api/v1/headcounts", s.apiHeadcounts, 0)
	s.api("POST /api/v1/checkins", s.apiCheckins, 0)
	s.api("GET /api/v1/progress", s.apiProgress, 0)
	s.api("GET /api/v1/missing", s.apiMissing, 0)
	s.api("POST /api/v1/missing/found", s.apiMissingFound, 0)
	s.api("POST /api/v1/missing/left", s.apiMissingLeft, 0)
	s.api("POST /api/v1/missing/rejoined", s.apiMissingRejoined, 0)
	s.api("GET /api/v1/incidents", s.apiIncidents, 0)
	s.api("POST /api/v1/incidents", s.apiIncidentCreate, 0)
	s.api("GET /api/v1/hazards", s.apiHazards, 0)
	s.api("POST /api/v1/hazards", s.apiHazardCreate, 0)
	s.api("POST /api/v1/hazards/{id}/clear", s.apiHazardClear, 0)
	s.api("GET /api/v1/timeline", s.apiTimeline, 0)
	s.api("POST /api/v1/reports", s.apiReportCreate, 0)
	s.api("GET /api/v1/reports", s.apiReports, 0)
	s.api("GET /api/v1/reports/{id}", s.apiReportGet, 0)
	s.api("GET /api/v1/reports/{id}/matches", s.apiReportMatches, 0)
	s.api("POST /api/v1/reports/{id}/confirm", s.apiReportConfirm, 0)
	s.api("POST /api/v1/reports/{id}/reject", s.apiReportReject, 0)
	s.api("POST /api/v1/reports/{id}/withdraw", s.apiReportWithdraw, 0)
	s.api("GET /api/v1/duplicates", s.apiDuplicates, 0)
	s.api("POST /api/v1/duplicates/distinct", s.apiDuplicatesDistinct, 0)
	s.api("POST /api/v1/people/{id}/merge", s.apiPersonMerge, 0)
	s.api("GET /api/v1/supply/items", s.apiSupplyItems, 0)
	s.api("GET /api/v1/supply/stock", s.apiSupplyStock, 0)
	s.api("POST /api/v1/supply/distributions", s.apiSupplyDistributions, 0)
	s.api("POST /api/v1/supply/receipts", s.apiSupplyReceipt, 0)
	s.api("GET /api/v1/sync", s.apiSync, 0)
	s.api("GET /api/v1/openapi.json", s.apiOpenAPI, public)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// static serves the stylesheet under its content hash: a page always names
// the current file, so browsers may cache it forever.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.cssPath {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(s.css)
}

// fallback answers unknown paths and wrong methods instead of the mux's
// plain-text English ones: JSON errors under /api/ and for the sync
// protocol, a page in the user's language for everything else.
func (s *Server) fallback(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := s.mux.Handler(r)
		if pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		// Let the mux's own handler decide between 404 and 405 (and set
		// Allow), then replace its body.
		rec := &headerOnly{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.h.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		wrongMethod := rec.status == http.StatusMethodNotAllowed
		if strings.HasPrefix(r.URL.Path, "/api/") || isSyncProtocol(r) {
			if wrongMethod {
				writeError(w, &httpError{status: rec.status, code: "method_not_allowed", msg: "method not allowed on this resource"})
				return
			}
			writeError(w, &httpError{status: http.StatusNotFound, code: "not_found", msg: "no such API route"})
			return
		}
		if rec.status != http.StatusNotFound && !wrongMethod {
			// A redirect (a path the mux cleans, or a missing trailing
			// slash): let the mux send it.
			next.ServeHTTP(w, r)
			return
		}
		c, _ := s.authenticate(r) // the page shows the menu to a logged-in user
		if wrongMethod {
			s.pageError(w, r, c, errWrongMethod)
			return
		}
		s.pageError(w, r, c, errNoPage)
	})
}

// headerOnly records a status and headers and drops the body.
type headerOnly struct {
	h      http.Header
	status int
}

func (h *headerOnly) Header() http.Header         { return h.h }
func (h *headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (h *headerOnly) WriteHeader(code int)        { h.status = code }
