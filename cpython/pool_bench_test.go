package cpython_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// Run with: go test -run '^$' -bench Pool ./cpython/
//
// BenchmarkPoolCancelLatency and BenchmarkPoolIdleCPU measure once per
// invocation (their ns/op is the whole measurement); read their custom
// metrics.

// percentile returns the q-quantile (0..1) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// BenchmarkPoolCall: Pool.Call of an identity function, one call after the
// other from one goroutine (pool of NumCPU interpreters). The pool's
// overhead over Interpreter.Call is the idle-list take and return.
func BenchmarkPoolCall(b *testing.B) {
	p := newPool(b, cpython.PoolOptions{})
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := p.Call(bg, "ident", 1); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(percentile(samples, 0.5).Nanoseconds())/1e3, "median-µs")
	b.ReportMetric(float64(percentile(samples, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkPoolCallParallel: Pool.Call of an identity function from
// several goroutines at once, each calling back to back, with pools of one
// and of NumCPU interpreters: as many callers as interpreters (nobody
// queues), and GOMAXPROCS callers (what b.RunParallel would start; with
// more callers than interpreters the rest queue, and a queued caller parks
// on a channel until an interpreter comes back). Try -cpu 2,4: with
// GOMAXPROCS == NumCPU the callers spinning for their results hold every
// P, and a pinned thread whose C call returned waits for a P (see the pool
// hand-over notes).
func BenchmarkPoolCallParallel(b *testing.B) {
	for _, size := range []int{1, runtime.NumCPU()} {
		for _, callers := range slices.Compact([]int{size, runtime.GOMAXPROCS(0)}) {
			b.Run(fmt.Sprintf("size=%d/callers=%d", size, callers), func(b *testing.B) {
				p := newPool(b, cpython.PoolOptions{Size: size})
				var left atomic.Int64
				left.Store(int64(b.N))
				errs := make(chan error, callers)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for range callers {
					wg.Go(func() {
						for left.Add(-1) >= 0 {
							if _, err := p.Call(bg, "ident", 1); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
			})
		}
	}
}

// BenchmarkNewPool: time from NewPool to every interpreter ready, by size,
// with no prelude and with `import json`.
func BenchmarkNewPool(b *testing.B) {
	for _, prelude := range []struct{ name, src string }{{"bare", ""}, {"json", "import json"}} {
		for _, size := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/size=%d", prelude.name, size), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: size, Prelude: prelude.src})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := p.Close(bg); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms-ready")
			})
		}
	}
}

// BenchmarkPoolCancelLatency: a `while True: pass` task whose deadline
// passes; the time from the deadline to the call's return, over 50 runs.
func BenchmarkPoolCancelLatency(b *testing.B) {
	p := newPool(b, cpython.PoolOptions{Size: 2})
	const runs = 50
	lat := make([]time.Duration, 0, runs)
	b.ResetTimer()
	for range runs {
		waitFull(b, p) // let the last replacement finish: it competes for CPU
		deadline := time.Now().Add(20 * time.Millisecond)
		ctx, cancel := context.WithDeadline(bg, deadline)
		err := p.Exec(ctx, "while True:\n    pass\n")
		lat = append(lat, time.Since(deadline))
		cancel()
		require.ErrorIs(b, err, context.DeadlineExceeded)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1e3, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1e3, "max-ms")
}

// procCPU returns the process's user+system CPU time from /proc/self/stat
// (clock ticks of 1/100 s, USER_HZ).
func procCPU(tb testing.TB) time.Duration {
	data, err := os.ReadFile("/proc/self/stat")
	require.NoError(tb, err)
	// Fields after the command name (which may contain spaces) start at
	// field 3; utime and stime are fields 14 and 15.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(tb, err)
	stime, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(tb, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func rusageCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPoolIdleCPU: a pool of NumCPU interpreters, busy a moment ago,
// then idle: the process's CPU use over 2 s, in percent of one core. The
// pinned threads spin only briefly after their last task, then park; so do
// the spares' (spares=1), which have never served.
func BenchmarkPoolIdleCPU(b *testing.B) {
	for _, spares := range []int{0, 1} {
		b.Run(fmt.Sprintf("spares=%d", spares), func(b *testing.B) {
			p := newPool(b, cpython.PoolOptions{Spares: spares})
			waitSpares(b, p, spares)
			for range 2000 {
				if _, err := p.Call(bg, "ident", 1); err != nil {
					b.Fatal(err)
				}
			}
			const window = 2 * time.Second
			runtime.GC()
			start, startRU, t0 := procCPU(b), rusageCPU(), time.Now()
			time.Sleep(window)
			used, usedRU, wall := procCPU(b)-start, rusageCPU()-startRU, time.Since(t0)
			b.ReportMetric(100*used.Seconds()/wall.Seconds(), "cpu%-procstat")
			b.ReportMetric(100*usedRU.Seconds()/wall.Seconds(), "cpu%-rusage")
		})
	}
}

// BenchmarkPoolReplacement: how long the caller that comes right after a
// replacement waits, with and without PoolOptions.Spares. A pool of one
// renews its interpreter after every task (MaxTasksPerInterpreter 1); each
// round waits, untimed, until the pool and its spares are ready, then times
// the call that retires the interpreter and the call right after it, which
// without a spare waits for a new interpreter and its prelude. The prelude
// imports json, as a service's would import its libraries.
func BenchmarkPoolReplacement(b *testing.B) {
	for _, spares := range []int{0, 1} {
		b.Run(fmt.Sprintf("spares=%d", spares), func(b *testing.B) {
			p := newPool(b, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: 1, Spares: spares,
				Prelude: poolPrelude + "import json\n"})
			const rounds = 20
			retiring := make([]time.Duration, 0, rounds)
			next := make([]time.Duration, 0, rounds)
			b.ResetTimer()
			for range rounds {
				b.StopTimer()
				waitSpares(b, p, spares)
				b.StartTimer()
				t0 := time.Now()
				if _, err := p.Call(bg, "ident", 1); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := p.Call(bg, "ident", 1); err != nil {
					b.Fatal(err)
				}
				retiring = append(retiring, t1.Sub(t0))
				next = append(next, time.Since(t1))
			}
			b.StopTimer()
			slices.Sort(retiring)
			slices.Sort(next)
			b.ReportMetric(float64(percentile(retiring, 0.5).Microseconds())/1e3, "retiring-call-ms")
			b.ReportMetric(float64(percentile(next, 0.5).Microseconds())/1e3, "next-call-ms")
			b.ReportMetric(float64(next[len(next)-1].Microseconds())/1e3, "next-call-max-ms")
		})
	}
}
