package cpython_test

import (
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// reportLatency times each op and reports median and p99 in µs.
func reportLatency(b *testing.B, op func() error) {
	b.Helper()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	reportMedianP99(b, samples)
}

// reportMedianP99 sorts samples and reports their median and p99 in µs.
func reportMedianP99(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds())/1e3, "median-µs")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkHandoff: an empty task on the pinned thread, GIL taken and
// released: the cost of the handoff itself.
func BenchmarkHandoff(b *testing.B) {
	in := newInterp(b)
	reportLatency(b, func() error { return in.NoopForTest(bg) })
}

// BenchmarkCallIdentity: Call of an identity function on a warm interpreter.
func BenchmarkCallIdentity(b *testing.B) {
	in := newInterp(b)
	require.NoError(b, in.Exec(bg, "def ident(x):\n    return x"))
	reportLatency(b, func() error { _, err := in.Call(bg, "ident", 1); return err })
}

// BenchmarkCallIdentityAfterLongTasks: Call of an identity function right
// after three tasks of a millisecond each, as a service sees it when a
// short request follows long ones (and as `subinterp bench` measures its
// round trips after the CPU kernels). The waits for the long tasks run out
// of spin and park. ns/op counts them; the metrics are of the short calls
// only: the median and p99 of every one, and
// the median of the first short call after the long tasks ("first"): each
// side's wake-up of the other used to outlast the other's spin, and the
// first five calls paid for it (handoff.AfterWakeBudget).
func BenchmarkCallIdentityAfterLongTasks(b *testing.B) {
	in := newInterp(b)
	require.NoError(b, in.Exec(bg, `
import time
def ident(x):
    return x
def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
`))
	const shortCalls = 50
	samples := make([]time.Duration, 0, b.N)
	var first []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%shortCalls == 0 {
			// Not between StopTimer and StartTimer: StartTimer reads the
			// memory statistics, which stops the world, and the spinning
			// threads with it.
			for range 3 {
				if _, err := in.Call(bg, "busy", 0.001); err != nil {
					b.Fatal(err)
				}
			}
		}
		start := time.Now()
		if _, err := in.Call(bg, "ident", 1); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		if i%shortCalls == 0 {
			first = append(first, samples[len(samples)-1])
		}
	}
	b.StopTimer()
	reportMedianP99(b, samples)
	slices.Sort(first)
	b.ReportMetric(float64(first[len(first)/2].Nanoseconds())/1e3, "first-median-µs")
}

// BenchmarkEval: a trivial expression, the same every time (compiled once:
// the code cache).
func BenchmarkEval(b *testing.B) {
	in := newInterp(b)
	reportLatency(b, func() error { _, err := in.Eval(bg, "1"); return err })
}

// BenchmarkEvalUncached: a trivial expression that differs every time, so
// each call compiles it.
func BenchmarkEvalUncached(b *testing.B) {
	in := newInterp(b)
	i := 0
	reportLatency(b, func() error {
		i++
		_, err := in.Eval(bg, strconv.Itoa(i))
		return err
	})
}

// BenchmarkCreateClose: create and close an isolated interpreter.
func BenchmarkCreateClose(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  cpython.Config
	}{{"isolated", cpython.IsolatedConfig()}, {"legacy", cpython.LegacyConfig()}} {
		b.Run(c.name, func(b *testing.B) {
			reportLatency(b, func() error {
				in, err := rt.NewInterpreter(c.cfg)
				if err != nil {
					return err
				}
				return in.Close()
			})
		})
	}
}

// BenchmarkCreateCloseVsCPython: NewInterpreter(IsolatedConfig())+Close
// against CPython's own _interpreters.create()+destroy() run in this
// process's main interpreter (same CPython, same site setting, same
// memory state), alternating round by round so that the machine's load
// moves both alike. CPython's side is timed in Python, around the two
// calls only. Reports both medians and their ratio (ours ÷ CPython's).
func BenchmarkCreateCloseVsCPython(b *testing.B) {
	main := rt.Main()
	require.NoError(b, main.Exec(bg, `
import _interpreters, time
def _bench_create_destroy():
    t = time.perf_counter_ns()
    _interpreters.destroy(_interpreters.create())
    return time.perf_counter_ns() - t
`))
	const rounds = 30
	var ours, theirs []time.Duration
	b.ResetTimer()
	for i := range rounds + 2 {
		t0 := time.Now()
		in, err := rt.NewInterpreter(cpython.IsolatedConfig())
		require.NoError(b, err)
		require.NoError(b, in.Close())
		d := time.Since(t0)
		ns, err := cpython.CallAs[int64](bg, main, "_bench_create_destroy")
		require.NoError(b, err)
		if i >= 2 { // warm-up rounds
			ours = append(ours, d)
			theirs = append(theirs, time.Duration(ns))
		}
	}
	b.StopTimer()
	sort.Slice(ours, func(i, j int) bool { return ours[i] < ours[j] })
	sort.Slice(theirs, func(i, j int) bool { return theirs[i] < theirs[j] })
	mo, mt := ours[len(ours)/2], theirs[len(theirs)/2]
	b.ReportMetric(float64(mo.Microseconds())/1e3, "ours-ms")
	b.ReportMetric(float64(mt.Microseconds())/1e3, "cpython-ms")
	b.ReportMetric(float64(mo)/float64(mt), "ratio")
}

// BenchmarkHostCall: Python code calling a Go host function 1,000 times in
// a loop, per call (the function runs on a worker goroutine; see
// cpython/hostcall.go).
func BenchmarkHostCall(b *testing.B) {
	if err := rt.RegisterFunc("bench_noop", func(x int) int { return x }); err != nil {
		b.Fatal(err)
	}
	in := newInterp(b)
	require.NoError(b, in.Exec(bg, "import subinterp\nf = subinterp.host.bench_noop\ndef loop():\n    for i in range(1000): f(i)"))
	b.ResetTimer()
	for b.Loop() {
		if _, err := in.Call(bg, "loop"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000/1e3, "µs/host-call")
}

// benchDoc is a typical request: a struct with a nested slice of structs,
// a map and a time.
type benchDoc struct {
	ID    int64             `json:"id"`
	User  string            `json:"user"`
	Lines []benchDocLine    `json:"lines"`
	Meta  map[string]string `json:"meta"`
	Due   time.Time         `json:"due"`
}

type benchDocLine struct {
	SKU string  `json:"sku"`
	Qty int     `json:"qty"`
	Px  float64 `json:"px"`
}

// BenchmarkCallStructs: the same round trip of a request through an
// identity function three ways: a hand-built channel.Dict in and the
// canonical result out (what the API offered before structs), a struct in
// and the canonical result out, and a struct in and CallAs back into the
// struct.
func BenchmarkCallStructs(b *testing.B) {
	in := newInterp(b)
	require.NoError(b, in.Exec(bg, "def ident(x):\n    return x"))
	doc := benchDoc{ID: 7, User: "ann", Lines: []benchDocLine{{"a", 1, 2.5}, {"b", 2, 1}, {"c", 3, 9.75}},
		Meta: map[string]string{"src": "web"}, Due: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	asDict, err := channel.Normalize(doc)
	require.NoError(b, err)
	b.Run("dict-in", func(b *testing.B) {
		reportLatency(b, func() error { _, err := in.Call(bg, "ident", asDict); return err })
	})
	b.Run("struct-in", func(b *testing.B) {
		reportLatency(b, func() error { _, err := in.Call(bg, "ident", doc); return err })
	})
	b.Run("struct-in-CallAs-out", func(b *testing.B) {
		reportLatency(b, func() error { _, err := cpython.CallAs[benchDoc](bg, in, "ident", doc); return err })
	})
}

// firstCallsPy is a CPU kernel of about a millisecond (float arithmetic
// and a loop, like the bench's nbody), defined fresh in each interpreter.
const firstCallsPy = `
def kernel(n):
    x, y, vx, vy = 1.0, 0.0, 0.0, 1.0
    for _ in range(n):
        r3 = (x * x + y * y) ** 1.5
        vx -= x / r3 * 0.001
        vy -= y / r3 * 0.001
        x += vx * 0.001
        y += vy * 0.001
    return x + y
`

// BenchmarkFirstCalls: the latency of the first calls of a CPU kernel in
// a fresh interpreter, against the same calls once it has run 200 times:
// what a fresh interpreter pays before CPython's adaptive interpreter has
// specialised the code. NewInterpreter: a new interpreter, then the kernel
// defined; pool-replacement: a pool of one that renews its interpreter
// every 240 tasks, with a spare, so each round's calls run in the
// replacement (the kernel comes from the prelude). Reports call 1, the
// median of calls 2-10 and of 11-40, and the warm median, each in ms (10
// rounds: fresh interpreters).
func BenchmarkFirstCalls(b *testing.B) {
	const rounds, calls, n = 10, 240, 4000
	report := func(b *testing.B, runs [][]time.Duration) {
		var first, early, later, warm []time.Duration
		for _, ds := range runs {
			first = append(first, ds[0])
			early = append(early, ds[1:10]...)
			later = append(later, ds[10:40]...)
			warm = append(warm, ds[200:]...)
		}
		for _, m := range []struct {
			name string
			ds   []time.Duration
		}{{"call1-ms", first}, {"calls2-10-ms", early}, {"calls11-40-ms", later}, {"warm-ms", warm}} {
			sort.Slice(m.ds, func(i, j int) bool { return m.ds[i] < m.ds[j] })
			b.ReportMetric(float64(m.ds[len(m.ds)/2].Microseconds())/1e3, m.name)
		}
	}
	timeCalls := func(b *testing.B, call func() error) []time.Duration {
		ds := make([]time.Duration, 0, calls)
		for range calls {
			t0 := time.Now()
			require.NoError(b, call())
			ds = append(ds, time.Since(t0))
		}
		return ds
	}
	b.Run("NewInterpreter", func(b *testing.B) {
		var runs [][]time.Duration
		for range rounds {
			in, err := rt.NewInterpreter(cpython.IsolatedConfig())
			require.NoError(b, err)
			require.NoError(b, in.Exec(bg, firstCallsPy))
			runs = append(runs, timeCalls(b, func() error { _, err := in.Call(bg, "kernel", n); return err }))
			require.NoError(b, in.Close())
		}
		report(b, runs)
	})
	b.Run("pool-replacement", func(b *testing.B) {
		p := newPool(b, cpython.PoolOptions{Size: 1, Spares: 1, MaxTasksPerInterpreter: calls, Prelude: poolPrelude + firstCallsPy})
		// The first interpreter is NewPool's; every later round runs in a
		// replacement.
		timeCalls(b, func() error { _, err := p.Call(bg, "kernel", n); return err })
		var runs [][]time.Duration
		for range rounds {
			waitSpares(b, p, 1)
			runs = append(runs, timeCalls(b, func() error { _, err := p.Call(bg, "kernel", n); return err }))
		}
		require.Equal(b, uint64(rounds+1), p.Stats().Replaced)
		report(b, runs)
	})
}
