package linkage

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel runs fn over [0,n) in chunks on every core; fn gets a worker number in
// [0, workers()) so it can keep per-worker state without locks.
func parallel(n, chunk int, fn func(worker, lo, hi int)) {
	w := workers()
	if n <= chunk || w == 1 {
		for lo := 0; lo < n; lo += chunk {
			fn(0, lo, min(lo+chunk, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				fn(k, lo, min(lo+chunk, n))
			}
		}(k)
	}
	wg.Wait()
}

func workers() int { return max(runtime.GOMAXPROCS(0), 1) }

// progress reports monotonically rising counts from many goroutines.
type progress struct {
	fn    func(done, total int)
	total int
	mu    sync.Mutex
	done  int
}

func (p *progress) add(n int) {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	p.done = min(p.done+n, p.total)
	p.fn(p.done, p.total)
	p.mu.Unlock()
}

func (p *progress) finish() {
	if p == nil || p.fn == nil {
		return
	}
	p.mu.Lock()
	if p.done < p.total {
		p.done = p.total
		p.fn(p.done, p.total)
	}
	p.mu.Unlock()
}
