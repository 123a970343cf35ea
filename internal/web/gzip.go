package web

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipMin is the size below which compressing costs more than it saves:
// most API answers are smaller and go out as they are.
const gzipMin = 1024

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return w
}}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}

func compressible(contentType string) bool {
	for _, p := range []string{"text/", "application/json", "image/svg+xml", "application/openapi"} {
		if strings.HasPrefix(contentType, p) {
			return true
		}
	}
	return false
}

// gzip compresses responses for clients that accept it, so every page fits
// the 50 KB budget of a 2G phone (DESIGN.md section 6).
func (s *Server) gzip(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !acceptsGzip(r) || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// gzipWriter holds back the first gzipMin bytes to decide whether the
// response is worth compressing, then either streams through gzip or sends
// the bytes as they are.
type gzipWriter struct {
	http.ResponseWriter
	status  int
	buf     []byte
	decided bool
	gz      *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.status != 0 || g.decided {
		return
	}
	g.status = code
	// Informational and bodiless answers go straight out.
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		g.decide(false)
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	if !g.decided {
		h := g.Header()
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", http.DetectContentType(append(g.buf, p...)))
		}
		if h.Get("Content-Encoding") != "" || !compressible(h.Get("Content-Type")) {
			g.decide(false)
		} else {
			g.buf = append(g.buf, p...)
			if len(g.buf) >= gzipMin {
				g.decide(true)
			}
			return len(p), nil
		}
	}
	if g.gz != nil {
		return g.gz.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// decide sends the header and whatever was held back.
func (g *gzipWriter) decide(compress bool) {
	g.decided = true
	h := g.Header()
	if compressible(h.Get("Content-Type")) {
		h.Add("Vary", "Accept-Encoding")
	}
	if compress {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		g.gz = gzipPool.Get().(*gzip.Writer)
		g.gz.Reset(g.ResponseWriter)
	} else if len(g.buf) > 0 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(g.buf)))
	}
	if g.status == 0 {
		g.status = http.StatusOK
	}
	g.ResponseWriter.WriteHeader(g.status)
	if len(g.buf) > 0 {
		if g.gz != nil {
			g.gz.Write(g.buf)
		} else {
			g.ResponseWriter.Write(g.buf)
		}
		g.buf = nil
	}
}

func (g *gzipWriter) finish() {
	if !g.decided {
		if g.status == 0 && len(g.buf) == 0 {
			return // nothing was written: let the server send its default
		}
		g.decide(false)
	}
	if g.gz != nil {
		g.gz.Close()
		gzipPool.Put(g.gz)
		g.gz = nil
	}
}

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
