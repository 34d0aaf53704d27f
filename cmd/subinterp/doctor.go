package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/subinterp/subinterp/bench"
	"github.com/subinterp/subinterp/cpython"
)

// doctorAbout is the help text of `subinterp doctor`.
const doctorAbout = `
Prints the CPython build this binary runs on (version, sys.prefix, debug
or release, the shared libpython it loaded, the python3.X binary of the same
prefix) and checks that own-GIL subinterpreters really run Python at the
same time: two of them run the same CPU-bound work at once and alone, and
the parallel speedup (2 × alone / together) must reach 1.5 on a machine
with 2 or more CPUs. A shared-GIL pair is measured for contrast (expect
about 1.0). It also times a memory probe on each CPU and warns when one
runs it more than 10% slower than another (a host running something else
on that core: single-threaded timings then depend on where they ran), and
how long a cache line takes to go from one CPU to another and back, which
bounds every hand-off between a caller and an interpreter's thread.
Exits 1 if a check fails. Takes a few seconds.`

// Check statuses.
const (
	statusPass = "PASS"
	statusFail = "FAIL"
	statusSkip = "SKIP"
	statusInfo = "INFO" // a measurement shown for contrast, never a failure
)

// doctorCheck is one line of doctor's verdict.
type doctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Speedup, AloneS and TogetherS are set by the parallel checks.
	Speedup   float64 `json:"speedup,omitempty"`
	AloneS    float64 `json:"alone_s,omitempty"`
	TogetherS float64 `json:"together_s,omitempty"`
	// Warning says why a measurement is unreliable ("" when it is not):
	// the baseline moved while the check ran, or the CPUs run at unequal
	// speeds.
	Warning string `json:"warning,omitempty"`
}

// doctorReport is what `subinterp doctor --json` prints.
type doctorReport struct {
	pythonInfo
	// Subinterp is the build of this binary (as --version prints it).
	Subinterp buildVersion  `json:"subinterp"`
	NumCPU    int           `json:"num_cpu"`
	Checks    []doctorCheck `json:"checks"`
	OK        bool          `json:"ok"`
}

// cmdDoctor is `subinterp doctor`.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("doctor", "doctor [--json] [--work N]", doctorAbout, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	work := fs.Int("work", bench.DefaultWork/2, "count_primes argument of the `N` units timed by the GIL checks")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "doctor", "unexpected argument %q", fs.Arg(0))
	}
	if *work < 1 {
		return usageError(stderr, "doctor", "--work must be at least 1 (got %d)", *work)
	}

	m, code, ok := startMeasuring("doctor", cpython.RuntimeOptions{NoSite: true}, stderr)
	if !ok {
		return code
	}
	defer m.finish(false)
	ctx, rt := m.ctx, m.rt
	info, err := describePython(ctx, rt)
	if err != nil {
		return m.fail(err)
	}
	rep := doctorReport{pythonInfo: info, Subinterp: readBuildVersion(), NumCPU: runtime.NumCPU(), OK: true}
	lib := doctorCheck{Name: "shared libpython", Status: statusPass, Detail: info.LibPython}
	switch {
	case info.LibPython == "":
		lib.Status, lib.Detail = statusFail, "no libpython mapped into this process (is CPython built with --enable-shared?)"
	case info.Prefix != "" && !strings.HasPrefix(info.LibPython, info.Prefix+"/"):
		lib.Detail += " (warning: not under sys.prefix " + info.Prefix + ")"
	}
	rep.Checks = append(rep.Checks, lib)
	rep.Checks = append(rep.Checks, cpuSpeedCheck(ctx), crossCPUCheck(ctx))
	rep.Checks = append(rep.Checks, gilCheck(ctx, rt, bench.ParallelOwnGIL, *work, stderr, !*asJSON))
	rep.Checks = append(rep.Checks, gilCheck(ctx, rt, bench.ParallelSharedGIL, *work, stderr, !*asJSON))
	for _, c := range rep.Checks {
		if c.Status == statusFail {
			rep.OK = false
		}
	}

	if *asJSON {
		if err := encodeJSON(stdout, rep); err != nil {
			return m.fail(err)
		}
	} else {
		printDoctor(stdout, rep)
	}
	if !rep.OK {
		return exitFailed
	}
	return exitOK
}

// hostCheck is an INFO line about the machine the host gives us, never a
// failure (it is the host's doing, not this installation's): probe says
// what it found, or fails and the line is SKIP with its error.
func hostCheck(name string, probe func() (detail, warning string, err error)) doctorCheck {
	c := doctorCheck{Name: name, Status: statusInfo}
	var err error
	if c.Detail, c.Warning, err = probe(); err != nil {
		c.Status, c.Detail, c.Warning = statusSkip, err.Error(), ""
	}
	return c
}

// cpuSpeedCheck reports each CPU's speed on bench.ProbeCPUSpeeds' memory
// probe, with a warning when they differ.
func cpuSpeedCheck(ctx context.Context) doctorCheck {
	return hostCheck("CPU speeds", func() (string, string, error) {
		speeds, err := bench.ProbeCPUSpeeds(ctx)
		if err != nil {
			return "", "", err
		}
		spread, _, _ := bench.CPUSpread(speeds)
		return fmt.Sprintf("%s (memory probe, lower is faster; spread %.0f%%)", bench.FormatCPUSpeeds(speeds), 100*spread),
			bench.CPUSpeedsWarning(speeds), nil
	})
}

// crossCPUCheck reports bench.ProbeCrossCPU: where the host runs the CPUs,
// which sets the floor of a Call's latency.
func crossCPUCheck(ctx context.Context) doctorCheck {
	return hostCheck("cross-CPU hand-off", func() (string, string, error) {
		x, err := bench.ProbeCrossCPU(ctx)
		if err != nil {
			return "", "", err
		}
		return fmt.Sprintf("a cache line goes from CPU %d to CPU %d and back in %.0f ns (a Call's median on the project's VMs: ~1.3 µs at 120-160 ns, ~3 µs at 400-550 ns; docs/microbenchmarks.md)", x.A, x.B, x.RoundTripNs), "", nil
	})
}

// gilCheck reports bench.CheckPair for interpreters of mode. For own-GIL
// interpreters it is a pass/fail check (best of three tries, since other
// processes may be using the cores); for shared-GIL ones it is shown for
// contrast.
func gilCheck(ctx context.Context, rt *cpython.Runtime, mode string, work int, stderr io.Writer, progress bool) doctorCheck {
	ownGIL := mode == bench.ParallelOwnGIL
	c := doctorCheck{Name: "own-GIL interpreters run in parallel", Status: statusPass}
	tries := 3
	if !ownGIL {
		c.Name, c.Status, tries = "shared-GIL interpreters (contrast)", statusInfo, 1
	}
	if ownGIL && runtime.NumCPU() < 2 {
		c.Status, c.Detail = statusSkip, fmt.Sprintf("only %d CPU: nothing can run in parallel", runtime.NumCPU())
		return c
	}
	tried := func(alone, together time.Duration, speedup float64) {
		if progress {
			fmt.Fprintf(stderr, "doctor: %s: alone %.2fs, two at once %.2fs, speedup %.2f\n", c.Name, alone.Seconds(), together.Seconds(), speedup)
		}
	}
	p, err := bench.CheckPair(ctx, rt, mode, work, tries, tried)
	if err != nil {
		c.Status, c.Detail = statusFail, err.Error()
		return c
	}
	c.Speedup, c.AloneS, c.TogetherS = p.Speedup, p.Alone.Seconds(), p.Together.Seconds()
	c.Detail = fmt.Sprintf("speedup %.2f (one unit alone %.2fs, two at once %.2fs)", c.Speedup, c.AloneS, c.TogetherS)
	c.Warning = pairWarning(p)
	switch {
	case !ownGIL:
		c.Detail += "; ~1.0 expected: one GIL"
	case c.Speedup < bench.MinPairSpeedup:
		c.Status = statusFail
		c.Detail += fmt.Sprintf("; below %.1f in %d tries (are other processes busy on the cores?)", bench.MinPairSpeedup, p.Tries)
	}
	return c
}

// pairWarning says why a pair's speedup is unreliable, or "" when it is
// not: its baseline moved while it was measured.
func pairWarning(p bench.PairSpeedup) string {
	if !p.BaselineMoved {
		return ""
	}
	return fmt.Sprintf("one unit alone took %.2fs before the pair and %.2fs after (%+.0f%%, more than %.0f%%): other processes were probably using the cores, so this speedup is unreliable",
		p.AloneBefore.Seconds(), p.AloneAfter.Seconds(), 100*p.BaselineDrift, 100*bench.MaxBaselineDrift)
}

// printDoctor prints the report for people.
func printDoctor(w io.Writer, rep doctorReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	build := "release"
	if rep.Debug {
		build = "debug (--with-pydebug)"
	}
	orNone := func(s, none string) string {
		if s == "" {
			return none
		}
		return s
	}
	fmt.Fprintf(tw, "subinterp\t%s\n", strings.TrimPrefix(rep.Subinterp.String(), "subinterp "))
	fmt.Fprintf(tw, "CPython\t%s\n", rep.Version)
	fmt.Fprintf(tw, "build\t%s\n", build)
	fmt.Fprintf(tw, "sys.prefix\t%s\n", rep.Prefix)
	fmt.Fprintf(tw, "libpython\t%s\n", orNone(rep.LibPython, "(not found)"))
	fmt.Fprintf(tw, "executable\t%s\n", orNone(rep.Executable, "(unknown)"))
	linked := orNone(rep.Linked, "(no libpython in its DT_NEEDED)")
	if len(rep.RPath) > 0 {
		linked += " (run path " + strings.Join(rep.RPath, ":") + ")"
	}
	fmt.Fprintf(tw, "linked\t%s\n", linked)
	fmt.Fprintf(tw, "python binary\t%s\n", orNone(rep.PythonBinary, "(none in the prefix: bench peers will be skipped)"))
	fmt.Fprintf(tw, "CPUs\t%d\n", rep.NumCPU)
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%-4s  %s: %s\n", c.Status, c.Name, c.Detail)
		if c.Warning != "" {
			fmt.Fprintf(w, "      warning: %s\n", c.Warning)
		}
	}
}
