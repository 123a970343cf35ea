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
	Amount          string
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
	Amount    string // Qty with its unit: "30 L", "1 carpa"
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
	// Code is the card code as typed, shown back when it was refused.
	Code string
	// Recv is the donation form as typed, shown back with its errors.
	Recv receiveForm
}

// receiveForm is what the donation form holds.
type receiveForm struct {
	Item, Qty, Stage, Donor string
}

type supplyStage struct{ ID, Name string }

// stageName is the name of the stage id on the route, or the id.
func (v supplyView) stageName(id string) string {
	for _, st := range v.Stages {
		if st.ID == id {
			return st.Name
		}
	}
	return id
}

// ruleText is an item's entitlement rule in the reader's language:
// "15 L por persona por día", "1 cobija por persona una vez".
func ruleText(c *reqCtx, it supply.Item) string {
	per := it.Per
	switch it.Per {
	case supply.PerHousehold:
		per = c.T("supply.per.household")
	case supply.PerPerson:
		per = c.T("supply.per.person")
	}
	period := it.Period
	switch it.Period {
	case supply.Once:
		period = c.T("supply.period.once")
	case supply.PerStage:
		period = c.T("supply.period.per_stage")
	case supply.PerDay:
		period = c.T("supply.period.per_day")
	}
	return unitQty(c, it.Unit, it.Qty) + " " + per + " " + period
}

// unitQty is a quantity with its unit in the reader's language ("1
// cobija", "2 cobijas", "15 L"). The units of the default catalogue are
// translated; an item defined with another unit shows it as defined.
func unitQty(c *reqCtx, unit string, n int) string {
	switch unit {
	case "ration":
		return c.T("supply.unit.ration", n)
	case "kit":
		return c.T("supply.unit.kit", n)
	case "tent":
		return c.T("supply.unit.tent", n)
	case "blanket":
		return c.T("supply.unit.blanket", n)
	}
	return strconv.Itoa(n) + " " + unit
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
// field (400), keeping everything typed: the item and stage chosen, the
// card code, and the donation form.
func (s *Server) supplyRefused(w http.ResponseWriter, r *http.Request, c *reqCtx, item, stage string, fes []registry.FieldError, check *supplyCheck) error {
	v, _, err := s.supplyData(r, c, item, stage)
	if err != nil {
		return err
	}
	v.Check = check
	f := r.PostForm
	switch r.URL.Path {
	case "/supply/receive":
		v.Recv = receiveForm{Item: f.Get("item"), Qty: f.Get("qty"), Stage: f.Get("stage"), Donor: f.Get("donor")}
	default:
		v.Code = f.Get("code")
	}
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
	v.Check = s.checkView(c, e, v.stageName)
	view := s.newView(r, c, "supply.title", "supply", v)
	view.LangPath = "/supply"
	return s.render(w, r, http.StatusOK, "supply", view)
}

// checkView is the entitlement as the page shows it; stageName names a
// stage by its id.
func (s *Server) checkView(c *reqCtx, e supply.Entitlement, stageName func(string) string) *supplyCheck {
	ck := &supplyCheck{Item: supplyItemRow{ID: e.Item.ID, Name: e.Item.Name(c.lang), Rule: ruleText(c, e.Item)}, ItemID: e.Item.ID,
		Stage: e.Stage, Qty: e.Qty, Amount: unitQty(c, e.Item.Unit, e.Qty), Entitled: e.Entitled, Alone: e.Household == ""}
	for _, p := range e.Previous {
		ck.Previous = append(ck.Previous, supplyPrev{At: p.At.UTC().Format("2006-01-02 15:04"), Stage: stageName(p.Stage), Node: p.Node,
			Amount: unitQty(c, e.Item.Unit, p.Qty)})
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
