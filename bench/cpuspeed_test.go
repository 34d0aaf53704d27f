package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCPUSpread(t *testing.T) {
	for _, tc := range []struct {
		name             string
		speeds           []CPUSpeed
		spread           float64
		fastest, slowest int
	}{
		{"none", nil, 0, 0, 0},
		{"one CPU", []CPUSpeed{{CPU: 3, NsPerLoad: 5}}, 0, 0, 0},
		{"equal", []CPUSpeed{{0, 5}, {1, 5}}, 0, 0, 0},
		{"second slower", []CPUSpeed{{0, 5}, {1, 7.5}}, 0.5, 0, 1},
		{"first slower", []CPUSpeed{{0, 6}, {1, 5}, {2, 5.5}}, 0.2, 1, 0},
		{"zero reading", []CPUSpeed{{0, 0}, {1, 5}}, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spread, fastest, slowest := CPUSpread(tc.speeds)
			assert.InDelta(t, tc.spread, spread, 1e-9)
			assert.Equal(t, tc.fastest, fastest.CPU)
			assert.Equal(t, tc.slowest, slowest.CPU)
		})
	}
}

func TestCPUSpeedsWarning(t *testing.T) {
	assert.Empty(t, CPUSpeedsWarning([]CPUSpeed{{0, 5}, {1, 5.4}}), "8% is within MaxCPUSpread")
	w := CPUSpeedsWarning([]CPUSpeed{{0, 5}, {1, 7.45}})
	assert.Contains(t, w, "CPU 1 ran a memory probe 49% slower than CPU 0 (7.45 against 5.00 ns per load)")
	assert.Contains(t, w, "run them alone on one CPU with taskset -c 0")
	assert.Equal(t, "cpu0 5.00, cpu1 7.45 ns/load", FormatCPUSpeeds([]CPUSpeed{{0, 5}, {1, 7.45}}))
}

// assertNoThreadPinned checks that every thread of this process may run on
// allowed again, after the probe named by after.
func assertNoThreadPinned(t *testing.T, allowed unix.CPUSet, after string) {
	t.Helper()
	for tid, set := range threadAffinities(t) {
		assert.Equal(t, allowed, set, "thread %d's affinity after %s", tid, after)
	}
}

// threadAffinities reads the CPU affinity of every thread of this process.
func threadAffinities(t *testing.T) map[int]unix.CPUSet {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	sets := map[int]unix.CPUSet{}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		require.NoError(t, err)
		var set unix.CPUSet
		if unix.SchedGetaffinity(tid, &set) == nil { // the thread may have ended
			sets[tid] = set
		}
	}
	return sets
}

// The probe measures every CPU the process may use, and leaves no thread
// pinned to one of them.
func TestProbeCPUSpeeds(t *testing.T) {
	var allowed unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &allowed))
	speeds, err := ProbeCPUSpeeds(context.Background())
	require.NoError(t, err)
	require.Len(t, speeds, allowed.Count())
	for _, s := range speeds {
		assert.True(t, allowed.IsSet(s.CPU), "cpu %d is one this process may use", s.CPU)
		assert.Positive(t, s.NsPerLoad, "cpu %d", s.CPU)
	}
	assertNoThreadPinned(t, allowed, "the probe")
}

func TestProbeCPUSpeedsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	speeds, err := ProbeCPUSpeeds(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, speeds)
	var allowed unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &allowed))
	assertNoThreadPinned(t, allowed, "a cancelled probe")
}

func TestRenderersWarnWhenTheCPUsDiffer(t *testing.T) {
	r := syntheticReport()
	r.CPUSpeeds = []CPUSpeedSample{
		{When: "start", Speeds: []CPUSpeed{{0, 5}, {1, 5.2}}},
		{When: "end", Speeds: []CPUSpeed{{0, 5}, {1, 7.45}}},
	}
	var equal, unequal, md bytes.Buffer
	require.NoError(t, WriteTable(&equal, r))
	assert.NotContains(t, equal.String(), "warning")
	r.CPUsUnequal = true
	require.NoError(t, WriteTable(&unequal, r))
	assert.Contains(t, unequal.String(), "\nwarning: at the end of the run, CPU 1 ran a memory probe 49% slower than CPU 0")
	require.NoError(t, WriteMarkdown(&md, r, ""))
	assert.Contains(t, md.String(), "> **Warning:** at the end of the run, CPU 1 ran a memory probe 49% slower")
	assert.Contains(t, md.String(), "CPU speeds at the start (memory probe, lower is faster): cpu0 5.00, cpu1 5.20 ns/load.")
}

// The cross-CPU probe measures a round trip between two CPUs and leaves
// every thread's affinity as it was; it refuses one CPU twice and stops
// when its context is cancelled.
func TestProbeCrossCPU(t *testing.T) {
	var allowed unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &allowed))
	if allowed.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	cross, err := ProbeCrossCPU(context.Background())
	if errors.Is(err, errCrossGaveUp) {
		t.Skipf("the host did not run both CPUs at once for %v: %v", crossGiveUp, err)
	}
	require.NoError(t, err)
	assert.Positive(t, cross.RoundTripNs)
	assert.True(t, allowed.IsSet(cross.A) && allowed.IsSet(cross.B) && cross.A != cross.B, "%+v", cross)
	assertNoThreadPinned(t, allowed, "the probe")

	_, err = probeCrossCPU(context.Background(), cross.A, cross.A)
	assert.ErrorContains(t, err, "needs two different CPUs")

	// A side that cannot be pinned (no such CPU): neither side spins, and
	// the other one's affinity is restored.
	_, err = probeCrossCPU(context.Background(), cross.A, 1023)
	assert.ErrorContains(t, err, "cross-cpu probe: pinning a thread to CPU 1023: ")
	assert.NotErrorIs(t, err, errCrossGaveUp)
	assertNoThreadPinned(t, allowed, "a failed probe")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ProbeCrossCPU(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assertNoThreadPinned(t, allowed, "a cancelled probe")
}
