package web

import (
	"errors"
	"net/http"

	"caravana/internal/auth"
	"caravana/internal/registry"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type sessionResponse struct {
	CSRFToken string         `json:"csrf_token"`
	User      auth.Principal `json:"user"`
}

// apiLogin needs no CSRF header: there is no session yet. decodeJSON
// insists on application/json, which a cross-site form cannot send.
func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		var fes []registry.FieldError
		if req.Username == "" {
			fes = append(fes, registry.FieldError{Field: "username", Code: "required", Message: "is required"})
		}
		if req.Password == "" {
			fes = append(fes, registry.FieldError{Field: "password", Code: "required", Message: "is required"})
		}
		return invalid(fes...)
	}
	token, sess, p, err := s.n.Auth.Login(r.Context(), s.n.Throttle, req.Username, req.Password, clientAddr(r))
	if errors.Is(err, auth.ErrLockedOut) {
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited",
			msg: "too many failed attempts; try again later", retryAfter: s.lockWait(r, req.Username)}
	}
	if err != nil {
		return err
	}
	info(r).user = p.UserID
	s.setCookie(w, r, sessionCookie, token, 0)
	writeJSON(w, http.StatusOK, sessionResponse{CSRFToken: sess.CSRF, User: p})
	return nil
}

// apiWhoAmI returns the session's user and its CSRF token (a client that
// reloads can fetch it again; other origins cannot read the answer).
func (s *Server) apiWhoAmI(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	writeJSON(w, http.StatusOK, sessionResponse{CSRFToken: c.sess.CSRF, User: c.p})
	return nil
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.n.Auth.Logout(r.Context(), c.token); err != nil {
		return err
	}
	s.scans.forget(c.token)
	s.setCookie(w, r, sessionCookie, "", -1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, err := w.Write(s.openapi)
	return err
}
