package journey

import (
	"slices"
	"testing"
	"time"
)

// TestAppendLog: a check-in that noted generation g before its snapshot
// learns exactly which of its pairs were appended after g, and the log
// forgets a pair only once it is older than appendWindow.
func TestAppendLog(t *testing.T) {
	var l appendLog
	t0 := time.Now()
	g0 := l.generation()
	l.record([]string{"a@s", "b@s"}, t0)
	g1 := l.generation()
	l.record([]string{"c@s"}, t0.Add(time.Second))
	keys := []string{"a@s", "b@s", "c@s", "d@s"}
	if got := l.since(keys, g0); !slices.Equal(got, []string{"a@s", "b@s", "c@s"}) {
		t.Errorf("since g0 = %v", got)
	}
	if got := l.since(keys, g1); !slices.Equal(got, []string{"c@s"}) {
		t.Errorf("since g1 = %v", got)
	}
	if got := l.since(keys, l.generation()); len(got) != 0 {
		t.Errorf("since now = %v", got)
	}
	// A later append of a pair moves it to the later generation.
	g2 := l.generation()
	l.record([]string{"a@s"}, t0.Add(2*time.Second))
	if got := l.since(keys, g2); !slices.Equal(got, []string{"a@s"}) {
		t.Errorf("since g2 = %v", got)
	}
	// Past the window the old pairs go; a fresh one stays.
	l.record([]string{"e@s"}, t0.Add(appendWindow+1500*time.Millisecond))
	if got := l.since(append(keys, "e@s"), g0); !slices.Equal(got, []string{"a@s", "e@s"}) {
		t.Errorf("after the window, since g0 = %v; want the pairs appended within it", got)
	}
}
