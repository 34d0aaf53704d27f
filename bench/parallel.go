package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// The parallel measurements: one CPU-bound pure-Python function
// (py/parallel.py) run by 1..K workers at once, in own-GIL interpreters,
// in Python threads of one interpreter and in interpreters sharing the
// main GIL. `subinterp doctor` asks the yes/no question (do two own-GIL
// interpreters run at the same time? CheckPair); `subinterp microbench`
// shows the scaling table (MeasureParallel).

// parallelPy defines count_primes and run_threads; it is run in the
// __main__ of every interpreter these measurements time.
//
//go:embed py/parallel.py
var parallelPy string

// DefaultWork is the count_primes argument of one unit of work: about
// 0.3-0.5 s of pure Python on the project's 2-core VMs.
const DefaultWork = 120_000

// warmWork is the small unit run once before timing, so imports, the
// first call and the interpreter's caches are not timed.
const warmWork = 2_000

// The ways of running CPU-bound Python in parallel that the parallel
// measurements compare.
const (
	// ParallelOwnGIL is one subinterpreter per worker, each with its own
	// GIL.
	ParallelOwnGIL = "own-gil"
	// ParallelThreads is one interpreter, one threading.Thread per worker.
	ParallelThreads = "threads"
	// ParallelSharedGIL is one subinterpreter per worker, all on the main
	// GIL.
	ParallelSharedGIL = "shared-gil"
)

// ParallelModes lists the parallel modes in the order tables show them.
var ParallelModes = []string{ParallelOwnGIL, ParallelThreads, ParallelSharedGIL}

// parallelAbout describes each mode for tables.
var parallelAbout = map[string]string{
	ParallelOwnGIL:    "subinterpreters, own GIL each",
	ParallelThreads:   "threads in one interpreter",
	ParallelSharedGIL: "subinterpreters, shared GIL",
}

// ParallelResult is one row of the parallel-speedup table. Every worker
// does the same unit of work, so total work grows with Workers; Speedup is
// the throughput relative to one worker (Workers × wall(1) / wall(k)) and
// PerCore is Speedup divided by the cores the workers can use.
type ParallelResult struct {
	Mode    string  `json:"mode"`
	Workers int     `json:"workers"`
	WallS   float64 `json:"wall_s"`
	Speedup float64 `json:"speedup"`
	PerCore float64 `json:"speedup_per_core"`
	// Noisy reports that the slowest run of this case took over
	// noisySpread times the fastest: other processes were probably busy.
	Noisy bool `json:"noisy"`
}

// ParallelOptions say what MeasureParallel runs.
type ParallelOptions struct {
	// Work is the count_primes argument of one unit.
	Work int
	// Counts are the worker counts to time; 1 is added if missing.
	Counts []int
	// Repeat is how many rounds are timed; the median of each case counts.
	Repeat int
	// Progress, if set, receives a line of progress now and then.
	Progress func(format string, args ...any)
}

// WorkerCounts returns 1, 2, 4, ... up to and including maxK.
func WorkerCounts(maxK int) []int {
	var counts []int
	for k := 1; k < maxK; k *= 2 {
		counts = append(counts, k)
	}
	return append(counts, max(maxK, 1))
}

// newWorkInterps creates k interpreters with cfg and loads parallelPy
// into each, warm (the file run, one small unit done). closeAll ends them.
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
		if err := in.Exec(ctx, parallelPy); err != nil {
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
	case ParallelOwnGIL, ParallelSharedGIL:
		cfg := cpython.IsolatedConfig()
		if mode == ParallelSharedGIL {
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
	case ParallelThreads:
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

// MeasureParallel times every mode (of ParallelModes) with every worker
// count of o and returns one row per mode and count. Interpreters for all
// modes are created and warmed before any timing. The runs are interleaved
// (each round times every mode and count once) so that load from other
// processes, which comes and goes, skews all cases alike rather than
// whichever happened to run at a bad moment.
func MeasureParallel(ctx context.Context, rt *cpython.Runtime, modes []string, o ParallelOptions) ([]ParallelResult, error) {
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
	return parallelRows(runners, counts, walls), nil
}

// parallelRows turns the timings of MeasureParallel into its rows.
func parallelRows(runners []modeRunner, counts []int, walls [][][]time.Duration) []ParallelResult {
	cores := runtime.NumCPU()
	var rows []ParallelResult
	for m, r := range runners {
		base := medianOf(walls[m][0]).Seconds()
		for c, k := range counts {
			ws := walls[m][c]
			wall := medianOf(ws).Seconds()
			row := ParallelResult{Mode: r.mode, Workers: k, WallS: wall, Speedup: 1}
			if c > 0 && wall > 0 {
				row.Speedup = float64(k) * base / wall
			}
			row.PerCore = row.Speedup / float64(min(k, cores))
			lo, hi := slices.Min(ws), slices.Max(ws)
			row.Noisy = lo > 0 && float64(hi) > noisySpread*float64(lo)
			rows = append(rows, row)
		}
	}
	return rows
}

// MinPairSpeedup is the parallel speedup two own-GIL interpreters must
// reach for CheckPair's pair to count as running in parallel.
const MinPairSpeedup = 1.5

// PairSpeedup is what CheckPair measured: its best try.
type PairSpeedup struct {
	// Speedup is 2 × Alone / Together.
	Speedup float64
	// Alone is one unit in one interpreter (the mean of AloneBefore and
	// AloneAfter), Together one unit in each of two at once.
	Alone, Together time.Duration
	// AloneBefore and AloneAfter are the unit alone timed before and after
	// Together: the baseline, twice, to see whether the machine's speed
	// moved while the check ran.
	AloneBefore, AloneAfter time.Duration
	// BaselineDrift is AloneAfter/AloneBefore - 1; BaselineMoved is true
	// when it is beyond ±MaxBaselineDrift, and then Speedup is unreliable.
	BaselineDrift float64
	BaselineMoved bool
	// Tries is how many tries were made.
	Tries int
}

// CheckPair is the one check that interpreters of mode (ParallelOwnGIL or
// ParallelSharedGIL) really run Python at the same time: one unit of work
// alone, then one in each of two interpreters at once, then one alone
// again, the speedup being 2 × alone / together. It tries up to tries
// times (other processes may be using the cores), stopping at the first
// speedup of MinPairSpeedup or more, and returns the best. tried, if set,
// sees every try.
func CheckPair(ctx context.Context, rt *cpython.Runtime, mode string, work, tries int, tried func(alone, together time.Duration, speedup float64)) (PairSpeedup, error) {
	r, err := newModeRunner(ctx, rt, mode, 2, work)
	if err != nil {
		return PairSpeedup{}, err
	}
	defer r.close()
	var best PairSpeedup
	for try := 1; try <= max(tries, 1); try++ {
		best.Tries = try
		before, err := r.timeOnce(1)
		if err != nil {
			return best, err
		}
		together, err := r.timeOnce(2)
		if err != nil {
			return best, err
		}
		after, err := r.timeOnce(1)
		if err != nil {
			return best, err
		}
		alone := (before + after) / 2
		speedup := 2 * alone.Seconds() / together.Seconds()
		if tried != nil {
			tried(alone, together, speedup)
		}
		if speedup > best.Speedup {
			drift := after.Seconds()/before.Seconds() - 1
			best = PairSpeedup{Speedup: speedup, Alone: alone, Together: together, AloneBefore: before, AloneAfter: after,
				BaselineDrift: drift, BaselineMoved: math.Abs(drift) > MaxBaselineDrift, Tries: try}
		}
		if best.Speedup >= MinPairSpeedup {
			break
		}
	}
	return best, nil
}

// WriteParallelTable prints parallel-speedup rows as a table.
func WriteParallelTable(w io.Writer, rows []ParallelResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\t\tworkers\twall\tspeedup\tper core")
	for _, r := range rows {
		mark := ""
		if r.Noisy {
			mark = " ~"
		}
		fmt.Fprintf(tw, "%s\t(%s)\t%d\t%.2fs%s\t%.2fx\t%.2f\n", r.Mode, parallelAbout[r.Mode], r.Workers, r.WallS, mark, r.Speedup, r.PerCore)
	}
	_ = tw.Flush()
	for _, r := range rows {
		if r.Noisy {
			fmt.Fprintf(w, "note: the runs of some cases (marked ~) differed by more than %.0f%%: other processes were probably using the cores; treat the speedups as rough\n", (noisySpread-1)*100)
			break
		}
	}
}
