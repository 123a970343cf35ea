package registry

import "time"

// SetNow fixes the service's clock (ages, "birth date in the future") for
// tests in package registry_test.
func SetNow(s *Service, now func() time.Time) { s.now = now }
