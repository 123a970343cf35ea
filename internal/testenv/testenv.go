// Package testenv gives tests the outside parts they need — a PostgreSQL server and a
// headless Chromium — and decides what a test does when a part is missing: on a developer's
// machine it skips with a message saying how to provide it; in CI (CI=true) it fails, because
// CI must never pass by skipping.
//
// Naming convention that .ci/run relies on: a test that needs PostgreSQL has "Postgres" in its
// name, a test that drives Chromium has "Browser" in its name.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// Environment variables that point tests at the outside parts.
const (
	// EnvPostgres holds the URL of a PostgreSQL server whose user may create and drop
	// databases, e.g. the URL printed by scripts/pg-start.
	EnvPostgres = "CARAVANA_TEST_POSTGRES"
	// EnvChromium holds the path of a Chromium or Chrome binary.
	EnvChromium = "CARAVANA_TEST_CHROMIUM"
)

// CI reports whether the tests run in CI (CI=true), where a missing part is a failure.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// unavailable ends t because a part it needs is missing: Fatal in CI, Skip elsewhere.
// reason completes "skipping: ..." and is what .ci/run looks for.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true but %s: CI must run every test, not skip it", reason)
	}
	t.Skip("skipping: " + reason)
}
