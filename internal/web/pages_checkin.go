package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

// stageCookie remembers the checkpoint a device counts at, so a volunteer
// chooses it once. A stage id is a place, not a person: it may sit in a
// cookie and in the URL.
const stageCookie = "checkin_stage"

type chooseView struct {
	Stages    []stageRow
	Suggested []stageRow
	Current   string
}

// checkinChoose lists the stages to count at, the column's stage and the
// next one first. With a remembered stage it goes straight there, unless
// the volunteer asked to change (?choose=1).
func (s *Server) checkinChoose(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.CheckinRecord); err != nil {
		return err
	}
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return err
	}
	var current string
	if ck, err := r.Cookie(stageCookie); err == nil {
		current = stageParam(route, ck.Value)
	}
	if current != "" && r.URL.Query().Get("choose") == "" {
		return redirect(w, r, "/checkin/"+current)
	}
	col, err := s.n.Journey.ColumnPosition(r.Context(), c.p)
	if err != nil {
		return err
	}
	v := chooseView{Current: current}
	at := -1
	if col.Stage != nil {
		at = route.Index(col.Stage.ID)
	}
	for i, st := range route.Stages {
		row := stageRow{N: i + 1, ID: st.ID, Name: st.Name, Km: km(st.Km), Column: i == at}
		v.Stages = append(v.Stages, row)
		if i == at || (i == at+1 && at >= 0) || (at < 0 && i == 0) {
			v.Suggested = append(v.Suggested, row)
		}
	}
	return s.render(w, r, http.StatusOK, "journey_checkin_choose", s.newView(r, c, "checkin.title", "checkin", v))
}

// glancePerson is a person as the check-in page shows them: no photo, no
// birth date, only what recognising them at a glance needs.
type glancePerson struct {
	ID, Name, Sex, AgeBand string
	Flags                  []string
}

type glanceMember struct {
	glancePerson
	Role       string
	Self, Seen bool
}

type glanceHousehold struct {
	ID, Label, Kind string
	Members         []glanceMember
	Seen, Total     int
}

// scanView is one scan's outcome on the page.
type scanView struct {
	Outcome    string // ok, repeat, rejoined or error
	Msg        string
	At         string
	Person     *glancePerson
	Households []glanceHousehold
}

type checkinView struct {
	Stage    journey.Stage
	Progress journey.StageProgress
	Last     *scanView
	Recent   []scanView // earlier scans of this session here, newest first
	Results  []registry.Person
	Searched bool
}

func summaryView(c *reqCtx, sum registry.Summary) glancePerson {
	g := glancePerson{ID: sum.ID, Name: sum.Name, AgeBand: label(c, "age.", sum.AgeBand)}
	if sum.Sex != "" {
		g.Sex = label(c, "sex.", sum.Sex)
	}
	for _, f := range sum.Flags {
		g.Flags = append(g.Flags, c.T("flag."+f))
	}
	return g
}

func (s *Server) scanView(c *reqCtx, sc scan) scanView {
	if sc.Result == nil {
		return scanView{Outcome: "error", Msg: c.T(sc.Err), At: sc.At.UTC().Format("15:04")}
	}
	res := sc.Result
	v := scanView{Outcome: "ok", Msg: c.T("checkin.ok"), At: res.At.UTC().Format("15:04")}
	switch {
	case res.Repeat:
		v.Outcome, v.Msg = "repeat", c.T("checkin.repeat", v.At)
	case res.Rejoined:
		v.Outcome, v.Msg = "rejoined", c.T("checkin.rejoined")
	}
	if res.Glance == nil {
		return v
	}
	p := summaryView(c, res.Glance.Person)
	v.Person = &p
	for _, h := range res.Glance.Households {
		gh := glanceHousehold{ID: h.ID, Label: h.Label, Kind: h.Kind}
		for _, m := range h.Members {
			gm := glanceMember{glancePerson: summaryView(c, m.Person), Role: m.Role, Self: m.Person.ID == res.Person,
				Seen: slices.Contains(res.SeenHere, m.Person.ID)}
			gh.Members = append(gh.Members, gm)
			gh.Total++
			if gm.Seen {
				gh.Seen++
			}
		}
		v.Households = append(v.Households, gh)
	}
	return v
}

// checkinStage reads the stage from the path: a stage not on the route is
// a page that does not exist.
func (s *Server) checkinStage(r *http.Request, c *reqCtx) (journey.Stage, error) {
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return journey.Stage{}, err
	}
	st, ok := route.Stage(r.PathValue("stage"))
	if !ok {
		return journey.Stage{}, errNotFound
	}
	return st, nil
}

func (s *Server) checkinData(r *http.Request, c *reqCtx, st journey.Stage) (checkinView, error) {
	prog, err := s.n.Journey.Progress(r.Context(), c.p, st.ID)
	if err != nil {
		return checkinView{}, err
	}
	v := checkinView{Stage: st, Progress: prog}
	for i, sc := range s.scans.recent(c.token, st.ID) {
		sv := s.scanView(c, sc)
		if i == 0 {
			v.Last = &sv
		} else if sv.Person != nil {
			v.Recent = append(v.Recent, sv)
		}
	}
	return v, nil
}

// checkinPage is the page a volunteer keeps open at a crossing: the
// running count, one autofocused box for a card code, and the last scan's
// person and household at a glance. It remembers the stage in a cookie.
func (s *Server) checkinPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.CheckinRecord); err != nil {
		return err
	}
	st, err := s.checkinStage(r, c)
	if err != nil {
		return err
	}
	s.setCookie(w, r, stageCookie, st.ID, 60*24*3600)
	v, err := s.checkinData(r, c, st)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "journey_checkin", s.newView(r, c, "checkin.title", "checkin", v))
}

// checkinSubmit records a scan and redirects to the page (POST-redirect-GET):
// the check-in is durable before the redirect, and reloading the page
// never submits it again. A code with a wrong check character is refused
// at once, before any look-up. Text that is not a code is searched as a
// name, for someone without their card; the results offer a check-in each.
func (s *Server) checkinSubmit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := auth.Check(c.p, auth.CheckinRecord); err != nil {
		return err
	}
	st, err := s.checkinStage(r, c)
	if err != nil {
		return err
	}
	back := func(sc scan) error {
		sc.At = s.scans.now()
		s.scans.add(c.token, st.ID, sc)
		return redirect(w, r, "/checkin/"+st.ID)
	}
	if id := strings.TrimSpace(r.PostForm.Get("person")); id != "" {
		return s.checkinRef(w, r, c, st, journey.PersonRef{Person: id}, back)
	}
	q := strings.TrimSpace(r.PostForm.Get("code"))
	if q == "" {
		return back(scan{Err: "err.code.required"})
	}
	like, digits := codeLike(q)
	canon, perr := cardcode.Parse(q)
	switch {
	case like && perr == nil:
		return s.checkinRef(w, r, c, st, journey.PersonRef{Code: canon}, back)
	case like && digits && errors.Is(perr, cardcode.ErrCheck):
		return back(scan{Err: "err.check"})
	case like && errors.Is(perr, cardcode.ErrCheck):
		// Ten letters and no digit: a code with a typo, or a one-word name
		// ("Villanueva"). Say the first at once and search the second.
		return s.checkinSearch(w, r, c, st, q, "err.check")
	case digits || strings.ContainsAny(q, "0123456789"):
		return back(scan{Err: "err.code_format"})
	}
	return s.checkinSearch(w, r, c, st, q, "")
}

func (s *Server) checkinRef(w http.ResponseWriter, r *http.Request, c *reqCtx, st journey.Stage, ref journey.PersonRef, back func(scan) error) error {
	if err := s.spendCheckins(c, 1); err != nil {
		return back(scan{Err: "error.rate_limited"})
	}
	res, err := s.n.Journey.CheckIn(r.Context(), c.p, st.ID, journey.CheckinInput{PersonRef: ref})
	var ve registry.ValidationError
	switch {
	case errors.Is(err, journey.ErrNotFound) && res.Error != nil:
		if ref.Code != "" {
			return back(scan{Err: "err.code.not_found"})
		}
		return back(scan{Err: "err.not_found"})
	case errors.As(err, &ve) && len(ve) > 0:
		key := "err." + ve[0].Code
		if !c.cat.Has(key) {
			key = "err.invalid"
		}
		return back(scan{Err: key})
	case err != nil:
		return err
	}
	return back(scan{Result: &res})
}

// checkinSearch answers a name typed in the code box with the people it
// finds, each with a button that checks them in by id. A search is a read:
// it is rendered, not redirected, and reloading it only searches again.
func (s *Server) checkinSearch(w http.ResponseWriter, r *http.Request, c *reqCtx, st journey.Stage, q, errKey string) error {
	v, err := s.checkinData(r, c, st)
	if err != nil {
		return err
	}
	v.Last, v.Searched = nil, true
	if errKey != "" {
		v.Last = &scanView{Outcome: "error", Msg: c.T(errKey)}
	}
	people, err := s.n.Registry.Find(r.Context(), c.p, q, 20)
	var ve registry.ValidationError
	status := http.StatusOK
	if errors.As(err, &ve) {
		for i := range ve {
			ve[i].Field = "code"
		}
		status = http.StatusBadRequest
	} else if err != nil {
		return err
	}
	v.Results = people
	if errKey != "" && len(people) == 0 {
		v.Searched = false // the refusal says it all
	}
	view := s.newView(r, c, "checkin.title", "checkin", v)
	view.Errors = fieldErrors(c, ve)
	if len(people) == 0 && len(ve) == 0 && errKey == "" {
		view.Errors = map[string]string{"code": c.T("people.none")}
	}
	return s.render(w, r, status, "journey_checkin", view)
}
