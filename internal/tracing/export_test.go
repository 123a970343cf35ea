package tracing

import "time"

// SetNow fixes the service's clock for tests in package tracing_test.
func SetNow(s *Service, now func() time.Time) { s.now = now }

// Fitted reports whether the match model has been fitted to the registry.
func Fitted(s *Service) bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.fittedAt > 0
}
