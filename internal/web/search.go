package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"caravana/internal/cardcode"
	"caravana/internal/registry"
)

// codeSymbols are the runes cardcode.Parse accepts, either case, with the
// look-alikes it maps (O→0, I/L→1, U→V, Z→2).
const codeSymbols = cardcode.Alphabet + "abcdefghjkmnpqrstvwxy" + "OILUZoiluz"

// isSeparator matches exactly the runes cardcode.Parse skips.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '-' || r == '.' || (r >= '\u2010' && r <= '\u2015') || r == '\u2212'
}

// codeLike reports whether q reads as a card code: ten symbols of the code
// alphabet once separators are stripped. digits says whether any symbol is
// a digit or the input has a hyphen or dot as printed on cards; a ten-letter
// word with neither ("Villanueva") may be a name.
func codeLike(q string) (ok, digits bool) {
	n := 0
	for _, r := range q {
		switch {
		case isSeparator(r):
			digits = digits || r == '-' || r == '.'
			continue
		case r < 128 && strings.ContainsRune(codeSymbols, r):
			n++
			digits = digits || unicode.IsDigit(r)
		default:
			return false, false
		}
	}
	return n == cardcode.Len, digits
}

// errCheckChar is the immediate answer to a code with a wrong check
// character: a typo caught before any look-up.
func errCheckChar(field string) *httpError {
	return invalid(registry.FieldError{Field: field, Code: "check",
		Message: "invalid card code: check the control character"})
}

// parseCode parses a code a user typed, naming field in the error.
func parseCode(field, code string) (string, error) {
	canon, err := cardcode.Parse(code)
	switch {
	case errors.Is(err, cardcode.ErrCheck):
		return "", errCheckChar(field)
	case err != nil:
		return "", invalid(registry.FieldError{Field: field, Code: "code_format",
			Message: "a card code has 10 letters and digits, e.g. 7KQ2M-XW4PJ"})
	}
	return canon, nil
}

// byCode looks up a canonical code, within the per-user look-up budget.
func (s *Server) byCode(ctx context.Context, c *reqCtx, canon string) (registry.Person, error) {
	if ok, wait := s.codes.allow(c.p.UserID); !ok {
		return registry.Person{}, &httpError{status: http.StatusTooManyRequests, code: "rate_limited",
			msg: "too many card-code look-ups; wait a moment", retryAfter: wait}
	}
	return s.n.Registry.ByCode(ctx, c.p, canon)
}

// personByCode resolves a typed code to a person id (for household forms).
func (s *Server) personByCode(ctx context.Context, c *reqCtx, field, code string) (string, error) {
	canon, err := parseCode(field, code)
	if err != nil {
		return "", err
	}
	p, err := s.byCode(ctx, c, canon)
	if errors.Is(err, registry.ErrNotFound) {
		return "", invalid(registry.FieldError{Field: field, Code: "not_found", Message: "no person holds this card code"})
	}
	return p.ID, err
}

type searchResult struct {
	People []registry.Person
	ByCode bool // the query was a card code (and found, if People is not empty)
}

// search runs a query typed in one box: a card code or a name. A code with
// a wrong check character is refused at once; a ten-letter word without
// digits that fails as a code is searched as a name instead.
func (s *Server) search(ctx context.Context, c *reqCtx, field, q string) (searchResult, error) {
	if ok, digits := codeLike(q); ok {
		canon, err := cardcode.Parse(q)
		switch {
		case err == nil:
			p, err := s.byCode(ctx, c, canon)
			if err == nil {
				return searchResult{People: []registry.Person{p}, ByCode: true}, nil
			}
			if !errors.Is(err, registry.ErrNotFound) {
				return searchResult{}, err
			}
			if digits {
				return searchResult{ByCode: true}, nil
			}
		case digits:
			return searchResult{}, errCheckChar(field)
		}
	}
	people, err := s.n.Registry.Find(ctx, c.p, q, 50)
	var ve registry.ValidationError
	if errors.As(err, &ve) {
		for i := range ve {
			ve[i].Field = field
		}
		return searchResult{}, ve
	}
	return searchResult{People: people}, err
}
