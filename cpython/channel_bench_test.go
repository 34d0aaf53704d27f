package cpython_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// chanPair makes a channel and releases Go's ends when the benchmark ends.
func chanPair(b *testing.B) (*channel.RecvChannel, *channel.SendChannel) {
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = r.Release(); _ = s.Release() })
	return r, s
}

func reportSamples(b *testing.B, samples []float64, unit string) {
	var sum float64
	for _, v := range samples {
		sum += v
	}
	b.ReportMetric(sum/float64(len(samples)), "mean-"+unit)
	sort.Float64s(samples)
	b.ReportMetric(samples[len(samples)/2], "median-"+unit)
	b.ReportMetric(samples[len(samples)*99/100], "p99-"+unit)
}

// BenchmarkInterpPingPong: a small int goes from interpreter A to B and
// back, both sides blocking in Python; timed per round trip in A.
func BenchmarkInterpPingPong(b *testing.B) {
	for _, mode := range []string{"send", "send_nowait"} {
		b.Run(mode, func(b *testing.B) {
			a, echo := newInterp(b), newInterp(b)
			r1, s1 := chanPair(b)
			r2, s2 := chanPair(b)
			done := make(chan error, 1)
			go func() {
				done <- echo.Exec(bg, fmt.Sprintf("for v in inp:\n    out.%s(v)", mode),
					cpython.WithGlobals(map[string]any{"inp": r1, "out": s2}))
			}()
			b.ResetTimer()
			err := a.Exec(bg, fmt.Sprintf(`import time
samples = []
for i in range(%d):
    t0 = time.perf_counter_ns()
    out.%s(i)
    inp.recv()
    samples.append((time.perf_counter_ns() - t0) / 1000)`, b.N, mode),
				cpython.WithGlobals(map[string]any{"out": s1, "inp": r2}))
			b.StopTimer()
			require.NoError(b, err)
			v, err := a.Eval(bg, "samples")
			require.NoError(b, err)
			require.NoError(b, s1.Close())
			require.NoError(b, <-done)
			var samples []float64
			for _, x := range v.([]any) {
				samples = append(samples, x.(float64))
			}
			reportSamples(b, samples, "µs")
		})
	}
}

// BenchmarkGoPythonGo: Go sends an int, Python echoes it, Go receives it.
func BenchmarkGoPythonGo(b *testing.B) {
	echo := newInterp(b)
	r1, s1 := chanPair(b)
	r2, s2 := chanPair(b)
	done := make(chan error, 1)
	go func() {
		done <- echo.Exec(bg, "for v in inp:\n    out.send(v)", cpython.WithGlobals(map[string]any{"inp": r1, "out": s2}))
	}()
	samples := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := s1.SendNowait(i); err != nil {
			b.Fatal(err)
		}
		if _, err := r2.Recv(bg); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, float64(time.Since(start).Nanoseconds())/1e3)
	}
	b.StopTimer()
	require.NoError(b, s1.Close())
	require.NoError(b, <-done)
	reportSamples(b, samples, "µs")
}

// BenchmarkBytes1MiB: interpreter A sends 1 MiB objects to B, which takes
// each (bytes with send; a read-only memoryview with send_buffer).
func BenchmarkBytes1MiB(b *testing.B) {
	const size = 1 << 20
	for _, mode := range []string{"send", "send_buffer"} {
		b.Run(mode, func(b *testing.B) {
			a, sink := newInterp(b), newInterp(b)
			r, s := chanPair(b)
			done := make(chan error, 1)
			go func() {
				done <- sink.Exec(bg, "n = 0\nfor v in inp:\n    n += len(v)\n    if type(v) is memoryview: v.release()",
					cpython.WithGlobals(map[string]any{"inp": r}))
			}()
			require.NoError(b, a.Exec(bg, fmt.Sprintf("data = bytes(range(256)) * %d", size/256),
				cpython.WithGlobals(map[string]any{"out": s})))
			b.SetBytes(size)
			b.ResetTimer()
			require.NoError(b, a.Exec(bg, fmt.Sprintf("for _ in range(%d):\n    out.%s(data)", b.N, mode)))
			b.StopTimer()
			require.NoError(b, s.Close())
			require.NoError(b, <-done)
			n, err := sink.Eval(bg, "n")
			require.NoError(b, err)
			require.Equal(b, int64(b.N)*size, n)
		})
	}
}
