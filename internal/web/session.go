package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"caravana/internal/auth"
)

const (
	sessionCookie = "caravana_session"
	// loginCookie carries the login form's double-submit CSRF token: there
	// is no session yet to hold one.
	loginCookie = "caravana_login"
	langCookie  = "lang"
)

// reqCtx is what a handler knows about the caller.
type reqCtx struct {
	p     auth.Principal
	sess  auth.Session
	token string
	lang  string
	cat   catalog
}

// T translates a catalogue key for this request.
func (c *reqCtx) T(key string, args ...any) string { return c.cat.T(key, args...) }

// secureCookie decides the Secure flag: forced by Options, else set over
// TLS and for loopback hosts (browsers treat those as secure origins). Over
// plain HTTP to a LAN address a Secure cookie would be dropped and nobody
// could log in; run such a node behind TLS or set SecureCookies.
func (s *Server) secureCookie(r *http.Request) bool {
	if s.opt.SecureCookies || r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authenticate resolves the session cookie. errUnauthed means no valid
// session; anything else is the server's fault.
func (s *Server) authenticate(r *http.Request) (*reqCtx, error) {
	c := &reqCtx{}
	c.lang, c.cat = s.language(r)
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return c, errUnauthed
	}
	p, sess, err := s.n.Auth.Authenticate(r.Context(), ck.Value)
	if errors.Is(err, auth.ErrSessionExpired) {
		return c, errUnauthed
	}
	if err != nil {
		return c, err
	}
	c.p, c.sess, c.token = p, sess, ck.Value
	info(r).user = p.UserID
	return c, nil
}

// clientAddr is the key for per-address login throttling. Forwarding
// headers are ignored: anyone can forge them, and a node is reached
// directly on its LAN.
func clientAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// apiFlags mark API routes that skip the session check.
type apiFlags int

const public apiFlags = 1

type apiHandler func(w http.ResponseWriter, r *http.Request, c *reqCtx) error

func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// api registers a JSON route: session required unless public, and the
// X-CSRF-Token header on every mutating request of a session.
func (s *Server) api(pattern string, h apiHandler, flags apiFlags) {
	method, _, _ := strings.Cut(pattern, " ")
	s.apiRoutes = append(s.apiRoutes, pattern)
	s.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		var c *reqCtx
		if flags&public != 0 {
			c = &reqCtx{}
			c.lang, c.cat = s.language(r)
		} else {
			var err error
			if c, err = s.authenticate(r); err != nil {
				writeError(w, s.logged(r, err))
				return
			}
			if mutating(method) && !auth.CheckCSRF(c.sess, r.Header.Get("X-CSRF-Token")) {
				writeError(w, errCSRF)
				return
			}
		}
		if err := h(w, r, c); err != nil {
			writeError(w, s.logged(r, err))
		}
	})
}

type pageHandler func(w http.ResponseWriter, r *http.Request, c *reqCtx) error

// page wraps a web page: no session sends the browser to the login form;
// a POST must carry the session's CSRF token in the csrf form field.
func (s *Server) page(h pageHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if errors.Is(err, errUnauthed) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			s.pageError(w, r, c, err)
			return
		}
		if r.Method == http.MethodPost {
			// A file upload (the route import) is multipart; its parts stay
			// in memory (the body is capped below the limit), so nothing a
			// user uploads is ever written to a temp file (S1).
			parse := r.ParseForm
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
				parse = func() error { return r.ParseMultipartForm(2 * maxRouteBody) }
			}
			if err := parse(); err != nil {
				s.pageError(w, r, c, formError(err))
				return
			}
			if !auth.CheckCSRF(c.sess, r.PostForm.Get("csrf")) {
				s.pageError(w, r, c, errCSRF)
				return
			}
		}
		if err := h(w, r, c); err != nil {
			s.pageError(w, r, c, err)
		}
	}
}

func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	return &httpError{status: http.StatusBadRequest, code: "invalid", msg: "unreadable form"}
}

// sameToken compares two tokens in constant time; empty never matches.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
