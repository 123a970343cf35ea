package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live in a registry of their own (not the global default) so two
// servers in one process, as in tests, do not collide. Labels are route
// patterns and status codes only: a raw path could carry an id or, from a
// careless client, a name (S4). /metrics is served without a session so a
// scraper needs no password; it holds request counts, durations and Go
// runtime figures, never a count of people or anything about one.
type metrics struct {
	reg  *prometheus.Registry
	reqs *prometheus.CounterVec
	dur  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravana_http_requests_total",
		Help: "HTTP requests by route pattern and status.",
	}, []string{"route", "status"})
	m.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "caravana_http_request_duration_seconds",
		Help:    "HTTP request durations by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.reg.MustRegister(m.reqs, m.dur, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.reqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.dur.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
