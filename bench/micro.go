package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// The latency microbenchmarks of `subinterp microbench`: interpreter
// create+close and an Interpreter.Call round trip, each next to what
// CPython itself offers for the same job (the latency modes of
// py/peers.py), then the parallel scaling table of parallel.go.

// microSizes are the sample counts of one microbench run.
type microSizes struct {
	create, createWarm int // create+close rounds
	calls, callWarm    int // Call round trips
	poolCalls          int // ProcessPoolExecutor round trips
	peerCalls          int // other peer round trips
	work, repeat       int // parallel: count_primes argument, runs per case
}

// microFull and microQuick are the sizes without and with Quick.
var (
	microFull  = microSizes{create: 30, createWarm: 2, calls: 20000, callWarm: 1000, poolCalls: 5000, peerCalls: 20000, work: DefaultWork, repeat: 3}
	microQuick = microSizes{create: 10, createWarm: 1, calls: 5000, callWarm: 1000, poolCalls: 500, peerCalls: 2000, work: DefaultWork / 2, repeat: 3}
)

// MicroOptions say what one RunMicro measures.
type MicroOptions struct {
	// Quick takes fewer samples and half-size work units.
	Quick bool
	// Python is the python3.X binary of the build this process links; the
	// peers run in it. Empty: every peer is skipped, NoPython saying why.
	Python   string
	NoPython string
	// NoSiteProbe is the command that runs MicroNoSiteMain in a fresh
	// process whose runtime starts with RuntimeOptions.NoSite (this binary
	// re-executing itself), to which the round count is appended. Empty:
	// create+close without site is skipped.
	NoSiteProbe []string
	// Progress receives a line per step, and one per skipped peer (nil:
	// silent).
	Progress io.Writer
}

// MicroResult is one latency measurement, ours or a peer's.
type MicroResult struct {
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

// MicroReport is what one RunMicro measured. `subinterp microbench --json`
// prints it after a description of the build.
type MicroReport struct {
	NumCPU   int              `json:"num_cpu"`
	Quick    bool             `json:"quick"`
	Results  []MicroResult    `json:"results"`
	Work     int              `json:"parallel_work"`
	Parallel []ParallelResult `json:"parallel"`
	// Skipped lists the measurements that could not run, with why.
	Skipped []string `json:"skipped"`
	// CrossCPU is ProbeCrossCPU right before and right after our Call
	// round trips (a probe that cannot run leaves no entry): the host's
	// placement of the CPUs, which a Call's latency follows.
	CrossCPU []MicroCrossCPU `json:"cross_cpu,omitempty"`
}

// MicroCrossCPU is one ProbeCrossCPU of a microbench run.
type MicroCrossCPU struct {
	// When is "before" or "after" our Call round trips.
	When string `json:"when"`
	CrossCPU
}

// microRun is one RunMicro under way.
type microRun struct {
	ctx   context.Context
	rt    *cpython.Runtime
	opts  MicroOptions
	sizes microSizes
	rep   *MicroReport
	pr    progress
	// peers starts peers.py; noPeers, when set, is why no peer can run.
	peers   peerCmd
	noPeers string
}

// RunMicro runs the microbenchmarks in rt. It fails only when one of
// this project's own measurements fails or ctx ends; a peer that cannot
// run is listed in Skipped.
func RunMicro(ctx context.Context, rt *cpython.Runtime, opts MicroOptions) (*MicroReport, error) {
	sizes := microFull
	if opts.Quick {
		sizes = microQuick
	}
	return runMicro(ctx, rt, opts, sizes)
}

// runMicro is RunMicro with the sizes given.
func runMicro(ctx context.Context, rt *cpython.Runtime, opts MicroOptions, sizes microSizes) (*MicroReport, error) {
	m := &microRun{ctx: ctx, rt: rt, opts: opts, sizes: sizes, pr: progress{w: opts.Progress, cmd: "microbench"},
		rep: &MicroReport{NumCPU: runtime.NumCPU(), Quick: opts.Quick, Work: sizes.work, Skipped: []string{}}}
	m.peers, m.noPeers = peerCmd{python: opts.Python}, opts.NoPython
	if opts.Python == "" && m.noPeers == "" {
		m.noPeers = "no python3 binary of the linked CPython build was found"
	}
	if opts.Python != "" {
		dir, err := os.MkdirTemp("", "subinterp-microbench-")
		if err != nil {
			return nil, fmt.Errorf("microbench: %w", err)
		}
		defer os.RemoveAll(dir)
		m.peers.dir = dir
		if err := writePyFiles(dir); err != nil {
			m.noPeers = err.Error()
		}
	}
	for _, phase := range []func() error{m.create, m.call, m.parallel} {
		if err := phase(); err != nil {
			return nil, err
		}
	}
	return m.rep, nil
}

// create is create+close: with site here, without in a child process, and
// CPython's _interpreters with and without -S.
func (m *microRun) create() error {
	m.pr.printf("create+close: %d isolated interpreters (site), alternating with _interpreters in this process", m.sizes.create)
	rs, err := createResults(m.ctx, m.rt, m.sizes.create, m.sizes.createWarm, "", "site imported")
	if err != nil {
		return err
	}
	m.addCreate(rs)
	m.pr.printf("create+close: %d isolated interpreters (no site, child process)", m.sizes.create)
	if rs, err := m.noSite(); err != nil {
		if m.ctx.Err() != nil {
			return err
		}
		m.rep.Skipped = append(m.rep.Skipped, "create+close without site: "+err.Error())
		m.pr.printf("create+close without site skipped: %v", err)
	} else {
		m.addCreate(rs)
	}
	m.peer("create", "interp-create", m.sizes.create)
	m.peer("create", "interp-create", m.sizes.create, "-S")
	return nil
}

// addCreate adds create+close results; one whose What says it was skipped
// (N 0) goes to Skipped instead.
func (m *microRun) addCreate(rs []MicroResult) {
	for _, r := range rs {
		if r.N == 0 {
			m.rep.Skipped = append(m.rep.Skipped, r.Name+": "+r.What)
			m.pr.printf("%s skipped: %s", r.Name, r.What)
			continue
		}
		m.add(r)
	}
}

// call is the Call round trip and its peers.
func (m *microRun) call() error {
	m.pr.printf("call: %d Interpreter.Call round trips", m.sizes.calls)
	m.probeCrossCPU("before")
	s, err := measureCall(m.ctx, m.rt, m.sizes.calls, m.sizes.callWarm)
	if err != nil {
		return err
	}
	m.probeCrossCPU("after")
	m.add(latencyResult("call", "subinterp-call", "Interpreter.Call(identity, 1) on a warm isolated interpreter", s))
	m.peer("call", "process-pool", m.sizes.poolCalls)
	m.peer("call", "thread-queue", m.sizes.peerCalls)
	m.peer("call", "interp-call", m.sizes.peerCalls)
	m.peer("call", "interp-exec", m.sizes.peerCalls)
	return m.ctx.Err()
}

// parallel is the parallel CPU throughput table.
func (m *microRun) parallel() error {
	counts := WorkerCounts(max(runtime.NumCPU(), 2))
	rows, err := MeasureParallel(m.ctx, m.rt, ParallelModes,
		ParallelOptions{Work: m.sizes.work, Counts: counts, Repeat: m.sizes.repeat, Progress: m.pr.printf})
	m.rep.Parallel = rows
	return err
}

// probeCrossCPU records ProbeCrossCPU, or says on the progress output why
// it could not run.
func (m *microRun) probeCrossCPU(when string) {
	x, err := ProbeCrossCPU(m.ctx)
	if err != nil {
		m.pr.printf("cross-cpu probe (%s the calls): not measured: %v", when, err)
		return
	}
	m.rep.CrossCPU = append(m.rep.CrossCPU, MicroCrossCPU{When: when, CrossCPU: x})
}

// add appends a result.
func (m *microRun) add(r MicroResult) { m.rep.Results = append(m.rep.Results, r) }

// skip lists a peer that could not run.
func (m *microRun) skip(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m.rep.Skipped = append(m.rep.Skipped, msg)
	if m.opts.Progress != nil {
		fmt.Fprintf(m.opts.Progress, "peer skipped: %s\n", msg)
	}
}

// peer runs the latency mode name of peers.py, n rounds, in python
// [pyFlags], and adds its figure to group.
func (m *microRun) peer(group, name string, n int, pyFlags ...string) {
	if m.noPeers != "" {
		m.skip("%s: %s", name, m.noPeers)
		return
	}
	m.pr.printf("peer %s %s(n=%d)", name, strings.Join(append(pyFlags, ""), " "), n)
	pc := m.peers
	pc.flags = pyFlags
	part := runPeer(m.ctx, pc, name, plan{Repeat: 1, Latency: &planLatency{Samples: n}}, progress{})
	if part.unavailable != "" {
		m.skip("%s: %s", name, part.unavailable)
		return
	}
	for _, l := range part.latency {
		r := MicroResult{Group: group, Name: "peer-" + l.Name, What: l.What, Peer: true, MedianUS: l.MedianUS, P99US: l.P99US, N: l.N}
		if l.Site {
			r.What += ", site imported"
		} else {
			r.Name += "-nosite"
			r.What += ", python -S"
		}
		m.add(r)
	}
}

// latencyResult makes one of this project's MicroResults from a summary.
func latencyResult(group, name, what string, s latency) MicroResult {
	return MicroResult{Group: group, Name: name, What: what, MedianUS: micros(s.Median), P99US: micros(s.P99), N: s.N}
}

// inProcessCreatePy defines, in the main interpreter, CPython's own
// create+destroy of an isolated interpreter, timed in Python around the two
// calls only (3.12 names the module _xxsubinterpreters).
const inProcessCreatePy = `
try:
    import _interpreters as _si_bench_interps
except ImportError:
    import _xxsubinterpreters as _si_bench_interps
import time as _si_bench_time
def _si_bench_create_destroy():
    t = _si_bench_time.perf_counter_ns()
    _si_bench_interps.destroy(_si_bench_interps.create())
    return _si_bench_time.perf_counter_ns() - t
`

// measureCreate times n create+close cycles of an isolated interpreter,
// after warm untimed ones, each followed by one of CPython's own
// _interpreters.create()+destroy() in rt's main interpreter: the same
// CPython, site setting and process, so that a machine whose load moves
// during the run moves both alike. If CPython's side cannot run, peerErr
// says why and only ours is timed.
func measureCreate(ctx context.Context, rt *cpython.Runtime, n, warm int) (ours, peer latency, peerErr error) {
	main := rt.Main()
	peerErr = main.Exec(ctx, inProcessCreatePy)
	ds := make([]time.Duration, 0, n)
	ps := make([]time.Duration, 0, n)
	for i := range warm + n {
		if err := ctx.Err(); err != nil {
			return latency{}, latency{}, err
		}
		t0 := time.Now()
		in, err := rt.NewInterpreter(cpython.IsolatedConfig())
		if err != nil {
			return latency{}, latency{}, fmt.Errorf("create: %w", err)
		}
		if err := in.Close(); err != nil {
			return latency{}, latency{}, fmt.Errorf("close: %w", err)
		}
		d := time.Since(t0)
		var ns int64
		if peerErr == nil {
			ns, peerErr = cpython.CallAs[int64](ctx, main, "_si_bench_create_destroy")
		}
		if i >= warm {
			ds = append(ds, d)
			if peerErr == nil {
				ps = append(ps, time.Duration(ns))
			}
		}
	}
	if peerErr != nil {
		return summarizeLatency(ds), latency{}, peerErr
	}
	return summarizeLatency(ds), summarizeLatency(ps), nil
}

// createResults is measureCreate as MicroResults, ours and the in-process
// peer's (with N 0 and the reason in What when it could not run); suffix
// names the variant ("", "-nosite") and site says how site was set.
func createResults(ctx context.Context, rt *cpython.Runtime, n, warm int, suffix, site string) ([]MicroResult, error) {
	ours, peer, peerErr := measureCreate(ctx, rt, n, warm)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if ours.N == 0 {
		return nil, peerErr
	}
	rs := []MicroResult{latencyResult("create", "subinterp-create-close"+suffix, "NewInterpreter(IsolatedConfig())+Close(), "+site, ours)}
	p := latencyResult("create", "peer-interp-create-inprocess"+suffix, "_interpreters.create()+destroy() in this process's main interpreter, alternating with ours, "+site, peer)
	p.Peer = true
	if peerErr != nil {
		p.What = "CPython's own create+destroy in this process failed: " + peerErr.Error()
		p.N = 0
	}
	return append(rs, p), nil
}

// measureCall times n Call round trips of an identity function defined in
// __main__ of a warm isolated interpreter, after warm untimed ones.
func measureCall(ctx context.Context, rt *cpython.Runtime, n, warm int) (latency, error) {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return latency{}, fmt.Errorf("create: %w", err)
	}
	defer in.Close()
	if err := in.Exec(ctx, "def identity(x):\n    return x\n"); err != nil {
		return latency{}, err
	}
	ds := make([]time.Duration, 0, n)
	for i := range warm + n {
		t0 := time.Now()
		_, err := in.Call(ctx, "identity", 1)
		d := time.Since(t0)
		if err != nil {
			return latency{}, fmt.Errorf("call: %w", err)
		}
		if i >= warm {
			ds = append(ds, d)
		}
	}
	return summarizeLatency(ds), nil
}

// noSiteProbeTimeout bounds the child that measures create+close without
// site: starting CPython and the rounds of a full run.
const noSiteProbeTimeout = time.Minute

// noSite measures create+close without site in a fresh process: the
// runtime starts once per process, and this one imported site.
func (m *microRun) noSite() ([]MicroResult, error) {
	if len(m.opts.NoSiteProbe) == 0 {
		return nil, errors.New("no probe command to run it in a fresh process")
	}
	var rs []MicroResult
	if err := runProbe(m.ctx, m.opts.NoSiteProbe, noSiteProbeTimeout, &rs, strconv.Itoa(m.sizes.create)); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(m.opts.NoSiteProbe, " "), err)
	}
	return rs, nil
}

// MicroNoSiteMain is the create+close probe of RunMicro, run in a fresh
// process whose runtime rt started with RuntimeOptions.NoSite: it times n
// rounds, ours alternating with CPython's own in the same process, and
// writes the two MicroResults to w as a JSON array.
func MicroNoSiteMain(ctx context.Context, rt *cpython.Runtime, n int, w io.Writer) error {
	rs, err := createResults(ctx, rt, max(n, 1), microFull.createWarm, "-nosite", "RuntimeOptions.NoSite")
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(rs)
}

// WriteMicroText prints the report as tables for people; build names the
// CPython build ("CPython 3.13.15 (release build, /prefix)").
func WriteMicroText(w io.Writer, rep *MicroReport, build string) {
	mode := "full run"
	if rep.Quick {
		mode = "quick run (--quick: few samples)"
	}
	fmt.Fprintf(w, "%s, %d CPUs; %s\n\n", build, rep.NumCPU, mode)
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
	if len(rep.CrossCPU) > 0 {
		trips := make([]string, len(rep.CrossCPU))
		for i, x := range rep.CrossCPU {
			trips[i] = fmt.Sprintf("%.0f ns %s", x.RoundTripNs, x.When)
		}
		x := rep.CrossCPU[0]
		fmt.Fprintf(w, "a cache line from CPU %d to CPU %d and back: %s our calls\n(the floor of every hand-off; where the host runs the two CPUs sets it)\n\n", x.A, x.B, strings.Join(trips, ", "))
	}
	fmt.Fprintf(w, "parallel CPU throughput, one unit = count_primes(%d) per worker\n", rep.Work)
	WriteParallelTable(w, rep.Parallel)
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
