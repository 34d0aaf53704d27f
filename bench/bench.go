// Package bench is the project's one measuring harness: everything
// `subinterp bench`, `subinterp microbench` and `subinterp doctor` time.
//
//   - Run (bench.go, subinterp.go, peer.go, memprobe.go) measures this
//     project's interpreter pools side by side with the other ways to run
//     Python on several cores — Python threads, multiprocessing,
//     concurrent.futures and CPython's own interpreters API — on the same
//     CPython build, in one run; render.go and plot.go turn its Report
//     into a table, Markdown and plots, goals.go checks the project's
//     goals against it.
//   - RunMicro (micro.go) times interpreter create+close and a Call round
//     trip next to what CPython itself offers for the same jobs, and the
//     parallel scaling table.
//   - MeasureParallel and CheckPair (parallel.go) time one CPU-bound
//     function in 1..K own-GIL interpreters, threads and shared-GIL
//     interpreters; CheckPair is doctor's check that own-GIL interpreters
//     really run at the same time.
//   - stats.go holds the one median and percentile summary they all use.
//
// All the Python is in py/ and embedded in the binary. The workloads
// (py/workloads.py) run in this process through cpython.Pool for the two
// subinterp modes; every other mode, and every microbench peer, runs in a
// plain Python process of the same build through py/peers.py, which speaks
// a line-per-object JSON protocol (see that file; runPeer is its one
// reader). py/parallel.py is the unit of work of the parallel
// measurements. py/channel_peers.py, the channel figures' peers, is run by
// hand (docs/microbenchmarks.md).
package bench

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// pyFiles are the Python files of every measurement here, in the binary:
// nothing is looked up on disk at run time.
//
//go:embed py/*.py
var pyFiles embed.FS

// ErrUsage is wrapped by the errors of Options that cannot be run: an
// unknown workload or mode, a worker count or repeat below one.
var ErrUsage = errors.New("bench: invalid options")

// Workload names, in the order reports show them.
var Workloads = []string{"nbody", "spectral_norm", "fannkuch", "json", "regex", "shared_graph", "private_state", "tiny", "transfer"}

// Options say what one Run measures. The zero value of a field means its
// default.
type Options struct {
	// Workloads to run (default: all of Workloads).
	Workloads []string
	// Modes to run (default: all of Modes). The sequential baseline is
	// always run when a speedup needs it.
	Modes []string
	// Workers are the pool sizes (default: 1, 2, 4, ... up to CPUs, and
	// CPUs itself).
	Workers []int
	// Repeat is how many times each case is timed (default 5, 3 with
	// Quick).
	Repeat int
	// Quick uses small work units and fewer samples: a smoke test that
	// finishes in under a minute on 2 cores.
	Quick bool
	// Python is the python3.X binary of the build this process links; the
	// peer modes run in it. Empty: every peer mode is unavailable.
	Python string
	// PythonBuild describes the build for the report.
	PythonBuild string
	// FreeThreadedPython is the python3.Xt of a free-threaded build of
	// the same CPython version (configure --disable-gil), in which the
	// free-threaded modes run. Empty: they are unavailable, for the
	// reason FreeThreadedMissing gives.
	FreeThreadedPython string
	// FreeThreadedMissing says why there is no FreeThreadedPython, and
	// how to get one.
	FreeThreadedMissing string
	// Progress receives one line per step (nil: silent).
	Progress io.Writer
	// OnProgress, if set, is called after every step with how far the
	// run is: for a progress bar (cmd/subinterp draws one on a terminal).
	// It is called from one goroutine at a time.
	OnProgress func(Progress)
	// SelfPeer is the command that runs PeerMain in a fresh process (this
	// binary re-executing itself), to which peers.py's path and arguments
	// are appended: the peer of ModeSubinterpInterpreters, which needs
	// subinterp's embedded runtime. Empty: that mode is unavailable.
	SelfPeer []string
	// MemoryProbe is the command that runs MemoryProbeMain in a fresh
	// process (this binary re-executing itself), to which the mode and the
	// worker count are appended. The subinterp modes' memory per worker is
	// measured there, as a worker process's memory is measured in a fresh
	// process: in this process, the pools of earlier cases leave freed
	// memory behind that later pools reuse. Empty: measured in this
	// process.
	MemoryProbe []string
}

// sizes holds the sample counts that depend on Quick.
type sizes struct {
	repeat          int
	startupSamples  int
	roundtripSample int
	tinyTasks       int
	transferTasks   int
	tasksPerWorker  int
}

var (
	fullSizes  = sizes{repeat: 5, startupSamples: 5, roundtripSample: 2000, tinyTasks: 4000, transferTasks: 64, tasksPerWorker: 4}
	quickSizes = sizes{repeat: 3, startupSamples: 2, roundtripSample: 300, tinyTasks: 500, transferTasks: 8, tasksPerWorker: 4}
)

// roundtripPayloads are the payload sizes of the round-trip measurement: a
// small message and a bulk transfer.
var roundtripPayloads = []int{1024, 1 << 20}

// DefaultWorkers is 1, 2, 4, ... below cpus, then cpus.
func DefaultWorkers(cpus int) []int {
	var ws []int
	for w := 1; w < cpus; w *= 2 {
		ws = append(ws, w)
	}
	return append(ws, max(cpus, 1))
}

// Validate checks the options without running anything and fills in the
// defaults. Its errors wrap ErrUsage.
func (o *Options) Validate() error {
	var err error
	if o.Workloads, err = selected("workload", o.Workloads, Workloads); err != nil {
		return err
	}
	if o.Modes, err = selected("mode", o.Modes, Modes); err != nil {
		return err
	}
	if len(o.Workers) == 0 {
		o.Workers = DefaultWorkers(runtime.NumCPU())
	}
	for _, w := range o.Workers {
		if w <= 0 {
			return fmt.Errorf("%w: workers must be at least 1, got %d", ErrUsage, w)
		}
	}
	slices.Sort(o.Workers)
	o.Workers = slices.Compact(o.Workers)
	if o.Repeat < 0 {
		return fmt.Errorf("%w: repeat must be at least 1, got %d", ErrUsage, o.Repeat)
	}
	if o.Repeat == 0 {
		o.Repeat = fullSizes.repeat
		if o.Quick {
			o.Repeat = quickSizes.repeat
		}
	}
	return nil
}

// selected checks names (a workload or mode selection; what names which)
// against all and returns them distinct, in the order of all; no names
// selects all.
func selected(what string, names, all []string) ([]string, error) {
	if len(names) == 0 {
		return slices.Clone(all), nil
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("%w: unknown %s %q (valid: %s)", ErrUsage, what, n, strings.Join(all, ", "))
		}
	}
	var out []string
	for _, n := range all {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// plan is what every mode runs: the same workloads with the same sizes and
// task counts, so that rows compare.
type plan struct {
	Workers   []int          `json:"workers"`
	Repeat    int            `json:"repeat"`
	Workloads []planWorkload `json:"workloads"`
	// StartupSamples is how many fresh pools to time (0: none).
	StartupSamples int `json:"startup_samples"`
	// Roundtrip is nil when round trips are not measured.
	Roundtrip *planRoundtrip `json:"roundtrip,omitempty"`
	// Latency is set for microbench's latency modes only.
	Latency *planLatency `json:"latency,omitempty"`
}

type planWorkload struct {
	Name  string `json:"name"`
	Size  int    `json:"size"`
	Tasks int    `json:"tasks"`
}

type planRoundtrip struct {
	Payloads []int `json:"payloads"`
	Samples  int   `json:"samples"`
}

type planLatency struct {
	Samples int `json:"samples"`
}

// Run measures what opts ask for. rt is the runtime of this process; the
// subinterp modes create their pools in it. Rows that fail carry their
// error and the run goes on; Run itself fails only when nothing can be
// measured (the Python files cannot be written, the workloads do not load,
// ctx ends).
func Run(ctx context.Context, rt *cpython.Runtime, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sz := fullSizes
	if opts.Quick {
		sz = quickSizes
	}
	started := time.Now()
	dir, err := os.MkdirTemp("", "subinterp-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := writePyFiles(dir); err != nil {
		return nil, err
	}
	meta, err := loadWorkloads(ctx, rt, dir, opts.Quick)
	if err != nil {
		return nil, err
	}

	p := plan{Workers: opts.Workers, Repeat: opts.Repeat, StartupSamples: sz.startupSamples,
		Roundtrip: &planRoundtrip{Payloads: roundtripPayloads, Samples: sz.roundtripSample}}
	rep := &Report{Python: rt.Version(), PythonBuild: opts.PythonBuild, CPUs: runtime.NumCPU(), CPUModel: cpuModel(),
		Quick: opts.Quick, Repeat: opts.Repeat, Workers: opts.Workers, Started: started.UTC().Truncate(time.Second),
		Results: []Result{}, Startup: []Startup{}, Roundtrip: []Roundtrip{}, Unavailable: []Unavailable{}}
	for _, name := range opts.Workloads {
		m := meta[name]
		w := planWorkload{Name: name, Size: m.size, Tasks: sz.tasksPerWorker * slices.Max(opts.Workers)}
		switch name {
		case "tiny":
			w.Tasks = sz.tinyTasks
		case "transfer":
			w.Tasks = sz.transferTasks
		}
		w.Tasks = max(w.Tasks, 8)
		p.Workloads = append(p.Workloads, w)
		rep.Workloads = append(rep.Workloads, WorkloadInfo{Name: name, About: m.about, CPUBound: m.cpuBound, Size: w.Size, Tasks: w.Tasks})
	}

	pr := progress{w: opts.Progress, cmd: "bench", st: &progressState{on: opts.OnProgress, started: started}}

	modes := slices.Clone(opts.Modes)
	if slices.Contains(modes, ModeThreadsFreeThreaded) && !slices.Contains(modes, ModeSequentialFreeThreaded) {
		// Free-threading's scaling and single-thread cost need its own
		// sequential run; its rows are kept, as they are that cost.
		modes = slices.Insert(modes, slices.Index(modes, ModeThreadsFreeThreaded)+1, ModeSequentialFreeThreaded)
	}
	// Speedups need the baseline: it runs first (if it was not asked for,
	// it only feeds the speedup column), and again last, to see whether
	// the machine's speed moved during the run (Report.Baseline).
	modes = slices.DeleteFunc(modes, func(m string) bool { return m == ModeSequential })
	modes = slices.Insert(modes, 0, ModeSequential)
	for _, mode := range modes {
		workers := len(p.Workers)
		if mode == ModeSequential || mode == ModeSequentialFreeThreaded {
			workers = 1
		}
		pr.st.total += len(p.Workloads) * workers
	}
	pr.st.total++                   // the round trip reference
	pr.st.total += len(p.Workloads) // the closing baseline
	probeCPUs(ctx, rep, "start", pr)
	peers := peerCmd{python: opts.Python, dir: dir}
	ftPeers := peerCmd{python: opts.FreeThreadedPython, dir: dir}
	for _, mode := range modes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mp := p
		if mode == ModeSequential || mode == ModeSequentialFreeThreaded {
			mp.Workers = []int{1}
			mp.StartupSamples = 0
			mp.Roundtrip = nil
		}
		pr.printf("%s: %d workload(s), workers %v, repeat %d", mode, len(mp.Workloads), mp.Workers, mp.Repeat)
		var part modeReport
		switch mode {
		case ModeOwnGIL, ModeSharedGIL:
			part = runSubinterp(ctx, rt, mode, dir, mp, pr, opts.MemoryProbe)
		case ModeSubinterpInterpreters:
			self, err := selfPeerCmd(opts.SelfPeer, dir)
			if err != nil {
				part.unavailable = err.Error()
				break
			}
			part = runPeer(ctx, self, mode, mp, pr)
		case ModeThreadsFreeThreaded, ModeSequentialFreeThreaded:
			if opts.FreeThreadedPython == "" {
				part.unavailable = opts.FreeThreadedMissing
				if part.unavailable == "" {
					part.unavailable = "no free-threaded CPython build was given"
				}
				break
			}
			part = runPeer(ctx, ftPeers, mode, mp, pr)
			if part.unavailable == "" {
				rep.FreeThreadedPython = opts.FreeThreadedPython
			}
		default:
			part = runPeer(ctx, peers, mode, mp, pr)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if part.unavailable != "" {
			rep.Unavailable = append(rep.Unavailable, Unavailable{Mode: mode, Reason: part.unavailable})
			pr.casesDone(len(mp.Workloads)*len(mp.Workers) - len(part.results))
			pr.printf("%s: unavailable: %s", mode, part.unavailable)
			continue
		}
		rep.Results = append(rep.Results, part.results...)
		rep.Startup = append(rep.Startup, part.startup...)
		rep.Roundtrip = append(rep.Roundtrip, part.roundtrip...)
	}
	closing := runClosingBaseline(ctx, peers, p, pr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The reference point of the round-trip goal: a raw Pipe to a process.
	pr.printf("%s: round trip reference", ModeMultiprocessingPipe)
	pipe := runPeer(ctx, peers, ModeMultiprocessingPipe, plan{Workers: []int{1}, Repeat: 1, Roundtrip: p.Roundtrip}, pr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if pipe.unavailable != "" {
		rep.Unavailable = append(rep.Unavailable, Unavailable{Mode: ModeMultiprocessingPipe, Reason: pipe.unavailable})
	}
	pr.casesDone(pr.st.total) // whatever rows failed to report
	pr.printf("%d cases in %.0f s", pr.st.total, time.Since(started).Seconds())
	rep.Roundtrip = append(rep.Roundtrip, pipe.roundtrip...)

	rep.Baseline, rep.BaselineMoved = baselineDrift(rep.Results, closing)
	if rep.BaselineMoved {
		pr.printf("warning: %s", baselineWarning(rep))
	}
	probeCPUs(ctx, rep, "end", pr)
	if w := cpuSpeedsWarning(rep); w != "" {
		pr.printf("warning: %s", w)
	}
	finish(rep, slices.Contains(opts.Modes, ModeSequential))
	rep.Seconds = round(time.Since(started).Seconds(), 1)
	return rep, nil
}

// probeCPUs records the CPUs' speeds (ProbeCPUSpeeds) in rep; a probe
// that cannot run is reported on the progress output and leaves no sample.
func probeCPUs(ctx context.Context, rep *Report, when string, pr progress) {
	if ctx.Err() != nil {
		return // the run is over; its caller reports why
	}
	speeds, err := ProbeCPUSpeeds(ctx)
	if err != nil {
		pr.printf("cpu speeds (%s): not measured: %v", when, err)
		return
	}
	rep.CPUSpeeds = append(rep.CPUSpeeds, CPUSpeedSample{When: when, Speeds: speeds})
	if spread, _, _ := CPUSpread(speeds); spread > MaxCPUSpread {
		rep.CPUsUnequal = true
	}
	pr.printf("cpu speeds (%s): %s", when, FormatCPUSpeeds(speeds))
}

// cpuSpeedsWarning is CPUSpeedsWarning for the sample of the run whose
// CPUs differed most, or "" when they never differed by more than
// MaxCPUSpread.
func cpuSpeedsWarning(r *Report) string {
	if !r.CPUsUnequal {
		return ""
	}
	var worst CPUSpeedSample
	widest := -1.0
	for _, s := range r.CPUSpeeds {
		if spread, _, _ := CPUSpread(s.Speeds); spread > widest {
			worst, widest = s, spread
		}
	}
	return "at the " + worst.When + " of the run, " + CPUSpeedsWarning(worst.Speeds)
}

// runClosingBaseline times the sequential mode again at the end of a run.
func runClosingBaseline(ctx context.Context, peers peerCmd, p plan, pr progress) []Result {
	p.Workers, p.StartupSamples, p.Roundtrip = []int{1}, 0, nil
	pr.printf("%s: again, to see whether the machine's speed moved during the run", ModeSequential)
	return runPeer(ctx, peers, ModeSequential, p, pr).results
}

// baselineDrift compares the first sequential rows of results with the
// closing ones, per workload, and says whether any moved by more than
// MaxBaselineDrift.
func baselineDrift(results, closing []Result) (drift []BaselineDrift, moved bool) {
	first := map[string]float64{}
	for _, r := range results {
		if r.Mode == ModeSequential && r.Error == "" {
			first[r.Workload] = r.WallSeconds.Median
		}
	}
	for _, r := range closing {
		f, ok := first[r.Workload]
		if !ok || r.Error != "" || f <= 0 || r.WallSeconds.Median <= 0 {
			continue
		}
		d := BaselineDrift{Workload: r.Workload, FirstSeconds: f, LastSeconds: r.WallSeconds.Median,
			Change: roundSig(r.WallSeconds.Median/f-1, 3)}
		drift = append(drift, d)
		if driftCounts(d) {
			moved = true
		}
	}
	return drift, moved
}

// minDriftSeconds is the shortest baseline whose drift counts: below it a
// run's timing is mostly timer and scheduling noise (the tiny workload's
// whole run takes well under a millisecond).
const minDriftSeconds = 0.01

// driftCounts says whether d moved by more than MaxBaselineDrift on a
// baseline long enough to tell.
func driftCounts(d BaselineDrift) bool {
	return d.FirstSeconds >= minDriftSeconds && math.Abs(d.Change) > MaxBaselineDrift
}

// baselineWarning says which baselines moved, for the report's readers.
func baselineWarning(r *Report) string {
	var moved []string
	for _, d := range r.Baseline {
		if driftCounts(d) {
			moved = append(moved, fmt.Sprintf("%s %+.0f%%", d.Workload, 100*d.Change))
		}
	}
	return fmt.Sprintf("the sequential baseline moved by more than %.0f%% between the start and the end of the run (%s): other processes were probably using the cores, so the speedups are unreliable",
		100*MaxBaselineDrift, strings.Join(moved, ", "))
}

// modeReport is what one mode contributed to a Report.
type modeReport struct {
	unavailable string
	results     []Result
	startup     []Startup
	roundtrip   []Roundtrip
	latency     []peerLatency
}

// finish derives the speedups, checks every digest against the sequential
// one and evaluates the goals. keepSequential is false when the sequential
// rows were only run as the baseline.
func finish(rep *Report, keepSequential bool) {
	base := map[string]Result{}
	for _, r := range rep.Results {
		if r.Mode == ModeSequential && r.Error == "" {
			base[r.Workload] = r
		}
	}
	var kept []Result
	for _, r := range rep.Results {
		if b, ok := base[r.Workload]; ok && r.Error == "" {
			if r.WallSeconds.Median > 0 {
				r.Speedup = roundSig(b.WallSeconds.Median/r.WallSeconds.Median, 4)
				r.Efficiency = roundSig(r.Speedup/float64(min(r.Workers, rep.CPUs)), 4)
			}
			if r.Checksum != b.Checksum {
				r.Error = fmt.Sprintf("wrong results: digest %.12s differs from sequential %.12s", r.Checksum, b.Checksum)
			}
		}
		if r.Mode == ModeSequential && !keepSequential {
			continue
		}
		kept = append(kept, r)
	}
	rep.Results = kept
	sort.SliceStable(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if wa, wb := slices.Index(Workloads, a.Workload), slices.Index(Workloads, b.Workload); wa != wb {
			return wa < wb
		}
		if ma, mb := slices.Index(Modes, a.Mode), slices.Index(Modes, b.Mode); ma != mb {
			return ma < mb
		}
		return a.Workers < b.Workers
	})
	rep.Goals = evaluateGoals(rep)
}

// writePyFiles copies the embedded Python files into dir.
func writePyFiles(dir string) error {
	entries, err := pyFiles.ReadDir("py")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, e := range entries {
		b, err := pyFiles.ReadFile("py/" + e.Name())
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return fmt.Errorf("bench: writing the Python files: %w", err)
		}
	}
	return nil
}

// Progress is how far a Run is, for Options.OnProgress.
type Progress struct {
	// Done and Total count the cases: a workload run by one mode with one
	// pool size (an unavailable mode's cases count as done at once), and
	// the round-trip reference.
	Done, Total int
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// Step is the step that just ended, as a progress line says it.
	Step string
}

// progress writes one line per step, or nothing; each line starts with
// the command's name. st, if set, counts cases for Options.OnProgress.
type progress struct {
	w   io.Writer
	cmd string
	st  *progressState
}

// progressState counts the cases of a Run.
type progressState struct {
	mu          sync.Mutex
	done, total int
	started     time.Time
	on          func(Progress)
}

func (p progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, p.cmd+": "+format+"\n", args...)
	}
	if p.st != nil && p.st.on != nil {
		p.st.mu.Lock()
		defer p.st.mu.Unlock()
		p.st.on(Progress{Done: min(p.st.done, p.st.total), Total: p.st.total, Elapsed: time.Since(p.st.started), Step: fmt.Sprintf(format, args...)})
	}
}

// casesDone counts n more cases as done.
func (p progress) casesDone(n int) {
	if p.st != nil {
		p.st.mu.Lock()
		p.st.done += n
		p.st.mu.Unlock()
	}
}
