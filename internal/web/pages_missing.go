package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
)

// missingPerPage bounds the page for a 2G phone: the list at a river
// crossing can run to hundreds of households.
const missingPerPage = 30

type missingMember struct {
	ID, Name, Role, AgeBand string
	Flags                   []string
	Child, Missing          bool
	SeenPrevious, SeenHere  bool
	Left                    string
}

type missingHousehold struct {
	ID, Label, Kind, Priority string
	Missing                   int
	Members                   []missingMember
}

type missingView struct {
	List         journey.MissingList
	Checkpoints  []journey.Stage
	Stage        string // as chosen; "" is the latest checkpoint
	Households   []missingHousehold
	Page, Pages  int
	Prev, Next   string
	Reasons      []string
	NoCheckpoint bool
	// Counting links the previous checkpoint's list while counting here
	// has barely started (fewer than half seen): until then everyone not
	// yet through shows as missing.
	Counting string
}

// missingURL is the list's own address: stage ids and a page number only.
func missingURL(stage string, page int) string {
	q := url.Values{}
	if stage != "" {
		q.Set("stage", stage)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return "/missing"
	}
	return "/missing?" + q.Encode()
}

func (s *Server) missingPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderMissing(w, r, c, r.URL.Query().Get("stage"), pageNum(r), http.StatusOK, "")
}

// renderMissing shows the missing list at stage ("" = the latest
// checkpoint): households with someone seen at the previous checkpoint and
// not at this one, most urgent first (the service's priority order), with
// names, each missing member with "found here" and "left" buttons.
func (s *Server) renderMissing(w http.ResponseWriter, r *http.Request, c *reqCtx, stage string, page, status int, flash string) error {
	if err := auth.Check(c.p, auth.MissingRead); err != nil {
		return err
	}
	md, err := s.n.Journey.MapData(r.Context(), c.p)
	if err != nil {
		return err
	}
	stage = stageParam(md.Route, stage)
	v := missingView{Stage: stage, Reasons: journey.LeftReasons, Page: page}
	for _, st := range md.Route.Stages {
		if md.Seen[st.ID] > 0 {
			v.Checkpoints = append(v.Checkpoints, st)
		}
	}
	list, err := s.n.Journey.Missing(r.Context(), c.p, journey.MissingQuery{Stage: stage, Names: true})
	var ve registry.ValidationError
	if errors.As(err, &ve) && len(ve) > 0 && ve[0].Code == "no_checkpoint" {
		v.NoCheckpoint = true
		err = nil
	}
	if err != nil {
		return err
	}
	v.List = list
	if p := list.Previous; p != nil && list.SeenHere*2 < list.SeenPrevious {
		v.Counting = missingURL(p.ID, 1)
	}
	hs := list.Households
	v.Pages = max(1, (len(hs)+missingPerPage-1)/missingPerPage)
	v.Page = min(max(page, 1), v.Pages)
	from := (v.Page - 1) * missingPerPage
	hs = hs[min(from, len(hs)):min(from+missingPerPage, len(hs))]
	if v.Page > 1 {
		v.Prev = missingURL(stage, v.Page-1)
	}
	if v.Page < v.Pages {
		v.Next = missingURL(stage, v.Page+1)
	}
	for _, h := range hs {
		mh := missingHousehold{ID: h.ID, Label: h.Label, Kind: h.Kind, Priority: h.Priority, Missing: h.Missing}
		for _, m := range h.Members {
			mm := missingMember{ID: m.Person, Name: m.Name, Role: m.Role, AgeBand: label(c, "age.", m.AgeBand), Child: m.Child,
				Missing: m.Missing, SeenPrevious: m.SeenPrevious, SeenHere: m.SeenHere, Left: m.Left}
			for _, f := range m.Flags {
				mm.Flags = append(mm.Flags, c.T("flag."+f))
			}
			mh.Members = append(mh.Members, mm)
		}
		v.Households = append(v.Households, mh)
	}
	view := s.newView(r, c, "missing.title", "missing", v)
	view.Flash = flash
	return s.render(w, r, status, "journey_missing", view)
}

// mark runs one of the missing list's buttons and goes back to the list
// where it was. Bad input (no reason chosen) shows the list again with a
// message; the buttons name people by id, never by name or code.
func (s *Server) mark(w http.ResponseWriter, r *http.Request, c *reqCtx, do func(journey.PersonRef, string) error) error {
	if err := auth.Check(c.p, auth.MissingMark); err != nil {
		return err
	}
	f := r.PostForm
	page, _ := strconv.Atoi(f.Get("page"))
	stage := strings.TrimSpace(f.Get("stage"))
	if err := s.spendCheckins(c, 1); err != nil {
		return err
	}
	err := do(journey.PersonRef{Person: strings.TrimSpace(f.Get("person"))}, stage)
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		msg := c.T("form.has_errors")
		for _, fe := range ve {
			if fe.Field == "reason" {
				msg = c.T("missing.choose_reason")
			}
		}
		return s.renderMissing(w, r, c, stage, page, http.StatusBadRequest, msg)
	}
	if err != nil {
		return err
	}
	route, err := s.n.Journey.Route(r.Context(), c.p)
	if err != nil {
		return err
	}
	return redirect(w, r, missingURL(stageParam(route, stage), page))
}

func (s *Server) missingFound(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.mark(w, r, c, func(ref journey.PersonRef, stage string) error {
		_, err := s.n.Journey.MarkFound(r.Context(), c.p, ref, stage)
		return err
	})
}

// missingLeft records why someone left. The stage is not where they left
// (somewhere after the previous checkpoint): it is left empty.
func (s *Server) missingLeft(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.mark(w, r, c, func(ref journey.PersonRef, _ string) error {
		_, err := s.n.Journey.MarkLeft(r.Context(), c.p, ref, r.PostForm.Get("reason"), "", time.Time{})
		return err
	})
}

func (s *Server) missingRejoined(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.mark(w, r, c, func(ref journey.PersonRef, _ string) error {
		_, err := s.n.Journey.MarkRejoined(r.Context(), c.p, ref)
		return err
	})
}
