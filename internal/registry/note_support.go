package registry

import "fmt"

// noteField is the field name free-text notes are sealed under.
const noteField = "note"

// SealNote seals free text that staff write about a record that is not a
// person, such as a coordinator's note on a supply review: it may name
// someone, so it is sealed like a person's fields, bound to entity (e.g.
// "distribution/<key>"). An empty note stays empty.
func (s *Service) SealNote(entity, text string) string {
	if text == "" {
		return ""
	}
	return s.seal.Seal(entity, noteField, text)
}

// OpenNote decrypts what SealNote sealed for entity. Every decryption of
// personal data happens in this package (SECURITY.md S7); the caller
// checks the reader's permission and audits the read.
func (s *Service) OpenNote(entity, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	pt, err := s.seal.OpenField(entity, noteField, sealed)
	if err != nil {
		return "", fmt.Errorf("%s note: %w", entity, err)
	}
	return pt, nil
}
