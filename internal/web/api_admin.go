package web

import (
	"net/http"

	"caravana/internal/auth"
	"caravana/internal/store"
)

func (s *Server) apiStats(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	st, err := s.n.Registry.Stats(r.Context(), c.p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

type auditResponse struct {
	Entries []store.AuditEntry `json:"entries"`
	// NextBefore is the before= value of the next (older) page; 0 at the end.
	NextBefore int64 `json:"next_before"`
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.AuditRead); err != nil {
		return err
	}
	f, err := auditQuery(r, 100)
	if err != nil {
		return err
	}
	entries, err := s.readAudit(r.Context(), c, f)
	if err != nil {
		return err
	}
	res := auditResponse{Entries: nonNil(entries)}
	if len(entries) == f.Limit && len(entries) > 0 {
		res.NextBefore = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

type usersResponse struct {
	Users []auth.User `json:"users"`
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	users, err := s.n.Auth.Users(r.Context(), c.p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, usersResponse{Users: nonNil(users)})
	return nil
}

type newUserRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (s *Server) apiUserAdd(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.UserManage); err != nil {
		return err
	}
	var req newUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.addUser(r.Context(), c, req.Username, req.Role, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) apiUserDisable(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := s.disableUser(r.Context(), c, r.PathValue("username")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "disabled"})
	return nil
}
