package bench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerCounts(t *testing.T) {
	assert.Equal(t, []int{1}, WorkerCounts(1))
	assert.Equal(t, []int{1, 2}, WorkerCounts(2))
	assert.Equal(t, []int{1, 2, 3}, WorkerCounts(3))
	assert.Equal(t, []int{1, 2, 4, 8}, WorkerCounts(8))
	assert.Equal(t, []int{1, 2, 4, 8, 12}, WorkerCounts(12))
}

func TestParallelRows(t *testing.T) {
	s := time.Second
	runners := []modeRunner{{mode: ParallelOwnGIL}}
	walls := [][][]time.Duration{{{s, s, s}, {s, 2 * s, s}}}
	rows := parallelRows(runners, []int{1, 2}, walls)
	require.Len(t, rows, 2)
	assert.Equal(t, ParallelResult{Mode: ParallelOwnGIL, Workers: 1, WallS: 1, Speedup: 1, PerCore: 1}, rows[0])
	assert.Equal(t, 2, rows[1].Workers)
	assert.InDelta(t, 2.0, rows[1].Speedup, 1e-9, "two units in the time of one")
	assert.True(t, rows[1].Noisy, "one run took twice as long as another")
}

// TestCheckPair runs doctor's check with a small unit of work: whatever
// the speedup on a busy machine, it is measured from real timings, and the
// tries stop at the first good one.
func TestCheckPair(t *testing.T) {
	for _, mode := range []string{ParallelOwnGIL, ParallelSharedGIL} {
		t.Run(mode, func(t *testing.T) {
			var seen int
			p, err := CheckPair(t.Context(), testRuntime, mode, 5000, 3, func(alone, together time.Duration, speedup float64) {
				seen++
				assert.Positive(t, alone)
				assert.Positive(t, together)
				assert.InDelta(t, 2*alone.Seconds()/together.Seconds(), speedup, 1e-9)
			})
			require.NoError(t, err)
			assert.Equal(t, p.Tries, seen)
			assert.Positive(t, p.Speedup)
			assert.InDelta(t, 2*p.Alone.Seconds()/p.Together.Seconds(), p.Speedup, 1e-9)
			// The baseline is timed before and after the pair.
			require.Positive(t, p.AloneBefore)
			require.Positive(t, p.AloneAfter)
			assert.Equal(t, (p.AloneBefore+p.AloneAfter)/2, p.Alone)
			assert.InDelta(t, p.AloneAfter.Seconds()/p.AloneBefore.Seconds()-1, p.BaselineDrift, 1e-9)
			assert.Equal(t, math.Abs(p.BaselineDrift) > MaxBaselineDrift, p.BaselineMoved)
			if p.Tries < 3 {
				assert.GreaterOrEqual(t, p.Speedup, MinPairSpeedup, "tries stop early only on success")
			}
		})
	}
	_, err := CheckPair(t.Context(), testRuntime, "gevent", 5000, 1, nil)
	assert.ErrorContains(t, err, `unknown mode "gevent"`)
}
