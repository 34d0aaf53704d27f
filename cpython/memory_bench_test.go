package cpython_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// Memory per interpreter (docs/memory.md). Every case runs in a process of
// its own, so that its resident set starts from the same point and is not
// shared with other benchmarks, and so that it can choose RuntimeOptions
// (the test binary's runtime is initialised once, by TestMain). The child
// is this test binary again, told by memBenchEnv what to run; it reports
// one JSON line. Run them with a fixed count, e.g.
//
//	go test -run '^$' -bench 'Memory' -benchtime 1000x ./cpython/
//
// rss-KB/cycle is the growth of VmRSS over the measured cycles (after a
// warm-up) divided by their number: what each interpreter leaves behind.

// memBenchEnv carries a memSpec (JSON) to a child process.
const memBenchEnv = "SUBINTERP_MEMBENCH"

// memSpec is one measurement, run in a child process.
type memSpec struct {
	// Kind is "churn" (create, Eval "1", close, Cycles times) or "pool"
	// (Cycles tasks on a pool of 2 replacing an interpreter every MaxTasks).
	Kind     string `json:"kind"`
	NoSite   bool   `json:"no_site"`
	Legacy   bool   `json:"legacy"`
	Cycles   int    `json:"cycles"`
	MaxTasks int    `json:"max_tasks"`
}

// memResult is what a child reports.
type memResult struct {
	Version    string  `json:"version"`
	StartKB    int64   `json:"start_kb"`
	EndKB      int64   `json:"end_kb"`
	Cycles     int     `json:"cycles"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system time of the measured part
	Replaced   uint64  `json:"replaced"`
	HeapInuse  uint64  `json:"go_heap_inuse"`
	ThreadsEnd int     `json:"threads"`
}

const memWarmup = 20

func init() {
	// Before TestMain: a child measures and exits without running tests
	// or initialising the shared runtime.
	if spec := os.Getenv(memBenchEnv); spec != "" {
		os.Exit(memChild(spec))
	}
}

func memChild(specJSON string) int {
	var spec memSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "membench:", err)
		return 2
	}
	res, err := memMeasure(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "membench:", err)
		return 1
	}
	out, _ := json.Marshal(res)
	fmt.Printf("MEMBENCH %s\n", out)
	return 0
}

func memMeasure(spec memSpec) (memResult, error) {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: spec.NoSite})
	if err != nil {
		return memResult{}, err
	}
	ctx := context.Background()
	res := memResult{Version: rt.Version(), Cycles: spec.Cycles}
	switch spec.Kind {
	case "churn":
		cfg := cpython.IsolatedConfig()
		if spec.Legacy {
			cfg = cpython.LegacyConfig()
		}
		cycle := func() error {
			in, err := rt.NewInterpreter(cfg)
			if err != nil {
				return err
			}
			if _, err := in.Eval(ctx, "1"); err != nil {
				return err
			}
			return in.Close()
		}
		for i := 0; i < memWarmup; i++ {
			if err := cycle(); err != nil {
				return res, err
			}
		}
		res.StartKB = settledRSS()
		start, cpu := time.Now(), cpuSeconds()
		for i := 0; i < spec.Cycles; i++ {
			if err := cycle(); err != nil {
				return res, err
			}
		}
		res.Seconds, res.CPUSeconds = time.Since(start).Seconds(), cpuSeconds()-cpu
	case "pool":
		if err := memPool(ctx, rt, spec, &res); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("unknown kind %q", spec.Kind)
	}
	res.EndKB = settledRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse = ms.HeapInuse
	res.ThreadsEnd = int(procStatus("Threads:"))
	return res, rt.Finalize()
}

// memPool runs spec.Cycles tasks from two goroutines on a pool of two
// interpreters, each replaced after spec.MaxTasks tasks (0: never).
func memPool(ctx context.Context, rt *cpython.Runtime, spec memSpec, res *memResult) error {
	pool, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 2, MaxTasksPerInterpreter: spec.MaxTasks})
	if err != nil {
		return err
	}
	defer pool.Close(ctx)
	const callers = 2
	run := func(n int) error {
		var left atomic.Int64
		left.Store(int64(n))
		errs := make(chan error, callers)
		var wg sync.WaitGroup
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for left.Add(-1) >= 0 {
					if _, err := pool.Eval(ctx, "1"); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	// Warm-up: with max-tasks 100, twenty replacements.
	if err := run(2000); err != nil {
		return err
	}
	if err := settlePool(pool); err != nil {
		return err
	}
	res.StartKB = settledRSS()
	before := pool.Stats().Replaced
	start, cpu := time.Now(), cpuSeconds()
	if err := run(spec.Cycles); err != nil {
		return err
	}
	res.Seconds, res.CPUSeconds = time.Since(start).Seconds(), cpuSeconds()-cpu
	if err := settlePool(pool); err != nil {
		return err
	}
	res.Replaced = pool.Stats().Replaced - before
	return nil
}

// settlePool waits until no replacement is being created or closed, so the
// RSS read next counts whole interpreters.
func settlePool(p *cpython.Pool) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := p.Stats()
		if st.Starting == 0 && st.Retired == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("pool replacements did not settle within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settledRSS collects Go garbage first, so the figure is CPython's and the
// process's memory rather than a Go heap waiting for collection.
func settledRSS() int64 {
	runtime.GC()
	return procStatus("VmRSS:")
}

// cpuSeconds is the process's user and system time so far: on a shared
// machine a steadier measure of cost than wall-clock throughput.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procStatus reads one numeric field of /proc/self/status (kB for sizes).
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

// skipUnlessNamed skips the memory benchmarks under a catch-all -bench
// (make microbench runs -bench .): they start processes, grow RSS by
// gigabytes on CPython 3.13 and want a fixed -benchtime Nx, so they run
// only when the pattern names them.
func skipUnlessNamed(b *testing.B) {
	b.Helper()
	if f := flag.Lookup("test.bench"); f == nil || !strings.Contains(f.Value.String(), "Memory") {
		b.Skip("memory benchmarks run only by name: -bench Memory -benchtime 1000x")
	}
}

// runMemChild runs spec in a child process and returns its report.
func runMemChild(b *testing.B, spec memSpec) memResult {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	js, _ := json.Marshal(spec)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), memBenchEnv+"="+string(js))
	return runMemCommand(b, cmd)
}

func runMemCommand(b *testing.B, cmd *exec.Cmd) memResult {
	b.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if js, ok := strings.CutPrefix(line, "MEMBENCH "); ok {
			var res memResult
			if err := json.Unmarshal([]byte(js), &res); err != nil {
				b.Fatal(err)
			}
			return res
		}
	}
	b.Fatalf("%v printed no MEMBENCH line:\n%s\n%s", cmd.Args, out, stderr.String())
	return memResult{}
}

func reportMem(b *testing.B, res memResult, unit string) {
	b.Helper()
	b.ReportMetric(float64(res.EndKB-res.StartKB)/float64(res.Cycles), "rss-KB/"+unit)
	b.ReportMetric(float64(res.EndKB)/1024, "rss-MB")
	if res.Seconds > 0 {
		b.ReportMetric(float64(res.Cycles)/res.Seconds, unit+"s/s")
		b.ReportMetric(res.CPUSeconds*1e6/float64(res.Cycles), "cpu-µs/"+unit)
	}
	b.Logf("CPython %s: RSS %d -> %d KB over %d %ss; %d OS threads, Go heap %d KB at the end",
		res.Version, res.StartKB, res.EndKB, res.Cycles, unit, res.ThreadsEnd, res.HeapInuse/1024)
}

// BenchmarkInterpreterMemory: create an interpreter, Eval "1", close it,
// b.N times; rss-KB/cycle is what each interpreter leaves behind.
// cpython-interpreters is CPython's own _interpreters.create()/destroy()
// loop in the same CPython's python binary, for comparison.
func BenchmarkInterpreterMemory(b *testing.B) {
	skipUnlessNamed(b)
	for _, c := range []struct {
		name string
		spec memSpec
	}{
		{"isolated", memSpec{Kind: "churn"}},
		{"isolated-nosite", memSpec{Kind: "churn", NoSite: true}},
		{"legacy-nosite", memSpec{Kind: "churn", NoSite: true, Legacy: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.spec.Cycles = b.N
			reportMem(b, runMemChild(b, c.spec), "cycle")
		})
	}
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"cpython-interpreters", []string{"-I"}},
		{"cpython-interpreters-nosite", []string{"-I", "-S"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			python := pythonBinary(b)
			args := append(c.flags, "-c", pyChurn, strconv.Itoa(b.N), strconv.Itoa(memWarmup))
			reportMem(b, runMemCommand(b, exec.Command(python, args...)), "cycle")
		})
	}
}

// BenchmarkPoolMaxTasksMemory: b.N Eval("1") tasks from 2 goroutines on a
// pool of 2 that replaces an interpreter every max-tasks tasks (0: never).
// rss-KB/replacement is what each replacement left behind.
func BenchmarkPoolMaxTasksMemory(b *testing.B) {
	skipUnlessNamed(b)
	for _, n := range []int{100, 1000, 0} {
		b.Run(fmt.Sprintf("max-tasks=%d", n), func(b *testing.B) {
			res := runMemChild(b, memSpec{Kind: "pool", NoSite: true, MaxTasks: n, Cycles: b.N})
			reportMem(b, res, "task")
			b.ReportMetric(float64(res.Replaced), "replaced")
			if res.Replaced > 0 {
				b.ReportMetric(float64(res.EndKB-res.StartKB)/float64(res.Replaced), "rss-KB/replacement")
			}
		})
	}
}

// pythonBinary is the python of the CPython we link against, as
// scripts/python.sh (or scripts/sid-chroot.sh run --python) names it.
func pythonBinary(b *testing.B) string {
	prefix, version := os.Getenv("SUBINTERP_PYTHON_PREFIX"), os.Getenv("SUBINTERP_PYTHON_VERSION")
	python := filepath.Join(prefix, "bin", "python"+version)
	if prefix == "" || version == "" {
		b.Skip(`SUBINTERP_PYTHON_PREFIX/VERSION not set: eval "$(scripts/python.sh)" first`)
	}
	if _, err := os.Stat(python); err != nil {
		b.Skipf("no python binary: %v", err)
	}
	return python
}

// pyChurn is the same cycle with CPython's own low-level module, reporting
// like memChild. argv: cycles, warm-up cycles.
const pyChurn = `
import gc, json, resource, sys, time, _interpreters
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
def cycle():
    i = _interpreters.create()
    _interpreters.exec(i, '1')
    _interpreters.destroy(i)
n, warm = int(sys.argv[1]), int(sys.argv[2])
for _ in range(warm):
    cycle()
gc.collect()
start_kb = rss()
t, c = time.perf_counter(), cpu()
for _ in range(n):
    cycle()
secs, cpus = time.perf_counter() - t, cpu() - c
gc.collect()
print('MEMBENCH ' + json.dumps({'version': sys.version.split()[0], 'start_kb': start_kb,
      'end_kb': rss(), 'cycles': n, 'seconds': secs, 'cpu_seconds': cpus}))
`
