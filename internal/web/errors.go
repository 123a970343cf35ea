package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"caravana/internal/auth"
	"caravana/internal/journey"
	"caravana/internal/registry"
	"caravana/internal/tracing"
)

// httpError is an error with what the client is told: a status, a stable
// code and a message that never holds internal error text or PII.
type httpError struct {
	status     int
	code       string
	msg        string
	fields     []registry.FieldError
	retryAfter time.Duration
	// raw marks fields already made safe to repeat (a route file's
	// problems, see routeInvalid): writeError sends them unscrubbed.
	raw   bool
	cause error // logged for 500s, never shown
}

func (e *httpError) Error() string { return e.code + ": " + e.msg }
func (e *httpError) Unwrap() error { return e.cause }

var (
	errInternal      = &httpError{status: http.StatusInternalServerError, code: "internal", msg: "internal error; it has been logged"}
	errUnauthed      = &httpError{status: http.StatusUnauthorized, code: "unauthenticated", msg: "log in first"}
	errCSRF          = &httpError{status: http.StatusForbidden, code: "csrf", msg: "missing or wrong CSRF token"}
	errForbidden     = &httpError{status: http.StatusForbidden, code: "forbidden", msg: "not allowed for your role"}
	errNotFound      = &httpError{status: http.StatusNotFound, code: "not_found", msg: "not found"}
	errTooLarge      = &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("request body larger than %d bytes", maxBody)}
	errBadCreds      = &httpError{status: http.StatusUnauthorized, code: "bad_credentials", msg: "wrong username or password"}
	errUnsupportedCT = &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "send Content-Type: application/json"}
	errBusy          = &httpError{status: http.StatusServiceUnavailable, code: "busy", msg: "too many logins at once; try again in a moment", retryAfter: time.Second}
	// errNoPage and errWrongMethod are the pages for unknown URLs and
	// wrong methods (the API answers not_found and method_not_allowed).
	errNoPage      = &httpError{status: http.StatusNotFound, code: "no_page", msg: "no such page"}
	errWrongMethod = &httpError{status: http.StatusMethodNotAllowed, code: "wrong_method", msg: "method not allowed on this page"}
)

func invalid(fields ...registry.FieldError) *httpError {
	return &httpError{status: http.StatusBadRequest, code: "invalid", msg: "invalid input", fields: fields}
}

// classify maps a domain error to what the client sees.
func classify(err error) *httpError {
	var he *httpError
	var ve registry.ValidationError
	var mbe *http.MaxBytesError
	var re *journey.RouteError
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &re):
		return routeInvalid(re)
	case errors.As(err, &ve):
		return invalid(ve...)
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, auth.ErrForbidden):
		return errForbidden
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, auth.ErrUserNotFound):
		return errNotFound
	case errors.Is(err, auth.ErrSessionExpired):
		return errUnauthed
	case errors.Is(err, auth.ErrBadCredentials):
		return errBadCreds
	case errors.Is(err, auth.ErrLockedOut):
		return &httpError{status: http.StatusTooManyRequests, code: "rate_limited", msg: "too many failed attempts; try again later"}
	case errors.Is(err, auth.ErrBusy):
		return errBusy
	case errors.Is(err, auth.ErrUserExists):
		return &httpError{status: http.StatusConflict, code: "exists", msg: "username already taken"}
	case errors.Is(err, tracing.ErrClosed):
		return &httpError{status: http.StatusConflict, code: "closed", msg: "the report is already closed"}
	}
	return &httpError{status: errInternal.status, code: errInternal.code, msg: errInternal.msg, cause: err}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"internal error","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

type errorBody struct {
	Error  string                `json:"error"`
	Code   string                `json:"code"`
	Fields []registry.FieldError `json:"fields,omitempty"`
}

func writeError(w http.ResponseWriter, e *httpError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(e.retryAfter))
	}
	fields := e.fields
	if !e.raw {
		fields = scrub(fields)
	}
	writeJSON(w, e.status, errorBody{Error: e.msg, Code: e.code, Fields: fields})
}

// scrub replaces field messages that quote the input (the registry's
// "unknown flag \"…\"" does) with the generic message for their code: an
// error must not repeat what a client sent, which may be a name (S4).
func scrub(fes []registry.FieldError) []registry.FieldError {
	out := make([]registry.FieldError, len(fes))
	for i, fe := range fes {
		if !safeField(indexRE.ReplaceAllString(fe.Field, "")) {
			fe.Field = "fields" // a map key the client chose: not repeated
		}
		if strings.ContainsAny(fe.Message, `"'`) {
			fe.Message = genericMessage[fe.Code]
			if fe.Message == "" {
				fe.Message = "is not valid"
			}
		}
		out[i] = fe
	}
	return out
}

var genericMessage = map[string]string{"required": "is required", "invalid": "is not valid", "too_long": "is too long",
	"unknown": "is not a known field", "duplicate": "is listed twice", "not_found": "was not found"}

// logged classifies err and logs it when it is the server's fault. Error
// texts from the domain name ids and fields, never values (S4).
func (s *Server) logged(r *http.Request, err error) *httpError {
	he := classify(err)
	if he.status >= 500 {
		s.log.Error("request failed", "route", r.Pattern, "err", err)
	}
	return he
}

// knownFields are the JSON names of every API input. Only these are echoed
// back in an error: a client that pasted a name as a key, or a map key
// inside "fields", must not see it repeated (S4).
var knownFields = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range []any{registry.PersonInput{}, registry.Patch{}, loginRequest{}, searchRequest{},
		apiHouseholdInput{}, apiMember{}, newUserRequest{}, checkinsRequest{}, routeRequest{}, foundRequest{},
		leftRequest{}, rejoinRequest{}, journey.IncidentInput{}, journey.HazardInput{}, tracing.ReportInput{},
		confirmRequest{}, rejectRequest{}, withdrawRequest{}, distinctRequest{}, mergeRequest{}} {
		collectFields(reflect.TypeOf(v), m)
	}
	// Query parameters and form-only fields that errors may name.
	for _, k := range []string{"offset", "limit", "before", "actor", "record", "fields", "stage", "from", "to",
		"names", "since", "until", "live", "kind", "place", "people", "file", "code", "person", "page",
		"status", "top", "min", "keep"} {
		m[k] = true
	}
	return m
}()

var indexRE = regexp.MustCompile(`\[\d+\]`)

func collectFields(t reflect.Type, m map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
		collectFields(f.Type, m)
	}
}

// safeField reports whether a dotted JSON path names only known fields.
func safeField(path string) bool {
	if path == "" {
		return false
	}
	for _, part := range strings.Split(path, ".") {
		if !knownFields[part] {
			return false
		}
	}
	return true
}

// decodeJSON reads exactly one JSON value into v, refusing unknown fields,
// and says where a malformed body went wrong (byte offset), without quoting
// the body back.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errUnsupportedCT
		}
	} else {
		// A cross-site HTML form cannot send JSON; insisting on the type
		// closes login CSRF on POST /api/v1/session.
		return errUnsupportedCT
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return badJSON("could not read the body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, data, dec.InputOffset())
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return badJSON(fmt.Sprintf("the body must hold one JSON value; more follows at byte offset %d", dec.InputOffset()))
	}
	return nil
}

// keyOffset finds where the object key name first appears in data.
func keyOffset(data []byte, name string) int {
	q, _ := json.Marshal(name)
	for i := 0; ; {
		j := bytes.Index(data[i:], q)
		if j < 0 {
			return -1
		}
		at := i + j
		rest := bytes.TrimLeft(data[at+len(q):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return at
		}
		i = at + 1
	}
}

func badJSON(msg string) *httpError {
	return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: msg}
}

func jsonError(err error, data []byte, offset int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.As(err, &syn):
		// Offset counts the bytes read, the bad one included; report the
		// bad byte's own (0-based) offset.
		return badJSON(fmt.Sprintf("malformed JSON at byte offset %d", max(syn.Offset-1, 0)))
	case errors.As(err, &typ):
		field := typ.Field
		if !safeField(field) {
			field = "a field"
		}
		return badJSON(fmt.Sprintf("%s must not be a JSON %s (byte offset %d)", field, typ.Value, typ.Offset))
	case errors.Is(err, io.EOF):
		return badJSON("empty body: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badJSON(fmt.Sprintf("malformed JSON: the body ends early, at byte offset %d", offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		at := keyOffset(data, name)
		if !safeField(name) {
			return badJSON(fmt.Sprintf("unknown field at byte offset %d", at))
		}
		return badJSON(fmt.Sprintf("unknown field %q at byte offset %d", name, at))
	}
	return badJSON(fmt.Sprintf("malformed JSON near byte offset %d", offset))
}
