package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"caravana/internal/cardcode"
)

// PersonRef names a person by card code (as typed or scanned) or by id:
// how a check-in, a distribution or a status change says whom it is for.
type PersonRef struct {
	Code   string `json:"code,omitempty"`
	Person string `json:"person,omitempty"`
}

// maxRefID bounds a person id given in a reference.
const maxRefID = 64

// ParseRef checks a person reference before any look-up: a typo in a card
// code is caught by its check character here (cardcode), and the code is
// returned in its canonical form. field names the input in errors.
func ParseRef(field string, ref PersonRef) (PersonRef, *FieldError) {
	ref.Code, ref.Person = strings.TrimSpace(ref.Code), strings.TrimSpace(ref.Person)
	switch {
	case ref.Code != "" && ref.Person != "":
		return ref, &FieldError{Field: field, Code: "invalid", Message: "give a card code or a person id, not both"}
	case ref.Person != "":
		if len(ref.Person) > maxRefID {
			return ref, &FieldError{Field: field + ".person", Code: "invalid", Message: "is not a person id"}
		}
		return ref, nil
	case ref.Code == "":
		return ref, &FieldError{Field: field, Code: "required", Message: "a card code or a person id is required"}
	}
	canon, err := cardcode.Parse(ref.Code)
	switch {
	case errors.Is(err, cardcode.ErrCheck):
		return ref, &FieldError{Field: field + ".code", Code: "check",
			Message: "invalid card code: the check character does not match (a typo?)"}
	case err != nil:
		return ref, &FieldError{Field: field + ".code", Code: "code_format",
			Message: "a card code has 10 letters and digits, e.g. 7KQ2M-XW4PJ"}
	}
	ref.Code = canon
	return ref, nil
}

// Resolve turns a parsed reference into a person id inside the reader's
// snapshot; a code nobody holds, or an unknown id, wraps ErrNotFound.
func (r *Reader) Resolve(ctx context.Context, ref PersonRef) (string, error) {
	if ref.Code != "" {
		return r.ResolveCode(ctx, ref.Code)
	}
	ok, err := r.Exists(ctx, ref.Person)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("person: %w", ErrNotFound)
	}
	return ref.Person, nil
}
