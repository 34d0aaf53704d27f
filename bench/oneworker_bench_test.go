package bench

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// BenchmarkOneWorkerVsSequential: bench --quick's CPU kernels, 8 tasks of
// the quick size at a time, run by a pool of one own-GIL interpreter and,
// alternating batch by batch, by this process's main interpreter calling
// workloads.task in a loop (sequential, in the same libpython: bench's
// sequential mode runs in python3.X, which Debian builds differently; see
// docs/benchmarks.md). Alternating makes the machine's load fall on both
// alike. Reports, per kernel, the median wall time of the worker's batches
// over the main interpreter's (1 = level, above 1 = the worker is slower)
// and their geometric mean.
func BenchmarkOneWorkerVsSequential(b *testing.B) {
	const batches, tasks = 7, 8
	ctx := b.Context()
	dir := b.TempDir()
	require.NoError(b, writePyFiles(dir))
	meta, err := loadWorkloads(ctx, testRuntime, dir, true)
	require.NoError(b, err)
	pool, err := newPool(testRuntime, ModeOwnGIL, cpython.IsolatedConfig(), dir, 1)
	require.NoError(b, err)
	defer closePool(pool)
	main := testRuntime.Main()
	require.NoError(b, main.Exec(ctx, prelude(dir)+`
def _si_bench_batch(name, size, count):
    return [workloads.task(name, size, i) for i in range(count)]
`))
	kernels := []string{"nbody", "spectral_norm", "fannkuch", "json", "regex"}
	logSum := 0.0
	b.ResetTimer()
	for _, name := range kernels {
		w := planWorkload{Name: name, Size: meta[name].size, Tasks: tasks}
		var worker, seq []float64
		for i := range batches + 1 {
			_, d, err := runTasks(ctx, pool, 1, w)
			require.NoError(b, err)
			t0 := time.Now()
			_, err = main.Call(ctx, "_si_bench_batch", name, w.Size, tasks)
			require.NoError(b, err)
			if i > 0 { // the first batch of each warms both up
				worker = append(worker, d.Seconds())
				seq = append(seq, time.Since(t0).Seconds())
			}
		}
		slices.Sort(worker)
		slices.Sort(seq)
		ratio := worker[len(worker)/2] / seq[len(seq)/2]
		logSum += math.Log(ratio)
		b.ReportMetric(ratio, name+"-ratio")
	}
	b.ReportMetric(math.Exp(logSum/float64(len(kernels))), "geomean-ratio")
}
