package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// testPeerFlag makes this test binary the subinterp-interpreters peer
// (Options.SelfPeer), as `subinterp bench --internal-peer` makes the CLI.
const testPeerFlag = "-subinterp-bench-test-peer"

// testPeerMain is this test binary run as that peer: a runtime of its
// own, PeerMain, its status as the exit code.
func testPeerMain(args []string) int {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rt.Finalize()
	status, err := PeerMain(context.Background(), rt, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return status
}

// PeerMain runs a script as __main__ with its arguments and returns its
// exit status as python3.X would.
func TestPeerMain(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.py")
	out := filepath.Join(dir, "out")
	cases := []struct {
		name, body string
		status     int
		err        string
	}{
		{"runs as __main__ with its argv", "assert __name__ == '__main__'\nimport sys\nopen(sys.argv[1], 'w').write(' '.join(sys.argv[2:]))", 0, ""},
		{"sys.exit(int)", "import sys\nsys.exit(3)", 3, ""},
		{"sys.exit(None)", "raise SystemExit", 0, ""},
		{"sys.exit(str)", "import sys\nsys.exit('bad plan')", 1, ""},
		{"an exception", "1/0", 0, "ZeroDivisionError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(script, []byte(c.body), 0o644))
			status, err := PeerMain(t.Context(), testRuntime, []string{script, out, "a", "b"})
			if c.err != "" {
				require.Error(t, err)
				var rf *cpython.RunFailedError
				require.ErrorAs(t, err, &rf)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.status, status)
		})
	}
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "a b", string(got))

	_, err = PeerMain(t.Context(), testRuntime, nil)
	require.ErrorIs(t, err, ErrUsage)
}

// In a plain python3.X, peers.py reports the mode unavailable and why.
func TestSubinterpInterpretersNeedsTheRuntime(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writePyFiles(dir))
	rep := runPeer(t.Context(), peerCmd{python: testPython(t), dir: dir}, ModeSubinterpInterpreters,
		plan{Workers: []int{1}, Repeat: 1, Workloads: []planWorkload{{Name: "tiny", Tasks: 8}}}, progress{})
	assert.Contains(t, rep.unavailable, "exists only inside subinterp's embedded runtime")
	assert.Empty(t, rep.results)

	_, err := selfPeerCmd(nil, dir)
	require.ErrorIs(t, err, errNoSelfPeer)
}

// The subinterp-interpreters mode end to end: peers.py in this binary's
// runtime drives subinterp.interpreters.InterpreterPoolExecutor; its rows
// agree with the sequential baseline, and start-up and round trips are
// measured. Without Options.SelfPeer the mode is unavailable, with why.
func TestRunSubinterpInterpreters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small benchmark (several seconds)")
	}
	opts := Options{Quick: true, Workloads: []string{"tiny", "transfer"}, Modes: []string{ModeSubinterpInterpreters},
		Workers: []int{1, 2}, Repeat: 1, Python: testPython(t), SelfPeer: []string{os.Args[0], testPeerFlag}}
	rep, err := Run(t.Context(), testRuntime, opts)
	require.NoError(t, err)
	require.Empty(t, rep.Unavailable)
	require.Len(t, rep.Results, 2*2)
	for _, r := range rep.Results {
		name := fmt.Sprintf("%s/%s/%d", r.Workload, r.Mode, r.Workers)
		assert.Equal(t, ModeSubinterpInterpreters, r.Mode, name)
		require.Empty(t, r.Error, name) // a wrong digest is an error here
		assert.Positive(t, r.WallSeconds.Median, name)
		assert.NotEmpty(t, r.Checksum, name)
	}
	require.Len(t, rep.Startup, 1)
	assert.Empty(t, rep.Startup[0].Error)
	assert.Positive(t, rep.Startup[0].MsPerWorker)
	got := map[string]int{}
	for _, r := range rep.Roundtrip {
		assert.Empty(t, r.Error, r.Mode)
		got[r.Mode]++
	}
	assert.Equal(t, map[string]int{ModeSubinterpInterpreters: 2, ModeMultiprocessingPipe: 2}, got)

	opts.SelfPeer = nil
	opts.Workloads, opts.Workers = []string{"tiny"}, []int{1}
	rep, err = Run(t.Context(), testRuntime, opts)
	require.NoError(t, err)
	require.Len(t, rep.Unavailable, 1)
	assert.Equal(t, ModeSubinterpInterpreters, rep.Unavailable[0].Mode)
	assert.Contains(t, rep.Unavailable[0].Reason, errNoSelfPeer.Error())
}

// The drop-in executor's goal is judged against CPython's own executor
// only, which cpython-interpreters is from 3.14 on.
func TestSubinterpInterpretersGoal(t *testing.T) {
	tiny := func(mode string, seconds float64) Result {
		return Result{Workload: "tiny", Mode: mode, Workers: 2, Tasks: 1000, WallSeconds: Stats{Median: seconds}}
	}
	cases := []struct {
		python       string
		ours, theirs float64
		known, met   bool
	}{
		{"3.13.15", 0.005, 0.1, false, false},
		{"3.14.1", 0.005, 0.1, true, true},
		{"3.14.1", 0.02, 0.1, true, false},
		{"3.15.0a2", 0.001, 0.1, true, true},
	}
	for _, c := range cases {
		rep := &Report{Python: c.python, Workers: []int{1, 2},
			Results: []Result{tiny(ModeSubinterpInterpreters, c.ours), tiny(ModeCPythonInterpreters, c.theirs)}}
		g := tinyGoal(rep, ModeSubinterpInterpreters, ModeCPythonInterpreters, 10)
		assert.Equal(t, c.known, g.Known, "%s %v", c.python, c.ours)
		assert.Equal(t, c.met, g.Met, "%s %v", c.python, c.ours)
		assert.Contains(t, g.Name, ModeSubinterpInterpreters)
	}
}
