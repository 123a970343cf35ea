package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net"
	"net/http"
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

// T translates a catalogue key for this request. A key with a ".one"
// variant counts something: when its first argument is the number 1 the
// variant is used ("1 año", not "1 años"). That is all the plural rules
// Spanish and English need.
func (c *reqCtx) T(key string, args ...any) string {
	if len(args) > 0 && isOne(args[0]) {
		if one := key + ".one"; c.cat.Has(one) {
			return c.cat.T(one, args...)
		}
	}
	return c.cat.T(key, args...)
}

// isOne reports whether v is an integer equal to 1.
func isOne(v any) bool {
	switch n := v.(type) {
	case int:
		return n == 1
	case int32:
		return n == 1
	case int64:
		return n == 1
	case uint:
		return n == 1
	case uint32:
		return n == 1
	case uint64:
		return n == 1
	}
	return false
}

// setCookie sets a cookie with the flags S8 asks for: Secure, HttpOnly,
// SameSite=Strict. Secure always: browsers keep Secure cookies on
// http://localhost and http://127.0.0.1, and `serve` will not bind another
// address without TLS. The request is not consulted.
func (s *Server) setCookie(w http.ResponseWriter, _ *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: true})
}

// lang is the request's language: Spanish, the caravan's language, unless
// the user chose another with the switch (the lang cookie). The browser's
// Accept-Language is not consulted: a volunteer's English phone must not
// show English to the person registering beside them.
func (s *Server) lang(r *http.Request) (string, catalog) {
	if ck, err := r.Cookie(langCookie); err == nil {
		if c, ok := s.cats[ck.Value]; ok {
			return ck.Value, c
		}
	}
	return languages[0], s.cats[languages[0]]
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
	c.lang, c.cat = s.lang(r)
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
			c.lang, c.cat = s.lang(r)
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
