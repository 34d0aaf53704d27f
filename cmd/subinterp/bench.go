package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/subinterp/subinterp/bench"
	"github.com/subinterp/subinterp/cpython"
)

// benchAbout is the help text of `subinterp bench`.
const benchAbout = `
Runs the same Python workloads every way there is to use several cores,
side by side on the CPython build this binary links, and prints wall time
(median, min, max of --repeat runs), throughput, speedup over sequential,
per-core efficiency, worker start-up, RSS per worker, small-message round
trip and bulk transfer, then checks the project's goals.

Workloads: nbody, spectral_norm, fannkuch (CPU-bound kernels), json
(encode+decode a document), regex (log parsing), shared_graph (reading one
large dict: threads share it, isolated workers each hold a copy),
private_state (each task mutating objects of its own), tiny (an identity
task: per-task overhead), transfer (1 MiB sent to a worker and back).

Modes: subinterp-own-gil and subinterp-shared-gil (this project's pool,
in this process), threads, multiprocessing-fork, multiprocessing-forkserver,
multiprocessing-spawn, process-pool-executor, subinterp-interpreters
(subinterp.interpreters' InterpreterPoolExecutor, this project's drop-in
for CPython 3.14's, in this binary's runtime), cpython-interpreters (the
interpreters API of the Python in use), threads-free-threaded and
sequential-free-threaded (threads, and the baseline, in a free-threaded
build: PEP 703) and sequential (the baseline). The peers run as plain
Python scripts under python3.X of the same build; a mode that Python lacks
is listed as unavailable with the reason.

The free-threaded modes run in python3.Xt of a free-threaded build of the
same CPython version: --free-threaded-python, or else the one
scripts/python.sh --free-threaded built into subinterp's cache
($SUBINTERP_CACHE, default ~/.cache/subinterp); without one they are listed
as unavailable, with how to build it (make bench-ft builds it on first use).

--workload and --mode may be repeated or take comma-separated names.
--quick (small work units, 3 repeats) takes under a minute on 2 cores; the
full run under 10 minutes. Progress goes to stderr.

The run warns when its numbers are unreliable: sequential runs first and
again last, and a move of more than 10% between the two is flagged; each
CPU's speed on a memory probe is timed at the start and the end, and one
CPU more than 10% slower than another is flagged too (a host running
something else on that core): a single-threaded row is then as fast as
the CPU it landed on, and taskset -c N puts the whole run on one CPU.

Exit status: 0 when the run completed (failed rows are reported in the
output), 1 when nothing could be measured, 2 on bad usage.`

// listFlag is a flag that may be repeated and takes comma-separated
// values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// benchSpec is a parsed and checked `subinterp bench` command line.
type benchSpec struct {
	opts     bench.Options
	jsonPath string
	plotPath string
	mdPath   string
	quiet    bool
	// memoryProbe is set in the child process that measures one pool's
	// memory (bench.MemoryProbeMain).
	// ftPython is --free-threaded-python ("": look in the cache).
	ftPython     string
	memoryProbe  bool
	probeMode    string
	probeWorkers int
	// peerArgs is set in the child process that runs peers.py in this
	// binary's runtime (bench.PeerMain): its path and arguments.
	peerArgs []string
}

// cmdBench is `subinterp bench`.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	spec, code, done := parseBench(args, stderr)
	if done {
		return code
	}
	return execBench(spec, stdout, stderr)
}

// parseBench parses and checks the command line; nothing runs before every
// argument has been checked.
func parseBench(args []string, stderr io.Writer) (spec benchSpec, code int, done bool) {
	fs := newFlagSet("bench", "bench [--quick] [--workers N[,N...]] [--workload NAME ...] [--mode NAME ...] [--repeat K]\n"+
		"                 [--json FILE|-] [--plot FILE.png|FILE.svg] [--markdown FILE] [--quiet]", benchAbout, stderr)
	quick := fs.Bool("quick", false, "small work units and 3 repeats: a smoke test (under a minute on 2 cores)")
	workers := fs.String("workers", "", "pool sizes `N,...` to run (default 1, 2, 4, ... and the CPU count)")
	var workloads, modes listFlag
	fs.Var(&workloads, "workload", "run only this workload `NAME` (repeatable; default all)")
	fs.Var(&modes, "mode", "run only this mode `NAME` (repeatable; default all)")
	repeat := fs.Int("repeat", 0, "time each case `K` times (default 5, 3 with --quick)")
	fs.StringVar(&spec.ftPython, "free-threaded-python", "", "run the free-threaded modes in this python3.Xt `PATH` (default: the free-threaded build in subinterp's cache)")
	fs.StringVar(&spec.jsonPath, "json", "", "write the report as JSON to `FILE` (- for stdout, instead of the table)")
	fs.StringVar(&spec.plotPath, "plot", "", "draw scaling curves and bar charts to `FILE`.png or FILE.svg")
	fs.StringVar(&spec.mdPath, "markdown", "", "write the report as a Markdown document to `FILE`")
	fs.BoolVar(&spec.quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&spec.memoryProbe, "internal-memory-probe", false, "measure one pool's memory per worker: args MODE WORKERS (bench runs itself this way)")
	peer := fs.Bool("internal-peer", false, "run peers.py: args PATH [ARG...] in this binary's runtime (bench runs itself this way for subinterp-interpreters)")
	if code, done := parseFlags(fs, args); done {
		return spec, code, true
	}
	if *peer {
		if fs.NArg() == 0 {
			return spec, usageError(stderr, "bench", "--internal-peer takes PATH [ARG...]"), true
		}
		spec.peerArgs = fs.Args()
		return spec, exitOK, false
	}
	if spec.memoryProbe {
		if fs.NArg() != 2 {
			return spec, usageError(stderr, "bench", "--internal-memory-probe takes MODE WORKERS"), true
		}
		n, err := strconv.Atoi(fs.Arg(1))
		if err != nil {
			return spec, usageError(stderr, "bench", "--internal-memory-probe: %q is not a number", fs.Arg(1)), true
		}
		spec.probeMode, spec.probeWorkers = fs.Arg(0), n
		return spec, exitOK, false
	}
	if fs.NArg() > 0 {
		return spec, usageError(stderr, "bench", "unexpected argument %q", fs.Arg(0)), true
	}
	spec.opts = bench.Options{Quick: *quick, Workloads: workloads, Modes: modes, Repeat: *repeat}
	if *workers != "" {
		for _, f := range strings.Split(*workers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return spec, usageError(stderr, "bench", "--workers: %q is not a number", f), true
			}
			if n <= 0 {
				return spec, usageError(stderr, "bench", "--workers: %d: a pool needs at least 1 worker", n), true
			}
			spec.opts.Workers = append(spec.opts.Workers, n)
		}
	}
	if spec.ftPython != "" {
		if err := checkExecutable(spec.ftPython); err != nil {
			return spec, usageError(stderr, "bench", "--free-threaded-python: %v", err), true
		}
	}
	if isSet(fs, "repeat") && *repeat <= 0 {
		return spec, usageError(stderr, "bench", "--repeat: %d: each case must run at least once", *repeat), true
	}
	if err := spec.opts.Validate(); err != nil {
		return spec, usageError(stderr, "bench", "%s", strings.TrimPrefix(err.Error(), bench.ErrUsage.Error()+": ")), true
	}
	if spec.plotPath != "" {
		if _, err := bench.PlotFormat(spec.plotPath); err != nil {
			return spec, usageError(stderr, "bench", "--plot: %v", err), true
		}
	}
	for _, out := range []struct{ flag, path string }{{"json", spec.jsonPath}, {"plot", spec.plotPath}, {"markdown", spec.mdPath}} {
		if out.path == "" || out.path == "-" {
			continue
		}
		if err := checkWritable(out.path); err != nil {
			return spec, usageError(stderr, "bench", "--%s: %v", out.flag, err), true
		}
	}
	return spec, exitOK, false
}

// execBench runs a checked bench command line.
func execBench(spec benchSpec, stdout, stderr io.Writer) int {
	m, code, ok := startMeasuring("bench", cpython.RuntimeOptions{}, stderr)
	if !ok {
		return code
	}
	defer m.finish(false)
	if spec.peerArgs != nil {
		status, err := bench.PeerMain(m.ctx, m.rt, spec.peerArgs)
		if err != nil {
			return m.fail(err)
		}
		return status
	}
	if spec.memoryProbe {
		if err := bench.MemoryProbeMain(m.ctx, m.rt, spec.probeMode, spec.probeWorkers, stdout); err != nil {
			return m.fail(err)
		}
		return exitOK
	}
	info, err := describePython(m.ctx, m.rt)
	if err != nil {
		return m.fail(err)
	}
	opts := spec.opts
	if exe, err := os.Executable(); err == nil {
		opts.MemoryProbe = []string{exe, "bench", "--internal-memory-probe"}
		opts.SelfPeer = []string{exe, "bench", "--internal-peer"}
	}
	opts.Python = info.PythonBinary
	build := "release"
	if info.Debug {
		build = "debug (--with-pydebug)"
	}
	opts.PythonBuild = fmt.Sprintf("CPython %s, %s build, %s", info.Version, build, info.Prefix)
	opts.FreeThreadedPython, opts.FreeThreadedMissing = spec.ftPython, ""
	if opts.FreeThreadedPython == "" {
		opts.FreeThreadedPython, opts.FreeThreadedMissing = cachedFreeThreadedPython(info.Version)
	}
	var bar *statusLine
	if !spec.quiet {
		// A bar with an estimate of the time left on a terminal, as compat
		// draws; plain lines anywhere else (a log, CI).
		if bar = newStatusLine(stderr); bar != nil {
			opts.OnProgress = func(p bench.Progress) {
				bar.draw(p.Done, p.Total, "cases", p.Elapsed, true, p.Step)
			}
		} else {
			opts.Progress = stderr
		}
	}
	rep, err := bench.Run(m.ctx, m.rt, opts)
	bar.clear()
	if err != nil {
		return m.fail(err)
	}
	return writeBenchReport(rep, spec, stdout, stderr)
}

// writeBenchReport writes the report everywhere the command line asked.
func writeBenchReport(rep *bench.Report, spec benchSpec, stdout, stderr io.Writer) int {
	failed := false
	report := func(what string, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "subinterp bench: %s: %v\n", what, err)
			failed = true
		}
	}
	if spec.plotPath != "" {
		report("--plot", bench.WritePlot(spec.plotPath, rep))
	}
	if spec.mdPath != "" {
		report("--markdown", writeFile(spec.mdPath, func(w io.Writer) error {
			return writeBenchDocument(w, rep, spec)
		}))
	}
	writeJSON := func(w io.Writer) error { return encodeJSON(w, rep) }
	switch spec.jsonPath {
	case "":
	case "-":
		report("--json", writeJSON(stdout))
	default:
		report("--json", writeFile(spec.jsonPath, writeJSON))
	}
	if spec.jsonPath != "-" {
		report("writing the table", bench.WriteTable(stdout, rep))
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

// writeBenchDocument is the --markdown output: a whole document, so that
// docs/benchmarks.md is regenerated by one command.
func writeBenchDocument(w io.Writer, rep *bench.Report, spec benchSpec) error {
	plotRef := ""
	if spec.plotPath != "" {
		if rel, err := filepath.Rel(filepath.Dir(spec.mdPath), spec.plotPath); err == nil {
			plotRef = filepath.ToSlash(rel)
		} else {
			plotRef = spec.plotPath
		}
	}
	fmt.Fprintf(w, "# subinterp bench: subinterpreters against threads, multiprocessing and CPython's own interpreters\n\n")
	fmt.Fprintf(w, "This page is generated: `make bench-docs` regenerates it from a full run on the machine at hand. ")
	fmt.Fprintf(w, "What each figure means, how it is measured, and why a goal is missed: docs/bench/methodology.md. ")
	fmt.Fprintf(w, "The latency microbenchmarks of the core, channels and pools: docs/microbenchmarks.md.\n\n")
	return bench.WriteMarkdown(w, rep, plotRef)
}
