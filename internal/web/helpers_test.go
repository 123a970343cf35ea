package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"caravana/internal/auth"
	"caravana/internal/crypto"
	"caravana/internal/node"
	"caravana/internal/registry"
)

// cheap KDF settings, set explicitly by tests only.
var testKDF = crypto.KDFParams{MemoryKiB: 1024, Time: 1, Threads: 1}

const testPassword = "long enough pw"

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a real node in a temp folder served over loopback.
type env struct {
	t    testing.TB
	n    *node.Node
	s    *Server
	srv  *httptest.Server
	logs *syncBuffer
	// users by role: the coordinator made at init plus one of each other role.
	users map[auth.Role]string
}

var roles = []auth.Role{auth.Coordinator, auth.Volunteer, auth.Legal, auth.Medic}

func newEnv(t testing.TB) *env {
	t.Helper()
	logs := &syncBuffer{}
	e := newEnvLog(t, logs)
	e.logs = logs
	return e
}

// newEnvLog is newEnv with the logs going to w (benchmarks discard them).
func newEnvLog(t testing.TB, w io.Writer) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := node.Config{Dir: t.TempDir(), Passphrase: "correct horse battery", KDF: testKDF, PasswordKDF: testKDF, Log: log}
	ctx := context.Background()
	n, err := node.Init(ctx, cfg, node.InitOptions{Name: "test", AdminUser: "coord", AdminPassword: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	e := &env{t: t, n: n, users: map[auth.Role]string{auth.Coordinator: "coord"}}
	op := auth.Operator("test")
	for _, r := range roles[1:] {
		name := "u-" + string(r)
		if _, err := n.Auth.AddUser(ctx, op, name, r, testPassword); err != nil {
			t.Fatal(err)
		}
		e.users[r] = name
	}
	if e.s, err = New(n, Options{Log: log}); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.s.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// client is one browser or API client: it keeps its own cookies and never
// follows redirects, so tests see every Location header.
type client struct {
	t       testing.TB
	e       *env
	hc      *http.Client
	cookies map[string]string
	csrf    string
	// seen records every URL requested and every response, for leak scans.
	mu   sync.Mutex
	seen []*resp
}

type resp struct {
	method, url string
	status      int
	header      http.Header
	body        string
	wire        int // bytes on the wire (compressed if it was)
}

func (r *resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("%s %s: body is not JSON (%v): %.300s", r.method, r.url, err, r.body)
	}
}

func (e *env) anon() *client {
	return &client{t: e.t, e: e, cookies: map[string]string{}, hc: &http.Client{
		Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login logs a client in through the API as the user of role.
func (e *env) login(role auth.Role) *client {
	e.t.Helper()
	c := e.anon()
	r := c.do("POST", "/api/v1/session", map[string]string{"username": e.users[role], "password": testPassword}, nil)
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", role, r.status, r.body)
	}
	var s struct {
		CSRF string `json:"csrf_token"`
	}
	r.json(e.t, &s)
	c.csrf = s.CSRF
	return c
}

// do sends body (a string sent as is, url.Values as a form, anything else
// as JSON) with the session's CSRF header on mutations unless hdr sets it.
func (c *client) do(method, path string, body any, hdr map[string]string) *resp {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case upload:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, vs := range b.fields {
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		fw, err := mw.CreateFormFile("file", b.name)
		if err != nil {
			c.t.Fatal(err)
		}
		fw.Write(b.data)
		mw.Close()
		rd, ct = &buf, mw.FormDataContentType()
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.csrf != "" && method != "GET" && strings.HasPrefix(path, "/api/") {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	out := &resp{method: method, url: path, status: res.StatusCode, header: res.Header, body: string(raw), wire: len(raw)}
	if res.Header.Get("Content-Encoding") == "gzip" {
		out.body = gunzip(c.t, raw)
	}
	c.mu.Lock()
	c.seen = append(c.seen, out)
	c.mu.Unlock()
	return out
}

// upload is a multipart form with one file (field "file"), as a browser
// sends a file input.
type upload struct {
	fields url.Values
	name   string
	data   []byte
}

// upload POSTs a file with the session's CSRF token in the form.
func (c *client) upload(path string, u upload) *resp {
	c.t.Helper()
	u.fields = cloneValues(u.fields)
	if _, ok := u.fields["csrf"]; !ok {
		u.fields.Set("csrf", c.csrf)
	}
	return c.do("POST", path, u, nil)
}

// page GETs a page.
func (c *client) page(path string) *resp { c.t.Helper(); return c.do("GET", path, nil, nil) }

// form POSTs a form with the session's CSRF token added (unless set).
func (c *client) form(path string, v url.Values) *resp {
	c.t.Helper()
	if _, ok := v["csrf"]; !ok {
		v = cloneValues(v)
		v.Set("csrf", c.csrf)
	}
	return c.do("POST", path, v, nil)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// loginForm logs in through the HTML form (double-submit token).
func (c *client) loginForm(username, password string) *resp {
	c.t.Helper()
	r := c.page("/login")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("login form has no csrf field: %s", r.body)
	}
	return c.do("POST", "/login", url.Values{"csrf": {m[1]}, "username": {username}, "password": {password}}, nil)
}

// person is a registration with a value in every field, so leak checks can
// look for each one.
func samplePerson(given, surname string) registry.PersonInput {
	return registry.PersonInput{GivenNames: given, Surname1: surname, Surname2: "Quintanilla", Sex: "F",
		BirthDate: "1987-03-14", Nationality: "HN", OriginTown: "Choluteca", Phone: "+504 9876-5432",
		Notes: "nota privada", Flags: []string{auth.FlagMedical, auth.FlagPregnant, auth.FlagElderly},
		Consent: registry.Consent{Registration: true, Tracing: true}}
}

func (e *env) register(in registry.PersonInput) registry.Person {
	e.t.Helper()
	p, err := e.n.Registry.Register(context.Background(), auth.Operator("test"), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) countPeople() int {
	e.t.Helper()
	_, total, err := e.n.Registry.List(context.Background(), auth.Operator("test"), 0, 1)
	if err != nil {
		e.t.Fatal(err)
	}
	return total
}

func (r *resp) String() string {
	return fmt.Sprintf("%s %s -> %d", r.method, r.url, r.status)
}

func gunzip(t testing.TB, raw []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return string(out)
}
