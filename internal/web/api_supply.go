package web

import (
	"net/http"
	"reflect"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/supply"
)

// The supply JSON API: the item catalogue, stock per place, donations in
// and distributions to households. The service checks every role again;
// the handlers check first so a role that may not act learns nothing from
// validation errors. Card codes travel in bodies, never in URLs (S4).

func init() {
	// Error messages may name the supply inputs' fields (see knownFields).
	for _, v := range []any{supply.GiveInput{}, supply.ReceiptInput{}, supply.Item{}} {
		collectFields(reflect.TypeOf(v), knownFields)
	}
	for _, k := range []string{"outcome", "note", "distribution", "household"} {
		knownFields[k] = true
	}
}

func (s *Server) apiSupplyItems(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	items, err := s.n.Supply.Items(r.Context(), c.p)
	if err != nil {
		return err
	}
	if items == nil {
		items = []supply.Item{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) apiSupplyStock(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyRead); err != nil {
		return err
	}
	rows, err := s.n.Supply.Stock(r.Context(), c.p, r.URL.Query().Get("stage"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"stock": rows})
	return nil
}

func (s *Server) apiSupplyReceipt(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyReceive); err != nil {
		return err
	}
	var in supply.ReceiptInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	rc, err := s.n.Supply.Receive(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rc)
	return nil
}

type distributionsResponse struct {
	Results []supply.GiveResult `json:"results"`
}

// apiSupplyDistributions gives an item to the households of the people
// named, all or nothing: a household that already received the item in
// its period refuses the whole request (400, the field naming the person)
// and nothing is written. Card look-ups spend the same budget as
// check-ins (S9).
func (s *Server) apiSupplyDistributions(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyGive); err != nil {
		return err
	}
	var in supply.GiveInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	codes := 0
	for _, ref := range in.People {
		if ref.Code != "" && ref.Person == "" {
			if _, err := cardcode.Parse(ref.Code); err == nil {
				codes++
			}
		}
	}
	if codes > 0 && len(in.People) <= supply.MaxGive {
		if err := s.spendCheckins(c, codes); err != nil {
			return err
		}
	}
	res, err := s.n.Supply.Give(r.Context(), c.p, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, distributionsResponse{Results: res})
	return nil
}
