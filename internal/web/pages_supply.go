package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
	"caravana/internal/supply"
)

// The supply page: stock per item and place, a distribution form (choose
// the item, type or scan a card code, see the household and whether it is
// entitled, then give) and a donation form. It works without JavaScript:
// every step is a form post; changes redirect back (POST-redirect-GET).

func init() { pageNames = append(pageNames, "supply") }

type supplyItemRow struct {
	ID, Name, Rule string
}

type supplyStockRow struct {
	Stage, Item                    string
	Received, Distributed, Balance int64
}

type supplyPrev struct {
	At, Stage, Node string
	Qty             int
}

// supplyCheck is the household at a glance and its entitlement.
type supplyCheck struct {
	Item      supplyItemRow
	ItemID    string
	Stage     string
	Person    glancePerson
	Household *glanceHousehold
	Alone     bool // no household: a household of one
	Qty       int
	Unit      string
	Entitled  bool
	Previous  []supplyPrev
}

type supplyView struct {
	Items      []supplyItemRow
	Stages     []supplyStage
	Stock      []supplyStockRow
	Item       string // the item chosen
	Stage      string // the stage chosen ("" = latest checkpoint)
	Check      *supplyCheck
	CanReceive bool
}

type supplyStage struct{ ID, Name string }

func ruleText(c *reqCtx, it supply.Item) string {
	return strconv.Itoa(it.Qty) + " " + it.Unit + " " + c.T("supply.per."+it.Per) + " " + c.T("supply.period."+it.Period)
}

// supplyData reads what every state of the page shows.
func (s *Server) supplyData(r *http.Request, c *reqCtx, item, stage string) (supplyView, map[string]supply.Item, error) {
	v := supplyView{Item: item, Stage: stage, CanReceive: auth.Can(c.p.Role, auth.SupplyReceive)}
	items, err := s.n.Supply.Items(r.Context(), c.p)
	if err != nil {
		return v, nil, err
	}
	byID := map[string]supply.Item{}
	for _, it := range items {
		byID[it.ID] = it
		v.Items = append(v.Items, supplyItemRow{ID: it.ID, Name: it.Name(c.lang), Rule: ruleText(c, it)})
	}
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return v, nil, err
	}
	for _, st := range route.Stages {
		v.Stages = append(v.Stages, supplyStage{ID: st.ID, Name: st.Name})
	}
	rows, err := s.n.Supply.Stock(r.Context(), c.p, "")
	if err != nil {
		return v, nil, err
	}
	for _, row := range rows {
		name := row.Item
		if it, ok := byID[row.Item]; ok {
			name = it.Name(c.lang)
		}
		st := row.Stage
		if x, ok := route.Stage(row.Stage); ok {
			st = x.Name
		}
		v.Stock = append(v.Stock, supplyStockRow{Stage: st, Item: name, Received: row.Received, Distributed: row.Distributed, Balance: row.Balance})
	}
	return v, byID, nil
}

func (s *Server) supplyPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyRead); err != nil {
		return err
	}
	q := r.URL.Query()
	v, _, err := s.supplyData(r, c, q.Get("item"), q.Get("stage"))
	if err != nil {
		return err
	}
	view := s.newView(r, c, "supply.title", "supply", v)
	view.Flash = doneFlash(c, r, "supply.done.")
	return s.render(w, r, http.StatusOK, "supply", view)
}

// supplyRefused renders the page again with what went wrong beside each
// field (400), keeping the item and stage chosen.
func (s *Server) supplyRefused(w http.ResponseWriter, r *http.Request, c *reqCtx, item, stage string, fes []registry.FieldError, check *supplyCheck) error {
	v, _, err := s.supplyData(r, c, item, stage)
	if err != nil {
		return err
	}
	v.Check = check
	view := s.newView(r, c, "supply.title", "supply", v)
	view.LangPath = "/supply"
	view.Errors = fieldErrors(c, fes)
	view.Flash = c.T("form.has_errors")
	return s.render(w, r, http.StatusBadRequest, "supply", view)
}

// supplyRef reads the person box: a card code (checked first) or a person
// id from a confirmation form.
func supplyRef(f map[string][]string) (supply.PersonRef, *registry.FieldError) {
	get := func(k string) string {
		if vs := f[k]; len(vs) > 0 {
			return strings.TrimSpace(vs[0])
		}
		return ""
	}
	if id := get("person"); id != "" {
		return supply.PersonRef{Person: id}, nil
	}
	code := get("code")
	if code == "" {
		return supply.PersonRef{}, &registry.FieldError{Field: "code", Code: "required", Message: "is required"}
	}
	canon, err := cardcode.Parse(code)
	switch {
	case errors.Is(err, cardcode.ErrCheck):
		return supply.PersonRef{}, &registry.FieldError{Field: "code", Code: "check", Message: "the check character does not match"}
	case err != nil:
		return supply.PersonRef{}, &registry.FieldError{Field: "code", Code: "code_format", Message: "is not a card code"}
	}
	return supply.PersonRef{Code: canon}, nil
}

// refusal turns a service error into field errors for the page; other
// errors are the server's (or a role's) and go to the error page.
func refusal(err error) ([]registry.FieldError, bool) {
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		out := slices.Clone([]registry.FieldError(ve))
		for i := range out {
			if strings.HasPrefix(out[i].Field, "people") || out[i].Field == "person" || strings.HasPrefix(out[i].Field, "person.") {
				out[i].Field = "code"
			}
		}
		return out, true
	}
	if errors.Is(err, supply.ErrNotFound) {
		return []registry.FieldError{{Field: "code", Code: "not_found", Message: "nobody here holds this card"}}, true
	}
	return nil, false
}

// supplyCheckSubmit shows the card holder's household and whether it is
// entitled to the item now, with a button to give it. It is a read (the
// glance is audited): rendered, not redirected.
func (s *Server) supplyCheckSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyGive); err != nil {
		return err
	}
	f := r.PostForm
	item, stage := strings.TrimSpace(f.Get("item")), strings.TrimSpace(f.Get("stage"))
	ref, fe := supplyRef(f)
	if fe != nil {
		return s.supplyRefused(w, r, c, item, stage, []registry.FieldError{*fe}, nil)
	}
	if err := s.spendCheckins(c, 1); err != nil {
		return err
	}
	e, err := s.n.Supply.Check(r.Context(), c.p, item, stage, ref)
	if fes, ok := refusal(err); ok {
		return s.supplyRefused(w, r, c, item, stage, fes, nil)
	} else if err != nil {
		return err
	}
	v, _, err := s.supplyData(r, c, e.Item.ID, stage)
	if err != nil {
		return err
	}
	v.Check = s.checkView(c, e)
	view := s.newView(r, c, "supply.title", "supply", v)
	view.LangPath = "/supply"
	return s.render(w, r, http.StatusOK, "supply", view)
}

func (s *Server) checkView(c *reqCtx, e supply.Entitlement) *supplyCheck {
	ck := &supplyCheck{Item: supplyItemRow{ID: e.Item.ID, Name: e.Item.Name(c.lang), Rule: ruleText(c, e.Item)}, ItemID: e.Item.ID,
		Stage: e.Stage, Qty: e.Qty, Unit: e.Item.Unit, Entitled: e.Entitled, Alone: e.Household == ""}
	for _, p := range e.Previous {
		ck.Previous = append(ck.Previous, supplyPrev{At: p.At.UTC().Format("2006-01-02 15:04"), Stage: p.Stage, Node: p.Node, Qty: p.Qty})
	}
	if e.Glance == nil {
		return ck
	}
	ck.Person = summaryView(c, e.Glance.Person)
	for _, h := range e.Glance.Households {
		if h.ID != e.Household {
			continue
		}
		gh := glanceHousehold{ID: h.ID, Label: h.Label, Kind: h.Kind}
		for _, m := range h.Members {
			gh.Members = append(gh.Members, glanceMember{glancePerson: summaryView(c, m.Person), Role: m.Role, Self: m.Person.ID == e.Person})
			gh.Total++
		}
		ck.Household = &gh
	}
	return ck
}

// supplyGiveSubmit records the distribution and goes back to the page.
func (s *Server) supplyGiveSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyGive); err != nil {
		return err
	}
	f := r.PostForm
	item, stage := strings.TrimSpace(f.Get("item")), strings.TrimSpace(f.Get("stage"))
	ref, fe := supplyRef(f)
	if fe != nil {
		return s.supplyRefused(w, r, c, item, stage, []registry.FieldError{*fe}, nil)
	}
	if ref.Code != "" {
		if err := s.spendCheckins(c, 1); err != nil {
			return err
		}
	}
	_, err := s.n.Supply.Give(r.Context(), c.p, supply.GiveInput{Item: item, Stage: stage, People: []supply.PersonRef{ref}})
	if fes, ok := refusal(err); ok {
		return s.supplyRefused(w, r, c, item, stage, fes, nil)
	} else if err != nil {
		return err
	}
	return redirect(w, r, "/supply?done=given&item="+urlQuery(item)+"&stage="+urlQuery(stage))
}

// supplyReceiveSubmit records a donation in.
func (s *Server) supplyReceiveSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.SupplyReceive); err != nil {
		return err
	}
	f := r.PostForm
	in := supply.ReceiptInput{Item: f.Get("item"), Stage: f.Get("stage"), Donor: f.Get("donor")}
	qty, qerr := supply.ParseQty(f.Get("qty"))
	var fes []registry.FieldError
	if qerr != nil {
		fes = append(fes, registry.FieldError{Field: "qty", Code: "invalid", Message: "is not a quantity"})
	} else {
		in.Qty = qty
		if _, err := s.n.Supply.Receive(r.Context(), c.p, in); err != nil {
			var ok bool
			if fes, ok = refusal(err); !ok {
				return err
			}
		}
	}
	if len(fes) > 0 {
		for i := range fes {
			fes[i].Field = "r_" + fes[i].Field // the donation form's own fields
		}
		return s.supplyRefused(w, r, c, "", "", fes, nil)
	}
	return redirect(w, r, "/supply?done=received")
}

func urlQuery(s string) string {
	if len(s) > 64 || strings.ContainsAny(s, "&?#%+ /") {
		return ""
	}
	return s
}
