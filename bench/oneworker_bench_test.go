package bench

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// BenchmarkOneWorkerVsSequential: bench --quick's CPU kernels at the
// quick size, run by a pool of one own-GIL interpreter (Pool.Call of
// workloads.task, as bench does) and, alternating task by task, by this
// process's main interpreter (sequential, in the same libpython: bench's
// sequential mode runs in python3.X, which Debian links differently; see
// docs/microbenchmarks.md). Alternating makes the machine's load fall on
// both alike. Reports, per kernel, the median task time in the worker over
// the median in the main interpreter (1 = level, above 1 = the worker is
// slower), and their geometric mean.
func BenchmarkOneWorkerVsSequential(b *testing.B) {
	const tasks = 40
	ctx := b.Context()
	dir := b.TempDir()
	require.NoError(b, writePyFiles(dir))
	meta, err := loadWorkloads(ctx, testRuntime, dir, true)
	require.NoError(b, err)
	pool, err := newPool(testRuntime, ModeOwnGIL, cpython.IsolatedConfig(), dir, 1)
	require.NoError(b, err)
	defer closePool(pool)
	main := testRuntime.Main()
	require.NoError(b, main.Exec(ctx, prelude(dir)))
	kernels := []string{"nbody", "spectral_norm", "fannkuch", "json", "regex"}
	logSum := 0.0
	b.ResetTimer()
	for _, name := range kernels {
		w := planWorkload{Name: name, Size: meta[name].size, Tasks: 1}
		var worker, seq []time.Duration
		for i := range tasks + 2 {
			t0 := time.Now()
			_, err := task(ctx, pool, w, i)
			require.NoError(b, err)
			t1 := time.Now()
			_, err = main.Call(ctx, "workloads.task", name, w.Size, i)
			require.NoError(b, err)
			if i >= 2 { // the first tasks warm both up
				worker = append(worker, t1.Sub(t0))
				seq = append(seq, time.Since(t1))
			}
		}
		slices.Sort(worker)
		slices.Sort(seq)
		ratio := float64(worker[len(worker)/2]) / float64(seq[len(seq)/2])
		logSum += math.Log(ratio)
		b.ReportMetric(ratio, name+"-ratio")
	}
	b.ReportMetric(math.Exp(logSum/float64(len(kernels))), "geomean-ratio")
}
