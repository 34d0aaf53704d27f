package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/subinterp/subinterp/cpython"
)

// scorePy is the Python side: the prelude of every pool interpreter.
//
//go:embed score.py
var scorePy string

// Limits on a /score request.
const (
	maxBodyBytes = 1 << 20
	maxTop       = 20
	defaultTop   = 3
)

// service is the HTTP side: it validates requests, runs the Python scoring
// function through the pool with a per-request deadline and maps the
// outcome to a status code.
type service struct {
	pool    *cpython.Pool
	fn      string        // the Python function a /score request calls
	timeout time.Duration // per-request deadline: queueing plus Python
	log     *slog.Logger

	closing  atomic.Bool // set when shutdown starts: /healthz reports 503
	registry *prometheus.Registry
	latency  *prometheus.HistogramVec
}

func newService(pool *cpython.Pool, fn string, timeout time.Duration, log *slog.Logger) *service {
	s := &service{pool: pool, fn: fn, timeout: timeout, log: log, registry: prometheus.NewRegistry()}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "httpservice_request_duration_seconds",
		Help:    "Time to answer a request, by handler and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"handler", "code"})
	s.registry.MustRegister(
		s.latency,
		poolCollector{pool: pool},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return s
}

// routes is the service's HTTP API.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/score", s.instrument("score", http.HandlerFunc(s.score)))
	mux.Handle("/healthz", s.instrument("healthz", http.HandlerFunc(s.healthz)))
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

// scoreRequest is the body of POST /score.
type scoreRequest struct {
	Text string `json:"text"`
	Top  *int   `json:"top"`
}

// score handles POST /score: {"text": "...", "top": 3}.
func (s *service) score(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST with a JSON body {\"text\": ..., \"top\": n}")
		return
	}
	var req scoreRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "body must be JSON {\"text\": string, \"top\": number}: "+err.Error())
		return
	}
	if req.Text == "" {
		writeError(w, http.StatusBadRequest, "\"text\" is missing or empty")
		return
	}
	top := defaultTop
	if req.Top != nil {
		top = *req.Top
	}
	if top < 1 || top > maxTop {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("\"top\" must be between 1 and %d, not %d", maxTop, top))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	out, err := s.pool.Call(ctx, s.fn, req.Text, top)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, ok := out.(string)
	if !ok {
		s.log.Error("score returned a non-string", "type", fmt.Sprintf("%T", out))
		writeError(w, http.StatusInternalServerError, "internal error: unexpected result from the scorer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
	_, _ = w.Write([]byte("\n"))
}

// fail maps a pool error to a response.
func (s *service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rf *cpython.RunFailedError
	var ie *cpython.InterruptedError
	switch {
	case errors.As(err, &rf) && rf.Type == "ValueError":
		// The scorer rejects the document itself (nothing to index).
		writeError(w, http.StatusUnprocessableEntity, rf.Message)
	case errors.As(err, &rf):
		s.log.Error("scoring raised", "type", rf.Type, "message", rf.Message, "traceback", rf.Traceback)
		writeError(w, http.StatusInternalServerError, "internal error: the scorer raised "+rf.Type)
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		s.log.Info("client gone", "err", err)
		writeError(w, 499, "client closed the request")
	case errors.As(err, &ie) && errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("scoring took longer than %v and was stopped", s.timeout))
	case errors.Is(err, context.DeadlineExceeded):
		// Never reached an interpreter: all were busy for the whole timeout.
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("overloaded: no interpreter free within %v", s.timeout))
	case errors.Is(err, cpython.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "shutting down")
	default:
		s.log.Error("scoring failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// healthz reports whether the service takes work, with the pool's state.
func (s *service) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.pool.Stats()
	code, status := http.StatusOK, "ok"
	if s.closing.Load() {
		code, status = http.StatusServiceUnavailable, "shutting down"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "pool": st})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// instrument records each request's latency by handler and status code.
func (s *service) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.latency.WithLabelValues(name, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// poolCollector exports the pool's Stats at every scrape.
type poolCollector struct{ pool *cpython.Pool }

var (
	poolGauges = map[string]*prometheus.Desc{
		"size":     prometheus.NewDesc("subinterp_pool_interpreters", "Interpreters the pool keeps.", nil, nil),
		"busy":     prometheus.NewDesc("subinterp_pool_busy", "Interpreters running a task.", nil, nil),
		"idle":     prometheus.NewDesc("subinterp_pool_idle", "Interpreters ready for a task.", nil, nil),
		"starting": prometheus.NewDesc("subinterp_pool_starting", "Replacement interpreters being created.", nil, nil),
		"queued":   prometheus.NewDesc("subinterp_pool_queued", "Callers waiting for an interpreter.", nil, nil),
		"retired":  prometheus.NewDesc("subinterp_pool_retired", "Retired interpreters not yet closed (stuck in a C call).", nil, nil),
	}
	poolCounters = map[string]*prometheus.Desc{
		"completed": prometheus.NewDesc("subinterp_pool_tasks_completed_total", "Tasks that returned without error.", nil, nil),
		"failed":    prometheus.NewDesc("subinterp_pool_tasks_failed_total", "Tasks that returned an error.", nil, nil),
		"replaced":  prometheus.NewDesc("subinterp_pool_replaced_total", "Interpreters replaced (broken by a task, or renewed).", nil, nil),
	}
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range poolGauges {
		ch <- d
	}
	for _, d := range poolCounters {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stats()
	gauge := func(name string, v int) {
		ch <- prometheus.MustNewConstMetric(poolGauges[name], prometheus.GaugeValue, float64(v))
	}
	counter := func(name string, v uint64) {
		ch <- prometheus.MustNewConstMetric(poolCounters[name], prometheus.CounterValue, float64(v))
	}
	gauge("size", st.Size)
	gauge("busy", st.Busy)
	gauge("idle", st.Idle)
	gauge("starting", st.Starting)
	gauge("queued", st.Queued)
	gauge("retired", st.Retired)
	counter("completed", st.Completed)
	counter("failed", st.Failed)
	counter("replaced", st.Replaced)
}
