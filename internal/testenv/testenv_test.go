package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// outcome records how a helper ended a test, without ending the real one.
type outcome struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (o *outcome) Helper() {}

func (o *outcome) Skip(args ...any) {
	o.skipped, o.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (o *outcome) Fatalf(format string, args ...any) {
	o.failed, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs f against a recording TB in its own goroutine, since Skip and Fatal end it.
func call(t *testing.T, f func(testing.TB)) *outcome {
	o := &outcome{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(o)
	}()
	<-done
	return o
}

// Missing parts skip with the messages .ci/run looks for, except under CI=true, where they fail.
func TestMissingPartsSkipOrFailInCI(t *testing.T) {
	t.Setenv(EnvPostgres, "")
	t.Setenv(EnvChromium, "")
	t.Setenv("PATH", t.TempDir())
	chromiumDefault = "/nonexistent/chromium"
	t.Cleanup(func() { chromiumDefault = "/usr/bin/chromium" })

	helpers := []struct {
		name     string
		call     func(testing.TB)
		wantSkip string
	}{
		{"Postgres", func(tb testing.TB) { Postgres(tb) }, "skipping: PostgreSQL not configured (set CARAVANA_TEST_POSTGRES; scripts/pg-start starts one)"},
		{"PostgresDB", func(tb testing.TB) { PostgresDB(tb) }, "skipping: PostgreSQL not configured (set CARAVANA_TEST_POSTGRES; scripts/pg-start starts one)"},
		{"Chromium", func(tb testing.TB) { Chromium(tb) }, "skipping: Chromium not found (set CARAVANA_TEST_CHROMIUM)"},
	}
	for _, h := range helpers {
		t.Run(h.name, func(t *testing.T) {
			t.Setenv("CI", "")
			if CI() {
				t.Fatal("CI() = true with CI unset")
			}
			got := call(t, h.call)
			if !got.skipped || got.failed || got.msg != h.wantSkip {
				t.Errorf("outside CI: skipped=%v failed=%v msg=%q; want a skip with %q", got.skipped, got.failed, got.msg, h.wantSkip)
			}

			t.Setenv("CI", "true")
			if !CI() {
				t.Fatal("CI() = false with CI=true")
			}
			got = call(t, h.call)
			if !got.failed || got.skipped {
				t.Errorf("under CI=true: skipped=%v failed=%v msg=%q; want a failure", got.skipped, got.failed, got.msg)
			}
		})
	}
}

func TestPostgresRejectsBadURL(t *testing.T) {
	t.Setenv(EnvPostgres, "postgres://host:notaport/db")
	got := call(t, func(tb testing.TB) { Postgres(tb) })
	if !got.failed || !strings.Contains(got.msg, EnvPostgres) {
		t.Errorf("failed=%v msg=%q; want a failure naming %s", got.failed, got.msg, EnvPostgres)
	}
}

func TestChromiumRejectsMissingBinary(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	got := call(t, func(tb testing.TB) { Chromium(tb) })
	if !got.failed || got.skipped {
		t.Errorf("skipped=%v failed=%v msg=%q; want a failure: an explicit browser that is missing is an error", got.skipped, got.failed, got.msg)
	}
}

func TestDatabaseName(t *testing.T) {
	tests := []struct {
		test     string
		wantStem string
	}{
		{"TestStore", "t_teststore_"},
		{"TestStore/append_event#01", "t_teststore_append_event_01_"},
		{"TestÑandú/Ünïcode  name", "t_test_and_n_code_name_"},
		{"/", "t__"},
		{strings.Repeat("TestVeryLong/", 20), "t_testverylong_testverylong_testverylong_testverylon_"},
	}
	for _, tt := range tests {
		got := DatabaseName(tt.test)
		if len(got) > 63 {
			t.Errorf("DatabaseName(%q) = %q: %d bytes, PostgreSQL keeps 63", tt.test, got, len(got))
		}
		if !strings.HasPrefix(got, tt.wantStem) || len(got) != len(tt.wantStem)+10 {
			t.Errorf("DatabaseName(%q) = %q; want %q + 10 hex digits", tt.test, got, tt.wantStem)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("DatabaseName(%q) = %q: %q needs quoting", tt.test, got, r)
				break
			}
		}
	}
	if a, b := DatabaseName("TestX"), DatabaseName("TestX"); a == b {
		t.Errorf("DatabaseName gave %q twice; want a fresh name per call", a)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ conn, want string }{
		{"postgres://postgres@127.0.0.1:55432/caravana_test?sslmode=disable", "postgres://postgres@127.0.0.1:55432/t_x?sslmode=disable"},
		{"postgresql://u:p%40ss@h/", "postgresql://u:p%40ss@h/t_x"},
		{"postgres://u@h", "postgres://u@h/t_x"},
		{"host=/tmp port=5432 dbname=caravana_test", "host=/tmp port=5432 dbname=caravana_test dbname=t_x"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.conn, "t_x")
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.conn, got, err, tt.want)
		}
	}
}

func TestChromiumFlagMap(t *testing.T) {
	m := ChromiumFlagMap()
	if len(m) != len(ChromiumFlags) {
		t.Errorf("%d flags became %d map entries; want one each", len(ChromiumFlags), len(m))
	}
	for name, want := range map[string]any{
		"headless":            true,
		"no-sandbox":          true,
		"password-store":      "basic",
		"host-resolver-rules": "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
	} {
		if got := m[name]; got != want {
			t.Errorf("ChromiumFlagMap()[%q] = %v; want %v", name, got, want)
		}
	}
	for _, f := range ChromiumFlags {
		if !strings.HasPrefix(f, "--") || strings.HasPrefix(f, "--user-data-dir") {
			t.Errorf("flag %q: want --name[=value] and no shared --user-data-dir", f)
		}
	}
}
