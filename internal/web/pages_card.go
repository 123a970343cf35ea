package web

import (
	"html/template"
	"net/http"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
	"caravana/internal/report"
)

type cardView struct {
	ID      string
	Name    string
	Code    string // formatted for reading aloud: XXXXX-XXXXX
	QR      template.HTML
	AgeBand string
	Sex     string
}

// checkCard allows printing and reissuing to roles that may print cards.
// Reissuing also needs person.update (checked by the registry): a role that
// cannot print the new card should not void the old one.
func checkCard(c *reqCtx) error { return auth.Check(c.p, auth.CardPrint) }

func (s *Server) cardShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := checkCard(c); err != nil {
		return err
	}
	p, err := s.n.Registry.Get(r.Context(), c.p, r.PathValue("id"), "card print")
	if err != nil {
		return err
	}
	qr, err := report.QR(p.Code)
	if err != nil {
		return err
	}
	d := cardView{ID: p.ID, Name: p.FullName(), Code: cardcode.Format(p.Code), QR: qr, Sex: label(c, "sex.", p.Sex)}
	if p.Age != nil {
		d.AgeBand = registry.AgeBand(*p.Age, true)
	}
	return s.render(w, r, http.StatusOK, "card", s.newView(r, c, "card.title", "card", d))
}

func (s *Server) cardReissue(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := checkCard(c); err != nil {
		return err
	}
	p, err := s.n.Registry.ReissueCard(r.Context(), c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return redirect(w, r, "/people/"+p.ID+"/card")
}
