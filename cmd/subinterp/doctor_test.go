package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/bench"
)

// TestDoctorJSON: the report parses, describes the CPython under test, and
// its verdict decides the exit status. A small unit of work keeps this
// quick. On a busy machine the own-GIL check may measure too little
// speedup and fail (then ok is false and the exit status 1); nothing else
// may fail.
func TestDoctorJSON(t *testing.T) {
	r := runBinary(t, "", "doctor", "--json", "--work", "5000")
	var rep doctorReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	minor := pythonUnderTest()
	assert.True(t, strings.HasPrefix(rep.Version, minor+"."), "version %q, want %s.x", rep.Version, minor)
	assert.NotEmpty(t, rep.Prefix)
	assert.Contains(t, rep.LibPython, "libpython"+minor)
	assert.Contains(t, rep.Linked, "libpython"+minor)
	assert.Positive(t, rep.NumCPU)
	assert.Equal(t, "github.com/subinterp/subinterp", rep.Subinterp.Module)
	assert.Equal(t, rep.Version, rep.Subinterp.CPython, "the CPython it links is the one it runs")
	assert.NotEmpty(t, rep.Subinterp.Version)

	names := map[string]doctorCheck{}
	verdict := true
	for _, c := range rep.Checks {
		names[c.Name] = c
		assert.Contains(t, []string{statusPass, statusFail, statusSkip, statusInfo}, c.Status, c.Name)
		if c.Status == statusFail {
			verdict = false
		}
	}
	assert.Equal(t, verdict, rep.OK, "ok is false exactly when a check failed: %+v", rep.Checks)
	want := exitOK
	if !rep.OK {
		want = exitFailed
	}
	assert.Equal(t, want, r.code, "exit status for ok=%v; stderr:\n%s", rep.OK, r.stderr)

	require.Contains(t, names, "shared libpython")
	assert.Equal(t, statusPass, names["shared libpython"].Status)
	require.Contains(t, names, "own-GIL interpreters run in parallel")
	if own := names["own-GIL interpreters run in parallel"]; own.Status == statusFail {
		// The one failure a busy machine may cause: too little speedup,
		// measured (not an error running the check).
		assert.Positive(t, own.Speedup, own.Detail)
		assert.Less(t, own.Speedup, bench.MinPairSpeedup, own.Detail)
		assert.Contains(t, own.Detail, fmt.Sprintf("below %.1f", bench.MinPairSpeedup))
	}
	require.Contains(t, names, "shared-GIL interpreters (contrast)")
	assert.Equal(t, statusInfo, names["shared-GIL interpreters (contrast)"].Status)
}

// TestDoctorText: the same checks for people; the exit status is 1 exactly
// when a check line says FAIL.
func TestDoctorText(t *testing.T) {
	r := runBinary(t, "", "doctor", "--work", "5000")
	assert.Contains(t, r.stdout, "CPython        "+pythonUnderTest()+".")
	assert.Contains(t, r.stdout, "shared libpython")
	failed := false
	for _, line := range strings.Split(r.stdout, "\n") {
		failed = failed || strings.HasPrefix(line, statusFail+" ")
	}
	want := exitOK
	if failed {
		want = exitFailed
	}
	assert.Equal(t, want, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

// pythonUnderTest is the CPython version ("3.13") the tests were built
// against, as scripts/python.sh exported it; 3.13 if it did not.
func pythonUnderTest() string {
	if v := os.Getenv("SUBINTERP_PYTHON_VERSION"); v != "" {
		return v
	}
	return "3.13"
}

// A pair whose baseline moved while it was measured is flagged, in JSON
// and in the text report.
func TestDoctorWarnsWhenTheBaselineMoved(t *testing.T) {
	steady := bench.PairSpeedup{AloneBefore: time.Second, AloneAfter: 1050 * time.Millisecond, BaselineDrift: 0.05}
	assert.Empty(t, pairWarning(steady))
	moved := bench.PairSpeedup{AloneBefore: time.Second, AloneAfter: 1300 * time.Millisecond, BaselineDrift: 0.3, BaselineMoved: true}
	w := pairWarning(moved)
	assert.Contains(t, w, "took 1.00s before the pair and 1.30s after (+30%, more than 10%)")

	var out strings.Builder
	printDoctor(&out, doctorReport{Checks: []doctorCheck{
		{Name: "own-GIL interpreters run in parallel", Status: statusPass, Detail: "speedup 1.90", Warning: w},
		{Name: "shared-GIL interpreters (contrast)", Status: statusInfo, Detail: "speedup 1.00"},
	}})
	assert.Contains(t, out.String(), "PASS  own-GIL interpreters run in parallel: speedup 1.90\n      warning: one unit alone took 1.00s")
	assert.Equal(t, 1, strings.Count(out.String(), "warning:"))
}

// The CPU-speed line is information, with a warning when the CPUs differ.
func TestDoctorCPUSpeeds(t *testing.T) {
	c := cpuSpeedCheck(context.Background())
	require.Contains(t, []string{statusInfo, statusSkip}, c.Status, c.Detail)
	if c.Status == statusInfo {
		assert.Contains(t, c.Detail, "ns/load (memory probe, lower is faster; spread ")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c = cpuSpeedCheck(ctx)
	assert.Equal(t, statusSkip, c.Status)
	assert.Contains(t, c.Detail, "context canceled")
}

// The cross-CPU line is information; it is skipped on one CPU and when
// cancelled.
func TestDoctorCrossCPU(t *testing.T) {
	c := crossCPUCheck(context.Background())
	require.Contains(t, []string{statusInfo, statusSkip}, c.Status, c.Detail)
	if c.Status == statusInfo {
		assert.Regexp(t, `^a cache line goes from CPU \d+ to CPU \d+ and back in \d+ ns`, c.Detail)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c = crossCPUCheck(ctx)
	assert.Equal(t, statusSkip, c.Status)
}
