package web

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"caravana/internal/journey"
)

// maxBody caps every request body (S18: a parser never sees unbounded input).
const maxBody = 64 << 10

// maxRouteBody caps a route upload: a route file may be up to
// journey.MaxRouteBytes, plus the form's own bytes around it.
const maxRouteBody = journey.MaxRouteBytes + 16<<10

// bodyLimit is the cap for r's body: route uploads get the larger one.
func bodyLimit(r *http.Request) int64 {
	if (r.Method == http.MethodPost && r.URL.Path == "/route") || (r.Method == http.MethodPut && r.URL.Path == "/api/v1/route") {
		return maxRouteBody
	}
	if isSyncProtocol(r) {
		return maxSyncBody
	}
	return maxBody
}

// reqInfo travels down the chain so inner handlers can tell the access log
// and metrics who the user was without either seeing request data.
type reqInfo struct {
	user string
}

type ctxKey int

const infoKey ctxKey = 0

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// statusWriter remembers the status and counts the bytes that went out.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost layer: it caps bodies, recovers panics, and
// records one access-log line and the metrics for each request. It logs the
// route pattern, never the path or query, so no name or code a client put in
// a URL by mistake reaches the log (S4).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), infoKey, ri))
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r))
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The panic value may hold request data; log only its type
				// and the stack (which shows no string contents).
				s.log.Error("http panic", "type", typeName(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, errInternal)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.observe(route, status, d)
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "http",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Duration("dur", d), slog.Int64("bytes", sw.bytes), slog.String("user", ri.user))
		}()
		next.ServeHTTP(sw, r)
	})
}

func typeName(v any) string {
	switch v.(type) {
	case error:
		return "error"
	case string:
		return "string"
	}
	return "other"
}

// csp allows only same-origin resources, no inline script and no inline
// style; the SVG charts use presentation attributes, which CSP allows.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// secure sets the headers every response carries. Cache-Control defaults
// to no-store because nearly every page and API answer holds PII or a CSRF
// token; the static handler overrides it.
func (s *Server) secure(next http.Handler) http.Handler {
	// Defence in depth under the CSRF tokens: browsers say where a request
	// came from (Sec-Fetch-Site, Origin), and a cross-site POST is refused
	// before any handler runs.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, errCSRF)
			return
		}
		s.pageError(w, r, nil, errCSRF)
	}))
	inner := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		inner.ServeHTTP(w, r)
	})
}

// langSwitch turns ?lang=es|en on a page into a cookie and redirects to
// the same page without the lang parameter (its other parameters kept), so
// the choice lives in the cookie rather than in every link.
func (s *Server) langSwitch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := r.URL.Query().Get("lang")
		if lang == "" || r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := s.cats[lang]; ok {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: true})
		}
		// withoutLang never leaves this host (no open redirect).
		http.Redirect(w, r, withoutLang(r.URL), http.StatusSeeOther)
	})
}

func retryAfter(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}
