package cpython_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// PEP 734 (subinterp.interpreters) from Python code: the Python side times
// each operation with time.perf_counter_ns, Go reports median and p99.
// Run: go test ./cpython -run '^$' -bench PEP734 -benchtime 20x
// BenchmarkPEP734CPythonPeer runs the same operations with CPython's own
// concurrent.interpreters (3.14+: run the benchmarks in the sid chroot,
// scripts/sid-chroot.sh run --python 3.14 -- go test ...), so one run has
// both.

const pep734Prelude = `
import time
from subinterp import interpreters
target = interpreters.create()
target.exec("def ident(x):\n    return x\ndef echo(q1, q2, n):\n    for _ in range(n):\n        q2.put(q1.get())\n")
def ident(x):
    return x
def echo(q1, q2, n):
    for _ in range(n):
        q2.put(q1.get())

def bench_call(n):
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        target.call(ident, i)
        out.append(time.perf_counter_ns() - t0)
    return out

def bench_queue(n):
    q1, q2 = interpreters.create_queue(), interpreters.create_queue()
    t = target.call_in_thread(echo, q1, q2, n)
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        q1.put(i)
        q2.get()
        out.append(time.perf_counter_ns() - t0)
    t.join()
    return out

def bench_executor(n, workers):
    ex = interpreters.InterpreterPoolExecutor(workers)
    list(ex.map(abs, range(workers * 4)))  # start the workers
    t0 = time.perf_counter_ns()
    futs = [ex.submit(abs, -i) for i in range(n)]
    for f in futs:
        f.result()
    per_task = (time.perf_counter_ns() - t0) / n
    ex.shutdown()
    return [per_task]
`

// benchPEP734 runs the Python function fn(1000, extra...) b.N times and
// reports the median and p99 of its samples in µs.
func benchPEP734(b *testing.B, call string) {
	in := newInterp(b)
	require.NoError(b, in.Exec(bg, pep734Prelude))
	var samples []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := in.Eval(bg, call)
		require.NoError(b, err)
		for _, s := range v.([]any) {
			switch x := s.(type) {
			case int64:
				samples = append(samples, float64(x))
			case float64:
				samples = append(samples, x)
			}
		}
	}
	b.StopTimer()
	require.NoError(b, in.Exec(bg, "target.close()"))
	sort.Float64s(samples)
	b.ReportMetric(samples[len(samples)/2]/1e3, "median-µs")
	b.ReportMetric(samples[len(samples)*99/100]/1e3, "p99-µs")
}

// BenchmarkPEP734Call: Interpreter.call() of a one-line function in another
// interpreter (argument and result shared, the function pickled by name).
func BenchmarkPEP734Call(b *testing.B) { benchPEP734(b, "bench_call(1000)") }

// BenchmarkPEP734QueuePingPong: Queue.put + Queue.get round trip between
// two interpreters (the other echoes from one queue to another).
func BenchmarkPEP734QueuePingPong(b *testing.B) { benchPEP734(b, "bench_queue(1000)") }

// BenchmarkPEP734Executor: InterpreterPoolExecutor's cost per task for
// 2,000 tiny tasks (abs) submitted at once to warm workers: wall time / tasks.
func BenchmarkPEP734Executor(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchPEP734(b, fmt.Sprintf("bench_executor(2000, %d)", workers))
		})
	}
}

// BenchmarkPEP734CPythonPeer: bench/py/pep734_peer.py, the same call(),
// Queue ping-pong and executor measurements with CPython's own
// concurrent.interpreters, in the python3.X of the build we link (skipped
// before 3.14, which has no concurrent.interpreters). Each iteration runs
// the script once; the metrics are the medians over iterations of its
// figures (µs).
func BenchmarkPEP734CPythonPeer(b *testing.B) {
	if v := rt.Version(); !atLeast(v, 3, 14) {
		b.Skipf("CPython %s has no concurrent.interpreters (3.14+)", v)
	}
	python := pythonBinary(b)
	figures := map[string][]float64{}
	for b.Loop() {
		out, err := exec.Command(python, "../bench/py/pep734_peer.py").Output()
		require.NoError(b, err)
		var run map[string]float64
		require.NoError(b, json.Unmarshal(out, &run))
		for k, v := range run {
			figures[k] = append(figures[k], v)
		}
	}
	for k, vs := range figures {
		sort.Float64s(vs)
		unit := strings.TrimSuffix(strings.Replace(k, "_us", "-µs", 1), "_per_task")
		if strings.HasSuffix(k, "_per_task") {
			unit += "/task"
		}
		b.ReportMetric(vs[len(vs)/2], unit)
	}
}

// atLeast reports whether version ("3.14.1") is major.minor or newer.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || (ma == major && mi >= minor))
}
