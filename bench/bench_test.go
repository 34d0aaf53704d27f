package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultWorkers(t *testing.T) {
	for cpus, want := range map[int][]int{0: {1}, 1: {1}, 2: {1, 2}, 3: {1, 2, 3}, 8: {1, 2, 4, 8}, 12: {1, 2, 4, 8, 12}} {
		assert.Equal(t, want, DefaultWorkers(cpus), "cpus=%d", cpus)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"defaults", Options{}, ""},
		{"unknown workload", Options{Workloads: []string{"nbody", "mandelbrot"}}, `unknown workload "mandelbrot" (valid: nbody, spectral_norm, fannkuch, json, regex, shared_graph, private_state, tiny, transfer)`},
		{"unknown mode", Options{Modes: []string{"gevent"}}, `unknown mode "gevent" (valid: subinterp-own-gil, `},
		{"pipe is not a task mode", Options{Modes: []string{ModeMultiprocessingPipe}}, `unknown mode "multiprocessing-pipe"`},
		{"zero workers", Options{Workers: []int{2, 0}}, "workers must be at least 1, got 0"},
		{"negative workers", Options{Workers: []int{-1}}, "workers must be at least 1, got -1"},
		{"negative repeat", Options{Repeat: -3}, "repeat must be at least 1, got -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			err := o.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrUsage))
			assert.Contains(t, err.Error(), tt.err)
		})
	}

	o := Options{Workloads: []string{"tiny", "nbody", "tiny"}, Modes: []string{ModeThreads, ModeOwnGIL}, Workers: []int{4, 1, 4}, Quick: true}
	require.NoError(t, o.Validate())
	assert.Equal(t, []string{"nbody", "tiny"}, o.Workloads, "report order, no duplicates")
	assert.Equal(t, []string{ModeOwnGIL, ModeThreads}, o.Modes)
	assert.Equal(t, []int{1, 4}, o.Workers)
	assert.Equal(t, quickSizes.repeat, o.Repeat)
}

func TestFinish(t *testing.T) {
	rep := &Report{CPUs: 2, Workers: []int{1, 2},
		Workloads: []WorkloadInfo{{Name: "nbody", CPUBound: true}},
		Results: []Result{
			{Workload: "nbody", Mode: ModeThreads, Workers: 2, Tasks: 8, WallSeconds: Stats{Median: 1}, Checksum: "abc"},
			{Workload: "nbody", Mode: ModeOwnGIL, Workers: 2, Tasks: 8, WallSeconds: Stats{Median: 0.5}, Checksum: "abc"},
			{Workload: "nbody", Mode: ModeOwnGIL, Workers: 1, Tasks: 8, WallSeconds: Stats{Median: 1}, Checksum: "bad"},
			{Workload: "nbody", Mode: ModeSequential, Workers: 1, Tasks: 8, WallSeconds: Stats{Median: 0.96}, Checksum: "abc"},
		}}
	finish(rep, false)
	require.Len(t, rep.Results, 3, "the baseline that was not asked for is dropped")
	assert.Equal(t, ModeOwnGIL, rep.Results[0].Mode)
	assert.Equal(t, 1, rep.Results[0].Workers)
	assert.Contains(t, rep.Results[0].Error, "wrong results")
	assert.Equal(t, 1.92, rep.Results[1].Speedup)
	assert.Equal(t, 0.96, rep.Results[1].Efficiency)
	assert.Equal(t, ModeThreads, rep.Results[2].Mode)
	assert.Equal(t, 0.96, rep.Results[2].Speedup)
	require.NotEmpty(t, rep.Goals)
	assert.True(t, rep.Goals[0].Known)
	assert.True(t, rep.Goals[0].Met, rep.Goals[0].Measured)
	for _, g := range rep.Goals[1:] {
		assert.False(t, g.Known, g.Name)
		assert.Contains(t, g.Measured, "missing", g.Name)
	}
}

func TestGoals(t *testing.T) {
	rep := &Report{Python: "3.14.1", CPUs: 2, Workers: []int{1, 2},
		Workloads: []WorkloadInfo{{Name: "nbody", CPUBound: true}, {Name: "fannkuch", CPUBound: true}, {Name: "tiny"}},
		Results: []Result{
			{Workload: "nbody", Mode: ModeOwnGIL, Workers: 2, Tasks: 8, Speedup: 1.95, RSSMBPerWorker: 4},
			{Workload: "fannkuch", Mode: ModeOwnGIL, Workers: 2, Tasks: 8, Speedup: 1.5, RSSMBPerWorker: 6},
			{Workload: "nbody", Mode: ModeSpawn, Workers: 2, Tasks: 8, Speedup: 1.9, RSSMBPerWorker: 14},
			{Workload: "fannkuch", Mode: ModeSpawn, Workers: 2, Tasks: 8, Speedup: 1.9, RSSMBPerWorker: 16},
			{Workload: "tiny", Mode: ModeOwnGIL, Workers: 2, Tasks: 1000, WallSeconds: Stats{Median: 0.005}},
			{Workload: "tiny", Mode: ModeProcessPoolExecutor, Workers: 2, Tasks: 1000, WallSeconds: Stats{Median: 0.1}},
			{Workload: "tiny", Mode: ModeCPythonInterpreters, Workers: 2, Tasks: 1000, WallSeconds: Stats{Median: 0.004}},
			{Workload: "tiny", Mode: ModeSubinterpInterpreters, Workers: 2, Tasks: 1000, WallSeconds: Stats{Median: 0.0004}},
		},
		Startup: []Startup{{Mode: ModeOwnGIL, MsPerWorker: 15}, {Mode: ModeForkserver, MsPerWorker: 60},
			{Mode: StartupWithSpares(ModeOwnGIL), MsPerWorker: 0.4}, {Mode: ModeFork, MsPerWorker: 7.7}},
		Roundtrip: []Roundtrip{{Mode: ModeOwnGIL, PayloadBytes: 1024, Microseconds: 9}, {Mode: ModeMultiprocessingPipe, PayloadBytes: 1024, Microseconds: 90}, {Mode: ModeOwnGIL, PayloadBytes: 1 << 20, Microseconds: 300}},
	}
	goals := evaluateGoals(rep)
	byName := map[string]Goal{}
	for _, g := range goals {
		assert.True(t, g.Known, g.Name)
		byName[g.Name] = g
	}
	speed := byName["subinterp-own-gil speedup on the CPU kernels, 2 workers"]
	assert.False(t, speed.Met, "the geometric mean of 1.95× and 1.5× is below 1.8×")
	assert.Contains(t, speed.Measured, "1.71× = 0.86 per core (nbody 1.95×, fannkuch 1.50×)")
	assert.True(t, byName["worker start-up"].Met)
	spare := byName["worker start-up with PoolOptions.Spares (a replacement)"]
	assert.True(t, spare.Met, spare.Measured)
	assert.Contains(t, spare.Measured, "0.40 ms vs 7.7 ms (19.2× faster)")
	assert.True(t, byName["per-task overhead (tiny, 2 workers) vs process-pool-executor"].Met)
	assert.False(t, byName["per-task overhead (tiny, 2 workers) vs cpython-interpreters"].Met)
	dropIn := byName["subinterp-interpreters per-task overhead (tiny, 2 workers) vs cpython-interpreters"]
	assert.True(t, dropIn.Met, dropIn.Measured)
	rt := byName["small-message round trip (1024 B)"]
	assert.True(t, rt.Met, rt.Measured)
	rss := byName["RSS per worker"]
	assert.True(t, rss.Met, rss.Measured)
	assert.Contains(t, rss.Measured, "5.0 MB vs 15.0 MB")
}

func TestPayloadAndDigest(t *testing.T) {
	p := payload(300, 255)
	assert.Equal(t, byte(255), p[0])
	assert.Equal(t, byte(0), p[1])
	assert.Equal(t, byte((299+255)%256), p[299])
	// The SHA-256 of "1\n2".
	assert.Equal(t, "b598b3a62a3f7cedb17e66d1cb31d53dffeebaf5c07e2c60d5e31971936fd35e", digest([]string{"1", "2"}))
	assert.NotEqual(t, digest([]string{"1", "2"}), digest([]string{"2", "1"}))
}

// fakePython writes a shell script that stands in for python3.X: it ignores
// its arguments and prints lines, then exits with code.
func fakePython(t *testing.T, lines []string, code int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "python3")
	var b strings.Builder
	b.WriteString("#!/bin/sh\ncat >/dev/null\n")
	for _, l := range lines {
		b.WriteString("echo '" + l + "'\n")
	}
	b.WriteString("echo 'Traceback: something broke' >&2\n")
	b.WriteString("exit " + string(rune('0'+code)) + "\n")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o755))
	return path
}

func TestRunPeerFailures(t *testing.T) {
	p := plan{Workers: []int{1, 2}, Repeat: 1, Workloads: []planWorkload{{Name: "nbody", Size: 1, Tasks: 8}, {Name: "tiny", Tasks: 8}}}

	t.Run("dies half-way", func(t *testing.T) {
		python := fakePython(t, []string{
			`{"kind": "hello", "mode": "threads", "available": true}`,
			`{"kind": "result", "workload": "nbody", "workers": 1, "tasks": 8, "wall_seconds": [0.5, 0.4], "digest": "d", "rss_mb_per_worker": 1.5}`,
			`{"kind": "result", "workload": "tiny", "workers": 1, "tasks": 8, "error": "ValueError: boom"}`,
			`not json`,
		}, 1)
		rep := runPeer(t.Context(), peerCmd{python: python, dir: t.TempDir()}, ModeThreads, p, progress{})
		assert.Empty(t, rep.unavailable)
		require.Len(t, rep.results, 4, "two reported rows and two failed by the early exit")
		assert.Equal(t, Stats{Median: 0.45, Min: 0.4, Max: 0.5}, rep.results[0].WallSeconds)
		assert.Equal(t, "d", rep.results[0].Checksum)
		assert.Equal(t, "ValueError: boom", rep.results[1].Error)
		for _, r := range rep.results[2:] {
			assert.Equal(t, 2, r.Workers)
			assert.Contains(t, r.Error, "the peer failed (exit status 1): Traceback: something broke")
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		python := fakePython(t, []string{`{"kind": "hello", "mode": "cpython-interpreters", "available": false, "reason": "no module named test.support.interpreters"}`}, 0)
		rep := runPeer(t.Context(), peerCmd{python: python, dir: t.TempDir()}, ModeCPythonInterpreters, p, progress{})
		assert.Equal(t, "no module named test.support.interpreters", rep.unavailable)
		assert.Empty(t, rep.results)
	})

	t.Run("cannot start", func(t *testing.T) {
		rep := runPeer(t.Context(), peerCmd{python: filepath.Join(t.TempDir(), "missing-python"), dir: t.TempDir()}, ModeThreads, p, progress{})
		assert.Contains(t, rep.unavailable, "starting ")
	})

	t.Run("no python", func(t *testing.T) {
		rep := runPeer(t.Context(), peerCmd{dir: t.TempDir()}, ModeThreads, p, progress{})
		assert.Contains(t, rep.unavailable, "no python3 binary")
	})
}

func TestBaselineDrift(t *testing.T) {
	seq := func(w string, median float64, errMsg string) Result {
		return Result{Workload: w, Mode: ModeSequential, Workers: 1, WallSeconds: Stats{Median: median}, Error: errMsg}
	}
	results := []Result{
		seq("nbody", 1.00, ""),
		seq("json", 0.50, ""),
		seq("failed-first", 0, "worker died"),
		seq("tiny", 0.0005, ""),
		{Workload: "nbody", Mode: ModeOwnGIL, Workers: 1, WallSeconds: Stats{Median: 3}},
	}
	cases := []struct {
		name      string
		closing   []Result
		wantMoved bool
		wantDrift []BaselineDrift
	}{
		{"steady", []Result{seq("nbody", 1.05, ""), seq("json", 0.48, "")}, false,
			[]BaselineDrift{{"nbody", 1, 1.05, 0.05}, {"json", 0.5, 0.48, -0.04}}},
		{"slower at the end", []Result{seq("nbody", 1.15, ""), seq("json", 0.5, "")}, true,
			[]BaselineDrift{{"nbody", 1, 1.15, 0.15}, {"json", 0.5, 0.5, 0}}},
		{"faster at the end", []Result{seq("json", 0.4, "")}, true,
			[]BaselineDrift{{"json", 0.5, 0.4, -0.2}}},
		{"rows that failed are not compared", []Result{seq("nbody", 0, "worker died"), seq("failed-first", 1, "")}, false, nil},
		{"a baseline too short to time does not count", []Result{seq("tiny", 0.0009, "")}, false,
			[]BaselineDrift{{"tiny", 0.0005, 0.0009, 0.8}}},
		{"no closing run", nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			drift, moved := baselineDrift(results, c.closing)
			assert.Equal(t, c.wantMoved, moved)
			assert.Equal(t, c.wantDrift, drift)
		})
	}

	rep := &Report{}
	rep.Baseline, rep.BaselineMoved = baselineDrift(results, []Result{seq("nbody", 1.15, ""), seq("json", 0.5, "")})
	msg := baselineWarning(rep)
	assert.Contains(t, msg, "nbody +15%")
	assert.NotContains(t, msg, "json")
	assert.Contains(t, msg, "more than 10%")
}
