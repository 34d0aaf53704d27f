package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// microbenchAbout is the help text of `subinterp microbench`.
const microbenchAbout = `
Runs the project's standard measurements on the CPython build this binary
links, each next to what CPython itself offers for the same job:

  create+close  an isolated interpreter, with and without import site
                (peer: _interpreters.create()/destroy() in python3.X)
  call          Interpreter.Call round trip of an identity function on a
                warm interpreter, median and p99 (peers: a one-process
                ProcessPoolExecutor, a queue.Queue handoff to a thread,
                _interpreters.call and _interpreters.exec)
  parallel      CPU-bound throughput with 1..ncpu own-GIL interpreters,
                Python threads and shared-GIL interpreters (as in demo)

Peers run in python3.X of the same prefix through scripts/bench/peers.py
(see --scripts); when either is missing, the peer is skipped with a note.
--quick takes fewer samples and half-size work units: about 10 s on 2
cores instead of about 25 s. Progress goes to stderr.`

// benchSizes are the sample counts of one bench run.
type benchSizes struct {
	create, createWarm int // create+close rounds
	calls, callWarm    int // Call round trips
	poolCalls          int // ProcessPoolExecutor round trips
	peerCalls          int // other peer round trips
	work, repeat       int // parallel: count_primes argument, runs per case
}

// fullSizes and quickSizes are the sizes without and with --quick.
var (
	fullSizes  = benchSizes{create: 30, createWarm: 2, calls: 20000, callWarm: 1000, poolCalls: 5000, peerCalls: 20000, work: defaultWork, repeat: 3}
	quickSizes = benchSizes{create: 10, createWarm: 1, calls: 5000, callWarm: 1000, poolCalls: 500, peerCalls: 2000, work: defaultWork / 2, repeat: 3}
)

// benchResult is one latency measurement, ours or a peer's.
type benchResult struct {
	// Group is "create" or "call".
	Group string `json:"group"`
	// Name identifies the measurement ("subinterp-call", "peer-thread-queue").
	Name string `json:"name"`
	// What says in words what was timed.
	What     string  `json:"what"`
	Peer     bool    `json:"peer"`
	MedianUS float64 `json:"median_us"`
	P99US    float64 `json:"p99_us"`
	N        int     `json:"n"`
}

// benchReport is what `subinterp microbench --json` prints.
type benchReport struct {
	Python   pythonInfo       `json:"python"`
	NumCPU   int              `json:"num_cpu"`
	Quick    bool             `json:"quick"`
	Results  []benchResult    `json:"results"`
	Work     int              `json:"parallel_work"`
	Parallel []parallelResult `json:"parallel"`
	// Skipped lists the measurements that could not run, with why.
	Skipped []string `json:"skipped"`
}

// cmdMicroBench is `subinterp microbench`.
func cmdMicroBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("microbench", "microbench [--json] [--quick] [--scripts DIR]", microbenchAbout, stderr)
	asJSON := fs.Bool("json", false, "print the results as one JSON object")
	quick := fs.Bool("quick", false, "fewer samples and smaller work units: a rough picture in about 10 s")
	scripts := fs.String("scripts", "scripts/bench", "`DIR` holding peers.py")
	internalNoSite := fs.Bool("internal-nosite", false, "measure create+close with NoSite and print it as JSON (microbench runs itself this way)")
	internalN := fs.Int("internal-n", fullSizes.create, "create+close rounds for --internal-nosite")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "microbench", "unexpected argument %q", fs.Arg(0))
	}
	scriptsSet := isSet(fs, "scripts")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *internalNoSite {
		return benchNoSiteChild(ctx, max(*internalN, 1), stdout, stderr)
	}

	sizes := fullSizes
	if *quick {
		sizes = quickSizes
	}
	rt, err := cpython.Initialize(cpython.RuntimeOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: starting CPython: %v\n", err)
		return exitFailed
	}
	info, err := describePython(ctx, rt)
	if err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: %v\n", err)
		return exitFailed
	}
	rep := benchReport{Python: info, NumCPU: runtime.NumCPU(), Quick: *quick, Work: sizes.work, Skipped: []string{}}
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "microbench: "+format+"\n", args...) }
	skip := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		rep.Skipped = append(rep.Skipped, msg)
		fmt.Fprintf(stderr, "peer skipped: %s\n", msg)
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "subinterp microbench: %v\n", err)
		if ctx.Err() != nil {
			return exitInterrupted
		}
		return exitFailed
	}

	// (a) create+close, with site here and without in a child process.
	progress("create+close: %d isolated interpreters (site)", sizes.create)
	s, err := measureCreate(ctx, rt, sizes.create, sizes.createWarm)
	if err != nil {
		return fail(err)
	}
	rep.Results = append(rep.Results, latencyResult("create", "subinterp-create-close", "NewInterpreter(IsolatedConfig())+Close(), site imported", false, s))
	progress("create+close: %d isolated interpreters (no site, child process)", sizes.create)
	if r, err := benchNoSiteParent(ctx, sizes.create); err != nil {
		if ctx.Err() != nil {
			return fail(err)
		}
		rep.Skipped = append(rep.Skipped, "create+close without site: "+err.Error())
		fmt.Fprintf(stderr, "microbench: create+close without site skipped: %v\n", err)
	} else {
		rep.Results = append(rep.Results, r)
	}

	// (b) and (d) need python3.X and peers.py.
	script, why := findPeersScript(*scripts, scriptsSet)
	python := info.PythonBinary
	if python == "" {
		why = fmt.Sprintf("no python%s in %s/bin", majorMinor(info.Version), info.Prefix)
	}
	peer := func(group, name string, n int, pyFlags ...string) {
		if why != "" {
			skip("%s: %s", name, why)
			return
		}
		progress("peer %s %s(n=%d)", name, strings.Join(append(pyFlags, ""), " "), n)
		recs, err := runPeer(ctx, python, pyFlags, script, name, n)
		if err != nil {
			skip("%s: %v", name, err)
			return
		}
		for _, r := range recs {
			if r.Skipped != "" {
				skip("%s: %s", r.Name, r.Skipped)
				continue
			}
			res := benchResult{Group: group, Name: "peer-" + r.Name, What: r.What, Peer: true, MedianUS: r.MedianUS, P99US: r.P99US, N: r.N}
			if r.Site {
				res.What += ", site imported"
			} else {
				res.Name += "-nosite"
				res.What += ", python -S"
			}
			rep.Results = append(rep.Results, res)
		}
	}
	peer("create", "interp-create", sizes.create)
	peer("create", "interp-create", sizes.create, "-S")

	// (c) Call round trips.
	progress("call: %d Interpreter.Call round trips", sizes.calls)
	s, err = measureCall(ctx, rt, sizes.calls, sizes.callWarm)
	if err != nil {
		return fail(err)
	}
	rep.Results = append(rep.Results, latencyResult("call", "subinterp-call", "Interpreter.Call(identity, 1) on a warm isolated interpreter", false, s))
	peer("call", "process-pool", sizes.poolCalls)
	peer("call", "thread-queue", sizes.peerCalls)
	peer("call", "interp-call", sizes.peerCalls)
	peer("call", "interp-exec", sizes.peerCalls)
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}

	// (e) parallel CPU throughput.
	counts := workerCounts(max(runtime.NumCPU(), 2))
	rep.Parallel, err = measureParallel(ctx, rt, []string{modeOwnGIL, modeThreads, modeSharedGIL},
		parallelOptions{Work: sizes.work, Counts: counts, Repeat: sizes.repeat, Progress: progress})
	if err != nil {
		return fail(err)
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	} else {
		printBench(stdout, rep)
	}
	if err := rt.Finalize(); err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: warning: %v\n", err)
	}
	return exitOK
}

// latencyResult makes a benchResult from a summary.
func latencyResult(group, name, what string, peer bool, s summary) benchResult {
	return benchResult{Group: group, Name: name, What: what, Peer: peer, MedianUS: micros(s.Median), P99US: micros(s.P99), N: s.N}
}

// measureCreate times n create+close cycles of an isolated interpreter,
// after warm untimed ones.
func measureCreate(ctx context.Context, rt *cpython.Runtime, n, warm int) (summary, error) {
	ds := make([]time.Duration, 0, n)
	for i := range warm + n {
		if err := ctx.Err(); err != nil {
			return summary{}, err
		}
		t0 := time.Now()
		in, err := rt.NewInterpreter(cpython.IsolatedConfig())
		if err != nil {
			return summary{}, fmt.Errorf("create: %w", err)
		}
		if err := in.Close(); err != nil {
			return summary{}, fmt.Errorf("close: %w", err)
		}
		if i >= warm {
			ds = append(ds, time.Since(t0))
		}
	}
	return summarize(ds), nil
}

// measureCall times n Call round trips of an identity function defined in
// __main__ of a warm isolated interpreter, after warm untimed ones.
func measureCall(ctx context.Context, rt *cpython.Runtime, n, warm int) (summary, error) {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return summary{}, fmt.Errorf("create: %w", err)
	}
	defer in.Close()
	if err := in.Exec(ctx, "def identity(x):\n    return x\n"); err != nil {
		return summary{}, err
	}
	ds := make([]time.Duration, 0, n)
	for i := range warm + n {
		t0 := time.Now()
		_, err := in.Call(ctx, "identity", 1)
		d := time.Since(t0)
		if err != nil {
			return summary{}, fmt.Errorf("call: %w", err)
		}
		if i >= warm {
			ds = append(ds, d)
		}
	}
	return summarize(ds), nil
}

// benchNoSiteChild is `microbench --internal-nosite`: the runtime starts once
// per process, so the parent re-runs this binary to measure create+close
// with RuntimeOptions.NoSite. It prints one benchResult as JSON.
func benchNoSiteChild(ctx context.Context, n int, stdout, stderr io.Writer) int {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: starting CPython: %v\n", err)
		return exitFailed
	}
	s, err := measureCreate(ctx, rt, n, fullSizes.createWarm)
	if err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: %v\n", err)
		return exitFailed
	}
	r := latencyResult("create", "subinterp-create-close-nosite", "NewInterpreter(IsolatedConfig())+Close(), RuntimeOptions.NoSite", false, s)
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		fmt.Fprintf(stderr, "subinterp microbench: %v\n", err)
		return exitFailed
	}
	_ = rt.Finalize()
	return exitOK
}

// benchNoSiteParent runs this binary with --internal-nosite and returns
// the measurement it prints.
func benchNoSiteParent(ctx context.Context, n int) (benchResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return benchResult{}, fmt.Errorf("finding this executable: %w", err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "microbench", "--internal-nosite", "--internal-n", strconv.Itoa(n))
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return benchResult{}, fmt.Errorf("%s microbench --internal-nosite: %v: %s", exe, err, strings.TrimSpace(errOut.String()))
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return benchResult{}, fmt.Errorf("reading the output of %s microbench --internal-nosite: %v", exe, err)
	}
	return r, nil
}

// findPeersScript returns the path of peers.py in dir, or a reason why it
// is not there. Unless dir was given explicitly, it also looks next to
// this executable (bin/subinterp → scripts/bench/peers.py).
func findPeersScript(dir string, explicit bool) (path, why string) {
	candidates := []string{filepath.Join(dir, "peers.py")}
	if !explicit {
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "scripts", "bench", "peers.py"))
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, ""
		}
	}
	return "", fmt.Sprintf("%s not found (run from the repository root or pass --scripts DIR)", candidates[0])
}

// peerRecord is one JSON line printed by peers.py.
type peerRecord struct {
	Name     string  `json:"name"`
	What     string  `json:"what"`
	MedianUS float64 `json:"median_us"`
	P99US    float64 `json:"p99_us"`
	N        int     `json:"n"`
	Site     bool    `json:"site"`
	Skipped  string  `json:"skipped"`
}

// runPeer runs `python [pyFlags] script name --n n` and parses its lines.
func runPeer(ctx context.Context, python string, pyFlags []string, script, name string, n int) ([]peerRecord, error) {
	args := append(append([]string{}, pyFlags...), script, name, "--n", strconv.Itoa(n))
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(python), strings.Join(args, " "), err, msg)
	}
	var recs []peerRecord
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r peerRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("peers.py printed %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return nil, errors.New("peers.py printed nothing")
	}
	return recs, nil
}

// printBench prints the report as tables for people.
func printBench(w io.Writer, rep benchReport) {
	build := "release"
	if rep.Python.Debug {
		build = "debug"
	}
	mode := "full run"
	if rep.Quick {
		mode = "quick run (--quick: few samples)"
	}
	fmt.Fprintf(w, "CPython %s (%s build, %s), %d CPUs; %s\n\n", rep.Python.Version, build, rep.Python.Prefix, rep.NumCPU, mode)
	groups := []struct{ key, title string }{
		{"create", "create + close an isolated interpreter"},
		{"call", "call round trip (identity function, warm)"},
	}
	// A line without tabs ends tabwriter's column blocks, so each group is
	// aligned on its own.
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\n\t\tmedian\tp99\tn\n", g.title)
		for _, r := range rep.Results {
			if r.Group != g.key {
				continue
			}
			who := "subinterp"
			if r.Peer {
				who = "peer"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", who, r.What, fmtMicros(r.MedianUS), fmtMicros(r.P99US), r.N)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "parallel CPU throughput, one unit = count_primes(%d) per worker\n", rep.Work)
	printParallel(w, rep.Parallel)
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "\npeer skipped: %s", s)
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintln(w)
	}
}

// fmtMicros formats a duration given in microseconds with a fitting unit.
func fmtMicros(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2f ms", us/1e3)
	default:
		return fmt.Sprintf("%.2f µs", us)
	}
}
