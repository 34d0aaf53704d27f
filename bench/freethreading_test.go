package bench

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFreeThreadingComparisonNeedsRows: without free-threaded rows there
// is no section, and the renderers write none.
func TestFreeThreadingComparisonNeedsRows(t *testing.T) {
	r := syntheticReport()
	r.Results = slices.DeleteFunc(r.Results, func(res Result) bool {
		return res.Mode == ModeThreadsFreeThreaded || res.Mode == ModeSequentialFreeThreaded
	})
	_, ok := freeThreadingComparison(r)
	assert.False(t, ok)

	c, ok := freeThreadingComparison(syntheticReport())
	require.True(t, ok)
	r = syntheticReport()
	r.Results = slices.DeleteFunc(r.Results, func(res Result) bool { return res.Mode == ModeSequential })
	withoutBaseline, ok := freeThreadingComparison(r)
	require.True(t, ok)
	assert.Equal(t, c.cost, withoutBaseline.cost, "the GIL build's sequential time comes from the speedup when its rows were dropped")
	for _, s := range c.scaling {
		assert.NotEqual(t, "tiny", s.workload, "overhead and transfer are left to the round trips")
		assert.NotEqual(t, "transfer", s.workload)
	}
	require.NotEmpty(t, c.cost)
	assert.Equal(t, "1.25× slower", ftCostText(c.cost[0], "-"))
	assert.Equal(t, "2.00× faster", ftCostText(ftCost{gil: 2, freeThrd: 1}, "-"))
	assert.Equal(t, "-", ftCostText(ftCost{gil: 2}, "-"), "a missing figure is not a ratio")
}

// TestRunFreeThreadedUnavailable: without a free-threaded build, both
// free-threaded modes are listed as unavailable with the reason given, and
// the run goes on. sequential-free-threaded comes with threads-free-threaded
// without being asked for.
func TestRunFreeThreadedUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sequential peer")
	}
	const why = "no free-threaded CPython 3.13 here: build one with scripts/python.sh --free-threaded"
	rep, err := Run(t.Context(), testRuntime, Options{Quick: true, Workloads: []string{"tiny"},
		Modes: []string{ModeThreadsFreeThreaded}, Workers: []int{1}, Repeat: 1,
		Python: testPython(t), FreeThreadedMissing: why})
	require.NoError(t, err)
	assert.Equal(t, []Unavailable{{Mode: ModeThreadsFreeThreaded, Reason: why}, {Mode: ModeSequentialFreeThreaded, Reason: why}},
		rep.Unavailable[:2])
	assert.Empty(t, rep.FreeThreadedPython)
	assert.Empty(t, rep.Results, "only the baseline ran, and it was not asked for")
}

// TestFreeThreadedPeerRefusesAGILBuild: peers.py's free-threaded modes run
// only in a --disable-gil build, and say why not in any other.
func TestFreeThreadedPeerRefusesAGILBuild(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writePyFiles(dir))
	p := plan{Workers: []int{1}, Repeat: 1, Workloads: []planWorkload{{Name: "tiny", Tasks: 8}}}
	for _, mode := range []string{ModeThreadsFreeThreaded, ModeSequentialFreeThreaded} {
		rep := runPeer(t.Context(), peerCmd{python: testPython(t), dir: dir}, mode, p, progress{})
		assert.Contains(t, rep.unavailable, "is not a free-threaded build: it was not configured with --disable-gil", mode)
		assert.Empty(t, rep.results, mode)
	}
}

// freeThreadedPython is python3.Xt of a finished free-threaded build of
// the version under test in subinterp's cache, or the test is skipped.
func freeThreadedPython(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("SUBINTERP_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		cache = filepath.Join(home, ".cache", "subinterp")
	}
	version := os.Getenv("SUBINTERP_PYTHON_VERSION")
	dirs, _ := filepath.Glob(filepath.Join(cache, "cpython-"+version+".*-freethreaded", ".complete"))
	for _, d := range dirs {
		if py := filepath.Join(filepath.Dir(d), "bin", "python"+version+"t"); fileExists(py) {
			return py
		}
	}
	t.Skipf("no free-threaded CPython %s in %s (scripts/python.sh --free-threaded builds one)", version, cache)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestRunFreeThreaded runs the free-threaded modes in a real free-threaded
// build: every row agrees with the GIL build's sequential digest, the
// section and the report name the python used. With the GIL forced on,
// the modes are refused rather than measured.
func TestRunFreeThreaded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small benchmark")
	}
	ft := freeThreadedPython(t)
	opts := Options{Quick: true, Workloads: []string{"shared_graph", "private_state", "tiny"},
		Modes: []string{ModeOwnGIL, ModeThreadsFreeThreaded}, Workers: []int{1, 2}, Repeat: 1,
		Python: testPython(t), FreeThreadedPython: ft}
	rep, err := Run(t.Context(), testRuntime, opts)
	require.NoError(t, err)
	assert.Equal(t, ft, rep.FreeThreadedPython)
	counts := map[string]int{}
	for _, r := range rep.Results {
		require.Empty(t, r.Error, "%s/%s/%d", r.Workload, r.Mode, r.Workers)
		assert.Positive(t, r.Speedup)
		counts[r.Mode]++
	}
	assert.Equal(t, map[string]int{ModeOwnGIL: 6, ModeThreadsFreeThreaded: 6, ModeSequentialFreeThreaded: 3}, counts)
	var startup, roundtrips int
	for _, s := range rep.Startup {
		if s.Mode == ModeThreadsFreeThreaded {
			startup++
			assert.Empty(t, s.Error)
		}
	}
	for _, rt := range rep.Roundtrip {
		if rt.Mode == ModeThreadsFreeThreaded {
			roundtrips++
			assert.Empty(t, rt.Error)
		}
	}
	assert.Equal(t, 1, startup)
	assert.Equal(t, 2, roundtrips)
	c, ok := freeThreadingComparison(rep)
	require.True(t, ok)
	assert.Len(t, c.cost, 2)

	t.Run("GIL forced on", func(t *testing.T) {
		t.Setenv("PYTHON_GIL", "1")
		rep, err := Run(t.Context(), testRuntime, Options{Quick: true, Workloads: []string{"tiny"},
			Modes: []string{ModeSequentialFreeThreaded}, Workers: []int{1}, Repeat: 1,
			Python: testPython(t), FreeThreadedPython: ft})
		require.NoError(t, err)
		require.NotEmpty(t, rep.Unavailable)
		assert.Equal(t, ModeSequentialFreeThreaded, rep.Unavailable[0].Mode)
		assert.Contains(t, rep.Unavailable[0].Reason, "the GIL is enabled in this free-threaded build")
	})
}
