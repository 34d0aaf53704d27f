package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"text/tabwriter"

	"github.com/subinterp/subinterp/cpython"
)

// demoAbout is the help text of `subinterp demo`.
const demoAbout = `
Shows what own-GIL subinterpreters are for. A CPU-bound pure-Python
function (a naive prime count, one unit ≈ 0.3-0.5 s) runs in 1, 2, 4, ...
up to K workers at once, every worker doing one unit, three ways:

  own-gil     one subinterpreter per worker, each with its own GIL
  threads     threading.Thread workers in one interpreter (one GIL)
  shared-gil  one subinterpreter per worker, all sharing the main GIL

and prints the wall time and the throughput speedup over one worker.
Only own-gil scales with the cores. Interpreters are created and warmed
before timing. Progress goes to stderr.`

// cmdDemo is `subinterp demo`.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "demo [--work N] [--max-interps K] [--repeat R]", demoAbout, stderr)
	work := fs.Int("work", defaultWork, "one unit of work counts the primes below `N`")
	maxK := fs.Int("max-interps", max(runtime.NumCPU(), 2), "time up to `K` workers (1, 2, 4, ..., K)")
	repeat := fs.Int("repeat", 3, "time `R` rounds (each runs every case once) and show the medians")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, "demo", "unexpected argument %q", fs.Arg(0))
	case *work < 1:
		return usageError(stderr, "demo", "--work must be at least 1 (got %d)", *work)
	case *maxK < 1:
		return usageError(stderr, "demo", "--max-interps must be at least 1 (got %d)", *maxK)
	case *repeat < 1:
		return usageError(stderr, "demo", "--repeat must be at least 1 (got %d)", *repeat)
	}

	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		fmt.Fprintf(stderr, "subinterp demo: starting CPython: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	fmt.Fprintf(stderr, "demo: CPython %s, %d CPUs, unit = count_primes(%d), workers %v, median of %d\n",
		rt.Version(), runtime.NumCPU(), *work, workerCounts(*maxK), *repeat)
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "demo: "+format+"\n", args...) }
	rows, err := measureParallel(ctx, rt, []string{modeOwnGIL, modeThreads, modeSharedGIL},
		parallelOptions{Work: *work, Counts: workerCounts(*maxK), Repeat: *repeat, Progress: progress})
	if err != nil {
		fmt.Fprintf(stderr, "subinterp demo: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	}
	fmt.Fprintln(stdout)
	printParallel(stdout, rows)
	if err := rt.Finalize(); err != nil {
		fmt.Fprintf(stderr, "subinterp demo: warning: %v\n", err)
	}
	return exitOK
}

// printParallel prints parallel-speedup rows as a table.
func printParallel(w io.Writer, rows []parallelResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\t\tworkers\twall\tspeedup\tper core")
	for _, r := range rows {
		mark := ""
		if r.Noisy {
			mark = " ~"
		}
		fmt.Fprintf(tw, "%s\t(%s)\t%d\t%.2fs%s\t%.2fx\t%.2f\n", r.Mode, modeAbout[r.Mode], r.Workers, r.WallS, mark, r.Speedup, r.PerCore)
	}
	_ = tw.Flush()
	for _, r := range rows {
		if r.Noisy {
			fmt.Fprintf(w, "note: the runs of some cases (marked ~) differed by more than %.0f%%: other processes were probably using the cores; treat the speedups as rough\n", (noisySpread-1)*100)
			break
		}
	}
}
