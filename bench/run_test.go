package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// testRuntime is the one CPython runtime of this test process.
var testRuntime *cpython.Runtime

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == testPeerFlag {
		os.Exit(testPeerMain(os.Args[2:]))
	}
	testutil.Main(m, func() (func() error, error) {
		rt, err := cpython.Initialize(cpython.RuntimeOptions{})
		if err != nil {
			return nil, err
		}
		testRuntime = rt
		return rt.Finalize, nil
	})
}

// testPython is the python3.X binary of the build under test, from the
// environment scripts/python.sh sets up.
func testPython(t *testing.T) string {
	t.Helper()
	prefix, version := os.Getenv("SUBINTERP_PYTHON_PREFIX"), os.Getenv("SUBINTERP_PYTHON_VERSION")
	require.NotEmpty(t, prefix, "run the tests through make, or eval \"$(scripts/python.sh)\" first")
	python := filepath.Join(prefix, "bin", "python"+version)
	require.FileExists(t, python)
	return python
}

// TestGoAndPythonAgree checks that the payloads and digests the Go side
// builds are byte for byte those of workloads.py, which the peers use.
func TestGoAndPythonAgree(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writePyFiles(dir))
	in, err := testRuntime.NewInterpreter(cpython.IsolatedConfig())
	require.NoError(t, err)
	defer in.Close()
	ctx := t.Context()
	require.NoError(t, in.Exec(ctx, prelude(dir)))
	for _, c := range []struct{ size, index int }{{0, 0}, {1, 7}, {1024, 3}, {1 << 20, 255}, {1000, 1000}} {
		v, err := in.Call(ctx, "workloads.payload", c.size, c.index)
		require.NoError(t, err)
		got, ok := v.([]byte)
		require.True(t, ok || c.size == 0, "payload(%d, %d) is %T", c.size, c.index, v)
		assert.True(t, bytes.Equal(payload(c.size, c.index), got), "payload(%d, %d)", c.size, c.index)
	}
	// The digest is computed in the peers' coordinating process, never in
	// a subinterpreter: check it in the main interpreter (importing
	// hashlib in an isolated interpreter makes CPython 3.12.1 free memory
	// of the wrong allocator at finalization).
	main := testRuntime.Main()
	require.NoError(t, main.Exec(ctx, prelude(dir)))
	results := []string{"1", "héllo", "", "3.14"}
	v, err := main.Call(ctx, "workloads.digest", results)
	require.NoError(t, err)
	assert.Equal(t, digest(results), v)

	meta, err := loadWorkloads(ctx, testRuntime, dir, true)
	require.NoError(t, err)
	require.Len(t, meta, len(Workloads))
	for _, name := range Workloads {
		assert.NotEmpty(t, meta[name].about, name)
	}
	assert.True(t, meta["nbody"].cpuBound)
	assert.False(t, meta["tiny"].cpuBound)
	assert.Equal(t, 1<<20, meta["transfer"].size)
}

// TestRunSmall runs a small bench through every code path: in-process
// modes, a peer mode, the baseline, start-up and round trips. It checks the
// shape and the agreement of results, never the speed.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small benchmark (several seconds)")
	}
	var progressOut lockedBuffer
	opts := Options{Quick: true, Workloads: []string{"nbody", "tiny", "transfer"},
		Modes: []string{ModeOwnGIL, ModeSharedGIL, ModeThreads}, Workers: []int{1, 2}, Repeat: 1,
		Python: testPython(t), PythonBuild: "test build", Progress: &progressOut}
	var steps []Progress // OnProgress is called from one goroutine at a time
	opts.OnProgress = func(p Progress) { steps = append(steps, p) }
	rep, err := Run(t.Context(), testRuntime, opts)
	require.NoError(t, err)
	require.NotEmpty(t, steps)
	total := 3*3*2 + 3 + 1 + 3 // three modes × workloads × sizes, the baseline, the round-trip reference, the closing baseline
	for i, p := range steps {
		assert.Equal(t, total, p.Total)
		assert.LessOrEqual(t, p.Done, p.Total)
		if i > 0 {
			assert.GreaterOrEqual(t, p.Done, steps[i-1].Done, "never goes back")
			assert.GreaterOrEqual(t, p.Elapsed, steps[i-1].Elapsed)
		}
	}
	assert.Equal(t, total, steps[len(steps)-1].Done, "all done at the end")

	assert.Equal(t, testRuntime.Version(), rep.Python)
	assert.Equal(t, []int{1, 2}, rep.Workers)
	require.Len(t, rep.Workloads, 3)
	require.Len(t, rep.Results, 3*3*2, "sequential was only the baseline")
	require.Len(t, rep.Baseline, 3, "the baseline was timed again at the end")
	for _, d := range rep.Baseline {
		assert.Positive(t, d.FirstSeconds, d.Workload)
		assert.Positive(t, d.LastSeconds, d.Workload)
	}
	for _, r := range rep.Results {
		name := fmt.Sprintf("%s/%s/%d", r.Workload, r.Mode, r.Workers)
		require.Empty(t, r.Error, name)
		assert.Positive(t, r.WallSeconds.Median, name)
		assert.LessOrEqual(t, r.WallSeconds.Min, r.WallSeconds.Median, name)
		assert.Positive(t, r.TasksPerSecond, name)
		assert.Positive(t, r.Speedup, name)
		assert.NotEmpty(t, r.Checksum, name)
	}
	modes := map[string]bool{}
	for _, s := range rep.Startup {
		modes[s.Mode] = true
		assert.Empty(t, s.Error, s.Mode)
		assert.Positive(t, s.MsPerWorker, s.Mode)
	}
	assert.Equal(t, map[string]bool{ModeOwnGIL: true, ModeSharedGIL: true, ModeThreads: true,
		StartupWithSpares(ModeOwnGIL): true, StartupWithSpares(ModeSharedGIL): true}, modes)
	sizes := map[string]int{}
	for _, r := range rep.Roundtrip {
		assert.Empty(t, r.Error, r.Mode)
		assert.Positive(t, r.Microseconds, r.Mode)
		sizes[r.Mode]++
	}
	assert.Equal(t, map[string]int{ModeOwnGIL: 2, ModeSharedGIL: 2, ModeThreads: 2, ModeMultiprocessingPipe: 2}, sizes)
	assert.Len(t, rep.Goals, 8)
	assert.Contains(t, progressOut.String(), "bench: subinterp-own-gil: nbody, 2 workers: median")

	require.Len(t, rep.CPUSpeeds, 2, "the CPUs' speeds, at the start and at the end")
	for i, when := range []string{"start", "end"} {
		assert.Equal(t, when, rep.CPUSpeeds[i].When)
		assert.Len(t, rep.CPUSpeeds[i].Speeds, runtime.NumCPU(), when)
		assert.Contains(t, progressOut.String(), "bench: cpu speeds ("+when+"): cpu0 ")
	}
}

// TestRunCancelled checks that a cancelled context stops a run with the
// context's error.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Run(ctx, testRuntime, Options{Quick: true, Workloads: []string{"tiny"}, Modes: []string{ModeOwnGIL}, Workers: []int{1}, Python: testPython(t)})
	require.ErrorIs(t, err, context.Canceled)
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of
// progress lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
