package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/soak"
)

// soakAbout is the help text of `subinterp soak`.
const soakAbout = `
Runs the soak scenarios that keep leaks and hangs fixed, and checks their
goals (docs/soak.md):

  pool-cancel  200,000 calls through a pool of 2 from 4 goroutines; 1 % are
               cancelled by a 1-5 ms deadline while running pure Python
  channels     200,000 messages each way Go->Python, Python->Go,
               Python->Python and Go->Go over fresh channels, with
               cancelled sends; no channel may be left behind
  churn        create an own-GIL interpreter, Eval "1", Close (10,000
               times), next to CPython's own create/destroy as a baseline

and reports per scenario the RSS (and Go heap) at the start, after the
warm-up (the first tenth) and at the end, the growth per 1,000 iterations,
errors by kind, lost interrupts and pool replacements by reason. A
scenario stops early once RSS has grown by 2 GB (CPython 3.13 keeps about
1.3 MB of every isolated interpreter it ends).

--scale multiplies the default counts (make soak-ci runs --scale 0.1);
--calls sets the count of every selected scenario; --duration runs each
for a time instead. The goals scale with the iterations run. --no-site
starts CPython without site, as RuntimeOptions.NoSite. The full run takes
a few minutes on 2 cores. Progress goes to stderr.

Exit status: 0 when every goal is met, 1 when one fails, 2 on bad usage,
130 when interrupted.`

// soakSpec is a parsed and checked `subinterp soak` command line.
type soakSpec struct {
	opts     soak.Options
	noSite   bool
	jsonPath string
	quiet    bool
}

// cmdSoak is `subinterp soak`.
func cmdSoak(args []string, stdout, stderr io.Writer) int {
	spec, code, done := parseSoak(args, stderr)
	if done {
		return code
	}
	return execSoak(spec, stdout, stderr)
}

// parseSoak parses and checks the command line before anything runs.
func parseSoak(args []string, stderr io.Writer) (spec soakSpec, code int, done bool) {
	fs := newFlagSet("soak", "soak [--scenario NAME ...] [--duration D | --calls N] [--scale F] [--no-site]\n"+
		"                [--json FILE|-] [--quiet]", soakAbout, stderr)
	var scenarios listFlag
	fs.Var(&scenarios, "scenario", "run only scenario `NAME` (repeatable or comma-separated: "+strings.Join(soak.Scenarios, ", ")+"; default all)")
	duration := fs.Duration("duration", 0, "run each scenario for `D` (e.g. 10m) instead of a number of iterations")
	calls := fs.Int("calls", 0, "run `N` iterations of each selected scenario (cycles, calls or messages each way)")
	scale := fs.Float64("scale", 1, "multiply the default iteration counts by `F`")
	fs.BoolVar(&spec.noSite, "no-site", false, "start CPython without importing site (RuntimeOptions.NoSite)")
	fs.StringVar(&spec.jsonPath, "json", "", "write the report as JSON to `FILE` (- for stdout, instead of the table)")
	fs.BoolVar(&spec.quiet, "quiet", false, "no progress on stderr")
	if code, done := parseFlags(fs, args); done {
		return spec, code, true
	}
	switch {
	case fs.NArg() > 0:
		return spec, usageError(stderr, "soak", "unexpected argument %q", fs.Arg(0)), true
	case isSet(fs, "duration") && *duration <= 0:
		return spec, usageError(stderr, "soak", "--duration: %v: must be positive", *duration), true
	case isSet(fs, "calls") && *calls <= 0:
		return spec, usageError(stderr, "soak", "--calls: %d: each scenario must run at least once", *calls), true
	case isSet(fs, "duration") && isSet(fs, "calls"):
		return spec, usageError(stderr, "soak", "give --duration or --calls, not both"), true
	case *scale <= 0:
		return spec, usageError(stderr, "soak", "--scale: %g: must be positive", *scale), true
	}
	spec.opts = soak.Options{Scenarios: scenarios, Duration: *duration, Scale: *scale}
	if *calls > 0 {
		spec.opts.Iterations = map[string]int{}
		selected := scenarios
		if len(selected) == 0 {
			selected = soak.Scenarios
		}
		for _, s := range selected {
			spec.opts.Iterations[s] = *calls
		}
	}
	if err := spec.opts.Validate(); err != nil {
		return spec, usageError(stderr, "soak", "%s", strings.TrimPrefix(err.Error(), soak.ErrUsage.Error()+": ")), true
	}
	if spec.jsonPath != "" && spec.jsonPath != "-" {
		if err := checkWritable(spec.jsonPath); err != nil {
			return spec, usageError(stderr, "soak", "--json: %v", err), true
		}
	}
	return spec, exitOK, false
}

// execSoak runs a checked soak command line.
func execSoak(spec soakSpec, stdout, stderr io.Writer) int {
	m, code, ok := startMeasuring("soak", cpython.RuntimeOptions{NoSite: spec.noSite}, stderr)
	if !ok {
		return code
	}
	opts := spec.opts
	if !spec.quiet {
		opts.Progress = stderr
	}
	rep, runErr := soak.Run(m.ctx, m.rt, opts)
	code = exitOK
	if rep != nil {
		code = writeSoakReport(rep, spec, stdout, stderr)
	}
	switch {
	case m.ctx.Err() != nil:
		// Interpreters still running a cancelled loop end at its limit, and
		// Finalize would wait for them: leave them to the exiting process.
		fmt.Fprintln(stderr, "subinterp soak: interrupted")
		m.stop()
		return exitInterrupted
	case runErr != nil:
		code = m.fail(runErr)
	}
	m.finish(spec.quiet)
	return code
}

// writeSoakReport writes the report where the command line asked and
// returns the exit code its goals (and the writes) give.
func writeSoakReport(rep *soak.Report, spec soakSpec, stdout, stderr io.Writer) int {
	code := exitOK
	if !rep.OK {
		code = exitFailed
	}
	writeJSON := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var err error
	switch spec.jsonPath {
	case "":
	case "-":
		err = writeJSON(stdout)
	default:
		err = writeFile(spec.jsonPath, writeJSON)
	}
	if err != nil {
		fmt.Fprintf(stderr, "subinterp soak: --json: %v\n", err)
		code = exitFailed
	}
	if spec.jsonPath != "-" {
		if err := soak.WriteTable(stdout, rep); err != nil {
			fmt.Fprintf(stderr, "subinterp soak: writing the table: %v\n", err)
			code = exitFailed
		}
	}
	return code
}
