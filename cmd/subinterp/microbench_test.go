package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	assert.Equal(t, summary{}, summarize(nil))
	ds := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	s := summarize(ds)
	assert.Equal(t, 100, s.N)
	assert.Equal(t, 50500*time.Nanosecond, s.Median)
	assert.Equal(t, 99*time.Microsecond, s.P99)
	assert.Equal(t, 100*time.Microsecond, ds[0], "the input is not reordered")

	assert.Equal(t, 2*time.Second, medianOf([]time.Duration{3 * time.Second, time.Second, 2 * time.Second}))
	assert.Equal(t, summary{Median: 7, P99: 7, N: 1}, summarize([]time.Duration{7}))
}

func TestWorkerCounts(t *testing.T) {
	assert.Equal(t, []int{1}, workerCounts(1))
	assert.Equal(t, []int{1, 2}, workerCounts(2))
	assert.Equal(t, []int{1, 2, 3}, workerCounts(3))
	assert.Equal(t, []int{1, 2, 4, 8}, workerCounts(8))
	assert.Equal(t, []int{1, 2, 4, 8, 12}, workerCounts(12))
}

func TestFmtMicros(t *testing.T) {
	assert.Equal(t, "3.25 µs", fmtMicros(3.25))
	assert.Equal(t, "12.50 ms", fmtMicros(12500))
	assert.Equal(t, "1.50 s", fmtMicros(1.5e6))
}

func TestFindPeersScript(t *testing.T) {
	dir := t.TempDir()
	_, why := findPeersScript(dir, true)
	assert.Contains(t, why, "peers.py not found")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "peers.py"), nil, 0o644))
	path, why := findPeersScript(dir, true)
	assert.Empty(t, why)
	assert.Equal(t, filepath.Join(dir, "peers.py"), path)
}

// TestMicrobenchQuickJSON runs the whole quick benchmark once, with the peers
// script missing so the peers are reported as skipped. It checks the shape
// of the report, never the figures.
func TestMicrobenchQuickJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick benchmark (several seconds)")
	}
	r := runBinary(t, "", "microbench", "--quick", "--json", "--scripts", t.TempDir())
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "peer skipped: ")
	var rep benchReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	assert.True(t, rep.Quick)
	names := map[string]benchResult{}
	for _, res := range rep.Results {
		names[res.Name] = res
		assert.Positive(t, res.MedianUS, res.Name)
		assert.GreaterOrEqual(t, res.P99US, res.MedianUS, res.Name)
	}
	for _, name := range []string{"subinterp-create-close", "subinterp-create-close-nosite", "subinterp-call"} {
		require.Contains(t, names, name)
		assert.False(t, names[name].Peer, name)
	}
	assert.Equal(t, quickSizes.calls, names["subinterp-call"].N)
	assert.NotEmpty(t, rep.Skipped)
	modes := map[string]int{}
	for _, p := range rep.Parallel {
		modes[p.Mode]++
		assert.Positive(t, p.WallS)
	}
	assert.Len(t, modes, 3)
}

// TestMicrobenchPeers runs the peers script itself through bench's runner, if
// this build has its python3.X binary.
func TestMicrobenchPeers(t *testing.T) {
	python := filepath.Join(os.Getenv("SUBINTERP_PYTHON_PREFIX"), "bin", "python"+os.Getenv("SUBINTERP_PYTHON_VERSION"))
	if _, err := os.Stat(python); err != nil || os.Getenv("SUBINTERP_PYTHON_PREFIX") == "" {
		t.Skip("no python binary from scripts/python.sh's environment")
	}
	script, why := findPeersScript("../../scripts/bench", true)
	require.Empty(t, why)
	recs, err := runPeer(t.Context(), python, nil, script, "thread-queue", 50)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "thread-queue", recs[0].Name)
	assert.Equal(t, 50, recs[0].N)
	assert.Positive(t, recs[0].MedianUS)
	assert.True(t, recs[0].Site)

	recs, err = runPeer(t.Context(), python, []string{"-S"}, script, "interp-create", 2)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.False(t, recs[0].Site)

	_, err = runPeer(t.Context(), python, nil, script, "no-such-peer", 1)
	assert.ErrorContains(t, err, "invalid choice")
}
