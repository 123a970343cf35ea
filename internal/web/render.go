package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"caravana/internal/auth"
	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

// pageNames are the page templates; each is parsed with layout.html into a
// set of its own, so every page can define its own "content".
var pageNames = []string{"login", "dashboard", "people", "person_form", "person", "card",
	"households", "household_form", "household", "audit", "users", "error",
	"journey_route", "journey_headcounts", "journey_checkin_choose", "journey_checkin", "journey_missing", "journey_timeline",
	"tracing", "tracing_form", "tracing_report", "duplicates", "sync", "conflicts"}

var funcs = template.FuncMap{
	"fmtcode": cardcode.Format,
	"inc":     func(i int) int { return i + 1 },
	"km":      km,
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

type pageTemplate struct{ t *template.Template }

// parsePages parses every page from fsys (the embedded assets; tests pass
// others to prove a broken template fails here).
func parsePages(fsys fs.FS) (map[string]*pageTemplate, error) {
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: template %s defines no content", name)
		}
		out[name] = &pageTemplate{t: t}
	}
	return out, nil
}

// view is what every template gets.
type view struct {
	c        *reqCtx
	Lang     string
	User     auth.Principal
	LoggedIn bool
	CSRF     string
	CSS      string
	LangPath string
	Title    string
	Active   string
	Flash    string
	Errors   map[string]string // field -> translated message
	Data     any
}

// T translates a key in the request's language (see reqCtx.T for counts).
func (v *view) T(key string, args ...any) string { return v.c.T(key, args...) }

// Can tells a template whether to offer an action; the server checks again.
func (v *view) Can(action string) bool {
	return v.LoggedIn && auth.Can(v.User.Role, auth.Action(action))
}

// Err is a field's error message, or "".
func (v *view) Err(field string) string { return v.Errors[field] }

// OtherLang is the language the switch link offers.
func (v *view) OtherLang() string {
	if v.Lang == "en" {
		return "es"
	}
	return "en"
}

// LangHref is the language switch's link: LangPath with lang set to the
// other language.
func (v *view) LangHref() string {
	u, err := url.Parse(v.LangPath)
	if err != nil || u.Scheme != "" || u.Host != "" || !localPath(u.Path) {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	q.Set("lang", v.OtherLang())
	out := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: q.Encode()}
	return out.String()
}

// localPath reports whether p is a path on this server: a path that
// starts with two slashes (or a slash and a backslash) would send a
// browser to another host.
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\")
}

// switchParams are the query parameters the language switch keeps: those
// the pages read, none of which holds a name. Anything else a client put in
// the URL (a name, by mistake) is not repeated in a link or a redirect (S4).
var switchParams = []string{"actor", "before", "choose", "from", "item", "kind", "limit", "live", "page",
	"record", "stage", "status", "to"}

// withoutLang is u's path and the query parameters the pages read,
// escaped, without lang: where the language switch comes back to.
func withoutLang(u *url.URL) string {
	if !localPath(u.Path) {
		return "/"
	}
	in, q := u.Query(), url.Values{}
	for _, k := range switchParams {
		if vs, ok := in[k]; ok {
			q[k] = vs
		}
	}
	out := url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: q.Encode()}
	return out.String()
}

// langPath is where the language switch sends the browser back to: the
// page itself, with its query, for a GET, and the form's page after a POST.
func langPath(r *http.Request) string {
	if r.Method == http.MethodGet {
		return withoutLang(r.URL)
	}
	switch p := r.URL.Path; {
	case p == "/people/search":
		return "/people"
	case p == "/people":
		return "/people/new"
	case p == "/households":
		return "/households/new"
	case p == "/login", p == "/users", p == "/route", strings.HasSuffix(p, "/edit"), strings.HasPrefix(p, "/checkin/"):
		return p
	case p == "/incidents", p == "/hazards":
		return "/timeline"
	case strings.HasPrefix(p, "/missing/"):
		return "/missing"
	case p == "/tracing":
		return "/tracing/new"
	case strings.HasPrefix(p, "/tracing/"):
		// /tracing/{id}/confirm and the other buttons: back to the report.
		if i := strings.LastIndexByte(p, '/'); i > len("/tracing/") {
			return p[:i]
		}
	case strings.HasPrefix(p, "/duplicates/"):
		return "/duplicates"
	}
	return "/"
}

func (s *Server) newView(r *http.Request, c *reqCtx, title, active string, data any) *view {
	return &view{c: c, Lang: c.lang, User: c.p, LoggedIn: c.p.Role != "", CSRF: c.sess.CSRF, CSS: s.cssPath,
		LangPath: langPath(r), Title: title, Active: active, Data: data}
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) error {
	pt, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// pageError shows an error page in the user's language.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	he := s.logged(r, err)
	if c == nil {
		c = &reqCtx{}
		c.lang, c.cat = s.lang(r)
	}
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(he.retryAfter))
	}
	v := s.newView(r, c, "error.title", "", nil)
	v.Flash = c.T("error." + he.code)
	if he == errNoPage || he == errWrongMethod {
		// No page here to come back to, and the path may be anything a
		// client typed (S4): the switch goes to the start.
		v.LangPath = "/"
	}
	if err := s.render(w, r, he.status, "error", v); err != nil {
		s.log.Error("render error page", "err", err)
		http.Error(w, http.StatusText(he.status), he.status)
	}
}

// fieldErrors translates validation errors for display beside each field.
func fieldErrors(c *reqCtx, fes []registry.FieldError) map[string]string {
	out := map[string]string{}
	for _, fe := range fes {
		msg := c.T("err." + fe.Code)
		// A field-specific message wins: first for the whole field name,
		// then for its last part ("members[2].code" -> "code").
		last := fe.Field[strings.LastIndex(fe.Field, ".")+1:]
		for _, k := range []string{"err." + fe.Field + "." + fe.Code, "err." + last + "." + fe.Code} {
			if c.cat.Has(k) {
				msg = c.T(k)
				break
			}
		}
		if prev, ok := out[fe.Field]; ok {
			msg = prev + "; " + msg
		}
		out[fe.Field] = msg
	}
	return out
}

// pageNum reads ?page=N (1-based); anything unreadable is page 1.
func pageNum(r *http.Request) int {
	var n int
	if _, err := fmt.Sscanf(r.URL.Query().Get("page"), "%d", &n); err != nil || n < 1 {
		return 1
	}
	return n
}

// pager is the data for the previous/next links of a paginated list.
type pager struct {
	Page, Pages, Total int
}

func (p pager) Prev() int { return p.Page - 1 }
func (p pager) Next() int {
	if p.Page >= p.Pages {
		return 0
	}
	return p.Page + 1
}

func newPager(page, per, total int) pager {
	pages := max(1, (total+per-1)/per)
	return pager{Page: page, Pages: pages, Total: total}
}

func redirect(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}
