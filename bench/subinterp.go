package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// workloadMeta is what workloads.py says about one workload.
type workloadMeta struct {
	about    string
	cpuBound bool
	size     int
}

// loadWorkloads imports workloads.py in a throwaway isolated interpreter and
// reads the workloads' descriptions and sizes, so that the Python file is
// the one place they are defined.
func loadWorkloads(ctx context.Context, rt *cpython.Runtime, dir string, quick bool) (map[string]workloadMeta, error) {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer in.Close()
	if err := in.Exec(ctx, prelude(dir)); err != nil {
		return nil, fmt.Errorf("bench: loading workloads.py: %w", err)
	}
	v, err := in.Eval(ctx, `__import__("json").dumps({"workloads": workloads.WORKLOADS, "full": workloads.FULL_SIZES, "quick": workloads.QUICK_SIZES})`)
	if err != nil {
		return nil, fmt.Errorf("bench: reading workloads.py: %w", err)
	}
	s, _ := v.(string)
	var raw struct {
		Workloads map[string]struct {
			About    string `json:"about"`
			CPUBound bool   `json:"cpu_bound"`
		} `json:"workloads"`
		Full  map[string]int `json:"full"`
		Quick map[string]int `json:"quick"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("bench: reading workloads.py: %w", err)
	}
	sizes := raw.Full
	if quick {
		sizes = raw.Quick
	}
	meta := map[string]workloadMeta{}
	for _, name := range Workloads {
		w, ok := raw.Workloads[name]
		size, sized := sizes[name]
		if !ok || !sized {
			return nil, fmt.Errorf("bench: workloads.py does not define workload %q", name)
		}
		meta[name] = workloadMeta{about: w.About, cpuBound: w.CPUBound, size: size}
	}
	return meta, nil
}

// prelude makes workloads.py in dir importable and imports it.
func prelude(dir string) string {
	return "import sys\nsys.path.insert(0, " + strconv.Quote(dir) + ")\nimport workloads\n"
}

// modeConfig is the interpreter configuration of a subinterp mode.
func modeConfig(mode string) cpython.Config {
	if mode == ModeSharedGIL {
		return cpython.LegacyConfig()
	}
	return cpython.IsolatedConfig()
}

// runSubinterp runs plan p in this process with pools of interpreters
// configured for mode.
func runSubinterp(ctx context.Context, rt *cpython.Runtime, mode, dir string, p plan, pr progress, probeCmd []string) modeReport {
	var rep modeReport
	cfg := modeConfig(mode)
	for _, n := range p.Workers {
		rep.results = append(rep.results, runPoolCases(ctx, rt, mode, cfg, dir, n, p, pr, func(ctx context.Context, n int) (float64, error) {
			return runMemoryProbe(ctx, probeCmd, mode, n)
		})...)
		if ctx.Err() != nil {
			return rep
		}
	}
	if p.StartupSamples > 0 {
		rep.startup = append(rep.startup, measureStartup(ctx, rt, mode, cfg, dir, p.StartupSamples))
		rep.startup = append(rep.startup, measureSpareStartup(ctx, rt, mode, cfg, dir, p.StartupSamples))
	}
	if p.Roundtrip != nil {
		rep.roundtrip = measureRoundtrips(ctx, rt, mode, cfg, dir, p.Roundtrip)
	}
	return rep
}

// newPool starts a pool of n interpreters that have imported workloads.py.
func newPool(rt *cpython.Runtime, mode string, cfg cpython.Config, dir string, n int) (*cpython.Pool, error) {
	return cpython.NewPool(rt, cpython.PoolOptions{Name: mode, Size: n, Config: &cfg, Prelude: prelude(dir)})
}

// closePool closes a pool, bounded in time: a task stuck in C must not
// hang the benchmark.
func closePool(pool *cpython.Pool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pool.Close(ctx)
}

// runPoolCases times every workload of p on one pool of n interpreters.
func runPoolCases(ctx context.Context, rt *cpython.Runtime, mode string, cfg cpython.Config, dir string, n int, p plan, pr progress, probe memoryProbe) []Result {
	fail := func(err error) []Result {
		var rows []Result
		for _, w := range p.Workloads {
			rows = append(rows, Result{Workload: w.Name, Mode: mode, Workers: n, Tasks: w.Tasks, Error: err.Error()})
		}
		return rows
	}
	perWorker, probeErr := probe(ctx, n)
	before, rssErr := residentMB(0)
	pool, err := newPool(rt, mode, cfg, dir, n)
	if err != nil {
		return fail(err)
	}
	defer closePool(pool)
	// Warm-up: every interpreter runs tasks before anything is timed.
	if _, _, err := runTasks(ctx, pool, n, planWorkload{Name: "tiny", Tasks: 4 * n}); err != nil {
		return fail(fmt.Errorf("warm-up: %w", err))
	}
	if probeErr != nil {
		// Without a fresh process to measure in, the growth of this one:
		// an underestimate once earlier pools have left freed memory
		// behind, so the progress line says so.
		if !errors.Is(probeErr, errNoMemoryProbe) {
			pr.printf("%s: memory probe failed, measuring in this process instead: %v", mode, probeErr)
		}
		if after, err := residentMB(0); err == nil && rssErr == nil {
			perWorker = round(max(after-before, 0)/float64(n), 2)
		}
	}
	var rows []Result
	for _, w := range p.Workloads {
		row := Result{Workload: w.Name, Mode: mode, Workers: n, Tasks: w.Tasks, RSSMBPerWorker: perWorker}
		var walls []float64
		for range p.Repeat {
			digest, wall, err := runTasks(ctx, pool, n, w)
			if err != nil {
				row.Error = err.Error()
				break
			}
			walls = append(walls, wall.Seconds())
			row.Checksum = digest
		}
		if row.Error == "" {
			row.WallSeconds = summarize(walls)
			row.TasksPerSecond = round(float64(w.Tasks)/row.WallSeconds.Median, 1)
			pr.casesDone(1)
			pr.printf("%s: %s, %d workers: median %.3f s", mode, w.Name, n, row.WallSeconds.Median)
		} else {
			row.Checksum = ""
			pr.casesDone(1)
			pr.printf("%s: %s, %d workers: failed: %s", mode, w.Name, n, row.Error)
		}
		rows = append(rows, row)
		if ctx.Err() != nil {
			break
		}
	}
	return rows
}

// runTasks runs w.Tasks tasks of w on pool from n goroutines (as many as
// the pool has interpreters, like a thread pool's threads) and returns the
// digest of the results in task order, computed as workloads.digest does,
// and the wall time from the first task handed out to the last result.
// Transfer payloads are built before and checked after the timed part, as
// the peers do.
func runTasks(ctx context.Context, pool *cpython.Pool, n int, w planWorkload) (string, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var payloads [][]byte
	echoed := make([][]byte, w.Tasks)
	if w.Name == "transfer" {
		for i := range w.Tasks {
			payloads = append(payloads, payload(w.Size, i))
		}
	}
	results := make([]string, w.Tasks)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	fail := func(i int, err error) { once.Do(func() { firstErr = fmt.Errorf("task %d: %w", i, err); cancel() }) }
	start := time.Now()
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= w.Tasks {
					return
				}
				var err error
				if payloads != nil {
					echoed[i], err = echo(ctx, pool, payloads[i])
				} else {
					results[i], err = task(ctx, pool, w, i)
				}
				if err != nil {
					fail(i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if firstErr != nil {
		return "", 0, firstErr
	}
	for i, got := range echoed[:len(payloads)] {
		if !bytes.Equal(got, payloads[i]) {
			return "", 0, fmt.Errorf("task %d: echo returned %d bytes that differ from the %d sent", i, len(got), len(payloads[i]))
		}
		results[i] = strconv.Itoa(len(got))
	}
	return digest(results), wall, nil
}

// task runs task i of workload w and returns its result string.
func task(ctx context.Context, pool *cpython.Pool, w planWorkload, i int) (string, error) {
	v, err := pool.Call(ctx, "workloads.task", w.Name, w.Size, i)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("task returned %T, not str", v)
	}
	return s, nil
}

// echo sends data to workloads.echo and returns what came back.
func echo(ctx context.Context, pool *cpython.Pool, data []byte) ([]byte, error) {
	v, err := pool.Call(ctx, "workloads.echo", data)
	if err != nil {
		return nil, err
	}
	got, ok := v.([]byte)
	if !ok && len(data) > 0 {
		return nil, fmt.Errorf("echo returned %s, not bytes", describe(v))
	}
	return got, nil
}

// describe names a value's type and, for bytes, its length.
func describe(v any) string {
	if b, ok := v.([]byte); ok {
		return fmt.Sprintf("%d bytes", len(b))
	}
	return fmt.Sprintf("a %T", v)
}

// payload is the transfer payload of task index: byte i is (i+index)%256,
// as workloads.payload builds it.
func payload(size, index int) []byte {
	b := make([]byte, size)
	for i := range min(size, 256) {
		b[i] = byte(i + index)
	}
	// The pattern repeats every 256 bytes: double it by copying, at memory
	// speed, as workloads.payload does with bytes slicing.
	for n := 256; n < size; n *= 2 {
		copy(b[n:], b[:n])
	}
	return b
}

// digest is workloads.digest: the SHA-256 of the results joined by
// newlines.
func digest(results []string) string {
	sum := sha256.Sum256([]byte(strings.Join(results, "\n")))
	return hex.EncodeToString(sum[:])
}

// measureStartup times, samples times, a fresh pool of one interpreter from
// NewPool until its first task has returned.
func measureStartup(ctx context.Context, rt *cpython.Runtime, mode string, cfg cpython.Config, dir string, samples int) Startup {
	// One untimed pool first, as the peers do: one-time costs (the first
	// import of workloads.py compiles it) are not a worker's start-up.
	return timeStartups(Startup{Mode: mode}, samples, func() (time.Duration, error) {
		start := time.Now()
		pool, err := newPool(rt, mode, cfg, dir, 1)
		if err == nil {
			_, err = pool.Call(ctx, "workloads.task", "tiny", 0, 0)
		}
		elapsed := time.Since(start)
		if pool != nil {
			if cerr := closePool(pool); err == nil {
				err = cerr
			}
		}
		return elapsed, err
	})
}

// timeStartups runs once samples + 1 times, the first untimed, and fills in
// st's median in ms, or its Error at the first failure.
func timeStartups(st Startup, samples int, once func() (time.Duration, error)) Startup {
	var ms []float64
	for i := range samples + 1 {
		elapsed, err := once()
		if err != nil {
			st.Error = err.Error()
			return st
		}
		if i > 0 {
			ms = append(ms, float64(elapsed)/float64(time.Millisecond))
		}
	}
	st.MsPerWorker = round(summarize(ms).Median, 2)
	st.Samples = len(ms)
	return st
}

// StartupWithSpares names the worker start-up row of a subinterp mode
// measured with the fast-start option (PoolOptions.Spares).
func StartupWithSpares(mode string) string { return mode + "+spares" }

// spareWait bounds the wait for a pool's spare between samples.
const spareWait = time.Minute

// measureSpareStartup times, samples times, the start-up of a replacement
// worker in a pool with PoolOptions.Spares: the pool (one interpreter,
// renewed after every task, one spare) is asked for a task right after its
// interpreter was retired, and the time until a fresh interpreter has done
// that task is measured. The spare was made in the background before the
// round, as the option makes it: that creation is what it moves off the
// caller's path.
func measureSpareStartup(ctx context.Context, rt *cpython.Runtime, mode string, cfg cpython.Config, dir string, samples int) Startup {
	st := Startup{Mode: StartupWithSpares(mode)}
	pool, err := cpython.NewPool(rt, cpython.PoolOptions{Name: st.Mode, Size: 1, Spares: 1, MaxTasksPerInterpreter: 1, Config: &cfg, Prelude: prelude(dir)})
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer closePool(pool)
	// The first, untimed task runs in an interpreter NewPool made, not a
	// spare.
	return timeStartups(st, samples, func() (time.Duration, error) {
		if err := waitForSpare(ctx, pool); err != nil {
			return 0, err
		}
		start := time.Now()
		_, err := pool.Call(ctx, "workloads.task", "tiny", 0, 0)
		return time.Since(start), err
	})
}

// waitForSpare waits until pool serves at full size with its spare ready
// and nothing left to close, or fails after spareWait.
func waitForSpare(ctx context.Context, pool *cpython.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, spareWait)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s := pool.Stats()
		if s.Spares == 1 && s.Idle == s.Size && s.Retired == 0 {
			return nil
		}
		if s.ReplaceErrors > 0 {
			return fmt.Errorf("creating the spare failed %d time(s)", s.ReplaceErrors)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the pool's spare: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// measureRoundtrips times echo(payload) round trips to a warm one-
// interpreter pool, one at a time, for each payload size.
func measureRoundtrips(ctx context.Context, rt *cpython.Runtime, mode string, cfg cpython.Config, dir string, rp *planRoundtrip) []Roundtrip {
	var out []Roundtrip
	pool, err := newPool(rt, mode, cfg, dir, 1)
	if err != nil {
		for _, size := range rp.Payloads {
			out = append(out, Roundtrip{Mode: mode, PayloadBytes: size, Error: err.Error()})
		}
		return out
	}
	defer closePool(pool)
	for _, size := range rp.Payloads {
		out = append(out, roundtrip(ctx, pool, mode, size, roundtripSamples(rp.Samples, size)))
	}
	return out
}

// roundtripSamples is how many round trips of size bytes to time: fewer
// for bulk payloads, whose every sample takes long.
func roundtripSamples(samples, size int) int {
	if size >= 64<<10 {
		return max(20, samples/20)
	}
	return samples
}

// roundtrip times samples echo round trips of size bytes after a warm-up.
func roundtrip(ctx context.Context, pool *cpython.Pool, mode string, size, samples int) Roundtrip {
	rt := Roundtrip{Mode: mode, PayloadBytes: size}
	data := payload(size, 0)
	warm := min(samples/10+1, 100)
	us := make([]float64, 0, samples)
	for i := range warm + samples {
		start := time.Now()
		v, err := pool.Call(ctx, "workloads.echo", data)
		elapsed := time.Since(start)
		if err == nil {
			if got, ok := v.([]byte); !ok || len(got) != size {
				err = errors.New("echo returned " + describe(v))
			}
		}
		if err != nil {
			rt.Error = err.Error()
			return rt
		}
		if i >= warm {
			us = append(us, float64(elapsed)/float64(time.Microsecond))
		}
	}
	slices.Sort(us)
	rt.Microseconds = round(median(us), 2)
	rt.Samples = len(us)
	rt.GBPerSecond = gbPerSecond(size, rt.Microseconds)
	return rt
}

// gbPerSecond is the payload moved both ways per second, in GB (1e9 B).
func gbPerSecond(size int, us float64) float64 {
	if us <= 0 {
		return 0
	}
	return round(2*float64(size)/(us*1e-6)/1e9, 3)
}
