package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// workPrelude defines, in an interpreter's __main__, the CPU-bound unit of
// work that doctor, demo and bench run, and the runner that splits it over
// Python threads in one interpreter.
const workPrelude = `
def count_primes(n):
    """Count the primes below n by trial division: pure Python, CPU-bound,
    no allocation worth mentioning, no C calls that release the GIL."""
    count = 0
    for i in range(2, n):
        for d in range(2, int(i ** 0.5) + 1):
            if i % d == 0:
                break
        else:
            count += 1
    return count

def run_threads(k, n):
    """Run count_primes(n) in k threading.Thread workers of this one
    interpreter, all sharing its GIL, and wait for them."""
    import threading
    workers = [threading.Thread(target=count_primes, args=(n,)) for _ in range(k)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
`

// defaultWork is the count_primes argument of one unit of work: about
// 0.3-0.5 s of pure Python on the project's 2-core VMs.
const defaultWork = 120_000

// warmWork is the small unit run once before timing, so imports, the
// first call and the interpreter's caches are not timed.
const warmWork = 2_000

// The ways of running CPU-bound Python in parallel that demo and bench
// compare.
const (
	modeOwnGIL    = "own-gil"    // one subinterpreter per worker, each with its own GIL
	modeThreads   = "threads"    // one interpreter, one threading.Thread per worker
	modeSharedGIL = "shared-gil" // one subinterpreter per worker, all on the main GIL
)

// modeAbout describes each mode for tables.
var modeAbout = map[string]string{
	modeOwnGIL:    "subinterpreters, own GIL each",
	modeThreads:   "threads in one interpreter",
	modeSharedGIL: "subinterpreters, shared GIL",
}

// parallelResult is one row of the parallel-speedup table. Every worker
// does the same unit of work, so total work grows with Workers; Speedup is
// the throughput relative to one worker (Workers × wall(1) / wall(k)) and
// PerCore is Speedup divided by the cores the workers can use.
type parallelResult struct {
	Mode    string  `json:"mode"`
	Workers int     `json:"workers"`
	WallS   float64 `json:"wall_s"`
	Speedup float64 `json:"speedup"`
	PerCore float64 `json:"speedup_per_core"`
	// Noisy reports that the slowest run of this case took over
	// noisySpread times the fastest: other processes were probably busy.
	Noisy bool `json:"noisy"`
}

// parallelOptions say what measureParallel runs.
type parallelOptions struct {
	// Work is the count_primes argument of one unit.
	Work int
	// Counts are the worker counts to time; 1 is added if missing.
	Counts []int
	// Repeat is how many rounds are timed; the median of each case counts.
	Repeat int
	// Progress, if set, receives a line of progress now and then.
	Progress func(format string, args ...any)
}

// workerCounts returns 1, 2, 4, ... up to and including maxK.
func workerCounts(maxK int) []int {
	var counts []int
	for k := 1; k < maxK; k *= 2 {
		counts = append(counts, k)
	}
	return append(counts, max(maxK, 1))
}

// newWorkInterps creates k interpreters with cfg and loads workPrelude
// into each, warm (prelude run, one small unit done). closeAll ends them.
func newWorkInterps(ctx context.Context, rt *cpython.Runtime, cfg cpython.Config, k int) (interps []*cpython.Interpreter, closeAll func(), err error) {
	closeAll = func() {
		for _, in := range interps {
			_ = in.Close()
		}
	}
	for range k {
		in, err := rt.NewInterpreter(cfg)
		if err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("creating an interpreter: %w", err)
		}
		interps = append(interps, in)
		if err := in.Exec(ctx, workPrelude); err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("loading the workload: %w", err)
		}
		if _, err := in.Call(ctx, "count_primes", warmWork); err != nil {
			closeAll()
			return nil, func() {}, fmt.Errorf("warming up: %w", err)
		}
	}
	return interps, closeAll, nil
}

// runTogether runs one unit of work in each interpreter at the same moment
// and returns the wall time until the last one finished.
func runTogether(ctx context.Context, interps []*cpython.Interpreter, work int) (time.Duration, error) {
	start := make(chan struct{})
	errs := make([]error, len(interps))
	var ready, done sync.WaitGroup
	for i, in := range interps {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			_, errs[i] = in.Call(ctx, "count_primes", work)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	return wall, errors.Join(errs...)
}

// modeRunner times one unit of work per worker for one mode.
type modeRunner struct {
	mode     string
	timeOnce func(k int) (time.Duration, error)
	close    func()
}

// newModeRunner creates and warms the interpreters mode needs for up to
// maxK workers.
func newModeRunner(ctx context.Context, rt *cpython.Runtime, mode string, maxK, work int) (modeRunner, error) {
	switch mode {
	case modeOwnGIL, modeSharedGIL:
		cfg := cpython.IsolatedConfig()
		if mode == modeSharedGIL {
			cfg = cpython.LegacyConfig()
		}
		interps, closeAll, err := newWorkInterps(ctx, rt, cfg, maxK)
		if err != nil {
			return modeRunner{}, fmt.Errorf("%s: %w", mode, err)
		}
		return modeRunner{
			mode:     mode,
			timeOnce: func(k int) (time.Duration, error) { return runTogether(ctx, interps[:k], work) },
			close:    closeAll,
		}, nil
	case modeThreads:
		interps, closeAll, err := newWorkInterps(ctx, rt, cpython.IsolatedConfig(), 1)
		if err != nil {
			return modeRunner{}, fmt.Errorf("%s: %w", mode, err)
		}
		in := interps[0]
		if _, err := in.Call(ctx, "run_threads", 1, warmWork); err != nil {
			closeAll()
			return modeRunner{}, fmt.Errorf("%s: warming up: %w", mode, err)
		}
		return modeRunner{
			mode: mode,
			timeOnce: func(k int) (time.Duration, error) {
				t0 := time.Now()
				_, err := in.Call(ctx, "run_threads", k, work)
				return time.Since(t0), err
			},
			close: closeAll,
		}, nil
	default:
		return modeRunner{}, fmt.Errorf("unknown mode %q", mode)
	}
}

// noisySpread is the ratio of slowest to fastest run of one case above
// which its timings are flagged as noisy.
const noisySpread = 1.5

// measureParallel times every mode with every worker count of o and
// returns one row per mode and count. Interpreters for all modes are
// created and warmed before any timing. The runs are interleaved (each
// round times every mode and count once) so that load from other
// processes, which comes and goes, skews all cases alike rather than
// whichever happened to run at a bad moment.
func measureParallel(ctx context.Context, rt *cpython.Runtime, modes []string, o parallelOptions) ([]parallelResult, error) {
	counts := o.Counts
	if len(counts) == 0 || counts[0] != 1 {
		counts = append([]int{1}, counts...)
	}
	maxK := counts[len(counts)-1]
	repeat := max(o.Repeat, 1)
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}

	runners := make([]modeRunner, 0, len(modes))
	defer func() {
		for _, r := range runners {
			r.close()
		}
	}()
	for _, mode := range modes {
		progress("%s: creating and warming interpreters", mode)
		r, err := newModeRunner(ctx, rt, mode, maxK, o.Work)
		if err != nil {
			return nil, err
		}
		runners = append(runners, r)
	}

	walls := make([][][]time.Duration, len(runners)) // [mode][count][run]
	for m := range walls {
		walls[m] = make([][]time.Duration, len(counts))
	}
	for run := range repeat {
		for m, r := range runners {
			for c, k := range counts {
				wall, err := r.timeOnce(k)
				if err != nil {
					return nil, fmt.Errorf("%s with %d workers: %w", r.mode, k, err)
				}
				walls[m][c] = append(walls[m][c], wall)
				progress("round %d/%d: %s, %d worker(s): %.2fs", run+1, repeat, r.mode, k, wall.Seconds())
			}
		}
	}

	cores := runtime.NumCPU()
	var rows []parallelResult
	for m, r := range runners {
		base := medianOf(walls[m][0]).Seconds()
		for c, k := range counts {
			ws := walls[m][c]
			wall := medianOf(ws).Seconds()
			row := parallelResult{Mode: r.mode, Workers: k, WallS: wall, Speedup: 1}
			if c > 0 && wall > 0 {
				row.Speedup = float64(k) * base / wall
			}
			row.PerCore = row.Speedup / float64(min(k, cores))
			lo, hi := slices.Min(ws), slices.Max(ws)
			row.Noisy = lo > 0 && float64(hi) > noisySpread*float64(lo)
			rows = append(rows, row)
		}
	}
	return rows, nil
}
