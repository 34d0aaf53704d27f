package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

var rt *cpython.Runtime

func TestMain(m *testing.M) {
	testutil.Main(m, func() (func() error, error) {
		var err error
		rt, err = cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
		if err != nil {
			return nil, fmt.Errorf("initialize: %w", err)
		}
		return rt.Finalize, nil
	})
}

// testExtras are Python functions the tests route /score to instead of
// score: one that fails, one that never returns, and a gate.
const testExtras = `
import os, time

def broken(text, top):
    raise RuntimeError("boom")

def spin(text, top):
    while True:
        pass

def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.002)
`

// newTestService returns a service on a fresh pool whose /score calls fn.
func newTestService(t *testing.T, size int, fn string, timeout time.Duration) (*service, *cpython.Pool) {
	t.Helper()
	// The interrupted code is waited for however long a loaded machine takes
	// to unwind it: the tests assert what happens, not how fast.
	pool, err := cpython.NewPool(rt, cpython.PoolOptions{Name: "test", Size: size, Prelude: scorePy + testExtras, InterruptGrace: testutil.FailAfter})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, pool.Close(ctx))
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newService(pool, fn, timeout, log), pool
}

// do sends a request to the service's handler and returns status and body.
func do(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct{ Error string }
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error
}

func TestScore(t *testing.T) {
	svc, _ := newTestService(t, 2, "score", 5*time.Second)
	h := svc.routes()
	code, body := do(t, h, "POST", "/score",
		`{"text": "Astronomers pointed the telescope at a distant galaxy; its redshift and the spectra of its stars tell us the universe is expanding.", "top": 2}`)
	require.Equal(t, http.StatusOK, code, body)
	var res struct {
		Words   int
		Matches []struct {
			Topic      string
			Similarity float64
			BecauseOf  []string `json:"because_of"`
		}
		Keywords []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.NotEmpty(t, res.Matches)
	assert.LessOrEqual(t, len(res.Matches), 2)
	assert.Equal(t, "astronomy", res.Matches[0].Topic)
	assert.Greater(t, res.Matches[0].Similarity, 0.1)
	assert.Contains(t, res.Matches[0].BecauseOf, "galaxy")
	assert.Contains(t, res.Keywords, "redshift")
	assert.Greater(t, res.Words, 10)

	code, body = do(t, h, "POST", "/score", `{"text": "Knead the dough, roast the vegetables and reduce the sauce with wine and butter."}`)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	assert.Equal(t, "cooking", res.Matches[0].Topic)
	assert.LessOrEqual(t, len(res.Matches), defaultTop)
}

func TestBadRequests(t *testing.T) {
	svc, pool := newTestService(t, 1, "score", 5*time.Second)
	h := svc.routes()
	for _, c := range []struct {
		name, method, body string
		code               int
		msg                string
	}{
		{"GET", "GET", "", http.StatusMethodNotAllowed, "use POST"},
		{"not JSON", "POST", "hello", http.StatusBadRequest, "body must be JSON"},
		{"empty body", "POST", "", http.StatusBadRequest, "body must be JSON"},
		{"wrong type", "POST", `{"text": 5}`, http.StatusBadRequest, "body must be JSON"},
		{"unknown field", "POST", `{"txt": "a"}`, http.StatusBadRequest, `unknown field "txt"`},
		{"no text", "POST", `{"top": 2}`, http.StatusBadRequest, `"text" is missing or empty`},
		{"top too small", "POST", `{"text": "stars", "top": 0}`, http.StatusBadRequest, `"top" must be between 1 and 20, not 0`},
		{"top too large", "POST", `{"text": "stars", "top": 99}`, http.StatusBadRequest, `"top" must be between 1 and 20, not 99`},
		{"too large", "POST", `{"text": "` + strings.Repeat("a", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, "body larger than"},
		{"nothing to index", "POST", `{"text": "the and of 42 !!"}`, http.StatusUnprocessableEntity, "no indexable words"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, h, c.method, "/score", c.body)
			assert.Equal(t, c.code, code, body)
			assert.Contains(t, errorOf(t, body), c.msg)
		})
	}
	s := pool.Stats()
	assert.Equal(t, uint64(1), s.Failed, "only the unindexable document reached Python")
	assert.Equal(t, uint64(0), s.Replaced)
}

func TestPythonErrorIs500(t *testing.T) {
	svc, pool := newTestService(t, 1, "broken", 5*time.Second)
	h := svc.routes()
	code, body := do(t, h, "POST", "/score", `{"text": "stars"}`)
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "internal error: the scorer raised RuntimeError", errorOf(t, body))
	// The pool is fine: the same interpreter answers the next request.
	v, err := pool.Call(context.Background(), "score", "stars and galaxies", 1)
	require.NoError(t, err)
	assert.Contains(t, v, "astronomy")
	assert.Equal(t, uint64(0), pool.Stats().Replaced)
}

func TestDeadlineIs504(t *testing.T) {
	svc, pool := newTestService(t, 1, "spin", 100*time.Millisecond)
	h := svc.routes()
	code, body := do(t, h, "POST", "/score", `{"text": "stars"}`)
	assert.Equal(t, http.StatusGatewayTimeout, code)
	assert.Contains(t, errorOf(t, body), "took longer than 100ms")
	// The interrupted code unwound: the interpreter is healthy, kept, and
	// serves again.
	assert.Equal(t, uint64(0), pool.Stats().Replaced)
	v, err := pool.Call(context.Background(), "score", "stars and galaxies", 1)
	require.NoError(t, err)
	assert.Contains(t, v, "astronomy")
}

func TestOverloadIs503(t *testing.T) {
	svc, pool := newTestService(t, 1, "score", 100*time.Millisecond)
	h := svc.routes()
	gate := filepath.Join(t.TempDir(), "open")
	held := make(chan error, 1)
	go func() { _, err := pool.Call(context.Background(), "wait_for", gate); held <- err }()
	// Not fatal if it never comes: the gate must still open below.
	testutil.Eventually(t, "the pool's one interpreter to be busy", func() bool { return pool.Stats().Busy == 1 })
	code, body := do(t, h, "POST", "/score", `{"text": "stars"}`)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, errorOf(t, body), "overloaded")
	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	require.NoError(t, <-held)
	code, body = do(t, h, "POST", "/score", `{"text": "stars"}`)
	assert.Equal(t, http.StatusOK, code, body)
}

func TestHealthzAndMetrics(t *testing.T) {
	svc, _ := newTestService(t, 2, "score", 5*time.Second)
	h := svc.routes()
	code, body := do(t, h, "POST", "/score", `{"text": "stars"}`)
	require.Equal(t, http.StatusOK, code, body)

	code, body = do(t, h, "GET", "/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	var health struct {
		Status string
		Pool   cpython.PoolStats
	}
	require.NoError(t, json.Unmarshal([]byte(body), &health), body)
	assert.Equal(t, "ok", health.Status)
	assert.Equal(t, 2, health.Pool.Size)
	assert.Equal(t, uint64(1), health.Pool.Completed)

	code, body = do(t, h, "GET", "/metrics", "")
	assert.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		"subinterp_pool_interpreters 2",
		"subinterp_pool_idle 2",
		"subinterp_pool_queued 0",
		"subinterp_pool_tasks_completed_total 1",
		"subinterp_pool_replaced_total 0",
		`httpservice_request_duration_seconds_count{code="200",handler="score"} 1`,
		`httpservice_request_duration_seconds_bucket{code="200",handler="healthz",le="+Inf"} 1`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		assert.Contains(t, body, want)
	}

	svc.closing.Store(true)
	code, body = do(t, h, "GET", "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "shutting down")
}
