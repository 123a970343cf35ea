package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ChromiumFlags are the command-line flags headless Chromium needs on these machines: it runs
// as root (hence no sandbox), without a GPU, on a closed network where every background call
// home is refused — without the networking flags it floods the network with retries. Each is
// one argument ("--name" or "--name=value"; values may hold spaces). Add a fresh
// --user-data-dir per browser (t.TempDir()); chromedp's allocator makes one itself.
var ChromiumFlags = []string{
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-default-apps",
	"--disable-extensions",
	"--disable-domain-reliability",
	"--disable-client-side-phishing-detection",
	"--disable-breakpad",
	"--no-pings",
	"--metrics-recording-only",
	"--password-store=basic",
	"--use-mock-keychain",
	// Containers often give /dev/shm only 64 MB, which crashes renderers.
	"--disable-dev-shm-usage",
	// Resolve no names but loopback's: the flags above still leave lookups of update and
	// extension servers. Tests serve pages from 127.0.0.1 (httptest) or localhost.
	"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
	"--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,InterestFeedContentSuggestions,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
	"--hide-scrollbars",
	"--mute-audio",
}

// ChromiumFlagMap returns ChromiumFlags as name → value ("--x" → true, "--x=v" → "v"), the
// shape chromedp.Flag takes:
//
//	for name, value := range testenv.ChromiumFlagMap() {
//		opts = append(opts, chromedp.Flag(name, value))
//	}
func ChromiumFlagMap() map[string]any {
	m := make(map[string]any, len(ChromiumFlags))
	for _, f := range ChromiumFlags {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			m[name] = value
		} else {
			m[name] = true
		}
	}
	return m
}

// chromiumNames are looked up on PATH, in order, when CARAVANA_TEST_CHROMIUM is unset.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Chromium returns the path of a Chromium or Chrome binary: CARAVANA_TEST_CHROMIUM, else
// /usr/bin/chromium, else the first of chromium, chromium-browser, google-chrome on PATH.
// When there is none the test skips, or fails under CI=true. A CARAVANA_TEST_CHROMIUM that
// names no executable fails the test: someone asked for that browser.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if !executable(p) {
			t.Fatalf("%s=%s is not an executable file", EnvChromium, p)
		}
		return p
	}
	if p := findChromium(); p != "" {
		return p
	}
	unavailable(t, "Chromium not found (set "+EnvChromium+")")
	return ""
}

// chromiumDefault is where Debian's chromium package puts the browser.
var chromiumDefault = "/usr/bin/chromium"

func findChromium() string {
	if executable(chromiumDefault) {
		return chromiumDefault
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
