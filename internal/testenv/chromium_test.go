package testenv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The binary Chromium finds, with ChromiumFlags, renders a page from a loopback server and
// runs its JavaScript.
func TestChromium_Browser(t *testing.T) {
	bin := Chromium(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>t</title><p id="p">static</p>` +
			`<script>document.getElementById("p").textContent = "rendered-" + (6 * 7);</script>`))
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{}, ChromiumFlags...)
	args = append(args, "--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+"/")
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\nstderr:\n%s", bin, err, stderr.String())
	}
	if !strings.Contains(string(out), "rendered-42") {
		t.Errorf("DOM lacks the text the page's script writes (rendered-42):\n%s\nstderr:\n%s", out, stderr.String())
	}
	if hits.Load() == 0 {
		t.Error("the page was never requested from the test server")
	}
}
