package web

import (
	"errors"
	"net/http"
	"time"

	"caravana/internal/auth"
)

type loginData struct {
	Username string
}

// loginForm shows the form with a fresh double-submit token.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	c := &reqCtx{}
	c.lang, c.cat = s.lang(r)
	s.showLogin(w, r, c, http.StatusOK, loginData{}, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, d loginData, flash string) {
	token := randomToken()
	s.setCookie(w, r, loginCookie, token, 3600)
	v := s.newView(r, c, "login.title", "login", d)
	v.CSRF = token
	v.Flash = flash
	if err := s.render(w, r, status, "login", v); err != nil {
		s.pageError(w, r, c, err)
	}
}

// loginSubmit checks the double-submit token, then the password. Login is
// throttled per username and per address inside auth.Service.Login.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	c := &reqCtx{}
	c.lang, c.cat = s.lang(r)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, c, formError(err))
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(ck.Value, r.PostForm.Get("csrf")) {
		s.pageError(w, r, c, errCSRF)
		return
	}
	username := r.PostForm.Get("username")
	d := loginData{Username: username}
	token, _, p, err := s.n.Auth.Login(r.Context(), s.n.Throttle, username, r.PostForm.Get("password"), clientAddr(r))
	switch {
	case errors.Is(err, auth.ErrBadCredentials):
		s.showLogin(w, r, c, http.StatusUnauthorized, d, c.T("login.bad"))
		return
	case errors.Is(err, auth.ErrBusy):
		w.Header().Set("Retry-After", retryAfter(errBusy.retryAfter))
		s.showLogin(w, r, c, errBusy.status, d, c.T("error.busy"))
		return
	case errors.Is(err, auth.ErrLockedOut):
		wait := s.lockWait(r, username)
		w.Header().Set("Retry-After", retryAfter(wait))
		s.showLogin(w, r, c, http.StatusTooManyRequests, d, c.T("login.locked", humanWait(c, wait)))
		return
	case err != nil:
		s.pageError(w, r, c, err)
		return
	}
	info(r).user = p.UserID
	s.setCookie(w, r, sessionCookie, token, 0)
	s.setCookie(w, r, loginCookie, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// lockWait is how long until the locked login may be tried again: the
// longer of the per-user and per-address waits.
func (s *Server) lockWait(r *http.Request, username string) time.Duration {
	if wait := s.n.Throttle.LoginWait(r.Context(), username, clientAddr(r)); wait > 0 {
		return wait
	}
	return 30 * time.Second // locked a moment ago; the lock cannot be read now
}

func humanWait(c *reqCtx, d time.Duration) string {
	if d < time.Minute {
		return c.T("wait.seconds", int((d+time.Second-1)/time.Second))
	}
	return c.T("wait.minutes", int((d+time.Minute-1)/time.Minute))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.n.Auth.Logout(r.Context(), c.token); err != nil {
		return err
	}
	s.scans.forget(c.token)
	s.setCookie(w, r, sessionCookie, "", -1)
	return redirect(w, r, "/login")
}
