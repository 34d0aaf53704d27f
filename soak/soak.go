// Package soak runs long soak scenarios against a *cpython.Runtime and
// reports what a Go service that embeds subinterp for months would notice:
// resident memory that keeps growing, interrupts that do not stop the code
// they were aimed at, interpreters a pool had to replace, channels nobody
// released, and errors that should not happen. It is the benchmark behind
// `subinterp soak` (make soak, make soak-ci); docs/soak.md explains every
// scenario and figure.
//
// Each scenario warms up for the first tenth of its run, then measures: the
// growth figures compare the memory after the warm-up with the memory at
// the end of the run, both taken in the same state (the scenario's
// interpreters and pools still open), so that steady per-iteration growth —
// a leak — is told apart from the cost of setting the scenario up. Memory
// is read twice each time: the process's resident set (VmRSS, which
// includes CPython's allocations) and the Go heap in use (HeapInuse), so
// that growth can be pinned on C or on Go.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// ErrUsage is wrapped by the errors of Options that cannot be run.
var ErrUsage = errors.New("soak: invalid options")

// Scenario names, in the order Run runs them.
const (
	// Churn creates an own-GIL interpreter, evaluates "1" in it and closes
	// it, over and over.
	Churn = "churn"
	// PoolCancel calls a small function through a pool of 2 from several
	// goroutines, cancelling 1 % of the calls while they run pure Python.
	PoolCancel = "pool-cancel"
	// Channels moves values Go→Python, Python→Go, Python→Python and Go→Go
	// over fresh channels, with sends that are cancelled.
	Channels = "channels"
)

// Scenarios lists every scenario, in the order Run runs them: churn last,
// because CPython 3.13 never gives back an isolated interpreter's memory
// (docs/soak.md) and the others' figures read more easily without its
// gigabytes.
var Scenarios = []string{PoolCancel, Channels, Churn}

// DefaultIterations is the full-size run of each scenario (Scale 1): what
// `make soak` runs and what the goals are stated for. An iteration is one
// create+eval+close cycle (churn), one pool call (pool-cancel), or one
// message in each of the four directions (channels).
var DefaultIterations = map[string]int{
	Churn:      10_000,
	PoolCancel: 200_000,
	Channels:   200_000,
}

// Options say what one Run does. The zero value runs every scenario at
// full size, silently.
type Options struct {
	// Scenarios to run (default: all of Scenarios).
	Scenarios []string
	// Iterations overrides the iteration count of the scenarios it names
	// (Scale does not apply to it).
	Iterations map[string]int
	// Duration, if set, runs each scenario for this long instead of for a
	// number of iterations.
	Duration time.Duration
	// Scale multiplies the DefaultIterations (0 means 1). make soak-ci
	// runs at 0.1. The goals scale with the iterations actually run.
	Scale float64
	// Progress receives a line at every tenth of each scenario (nil:
	// silent).
	Progress io.Writer

	// PoolSize is pool-cancel's pool size (default 2).
	PoolSize int
	// Callers is how many goroutines call the pool at once (default 4).
	Callers int
	// CancelEvery makes one pool call in CancelEvery a cancelled one
	// (default 100: 1 %).
	CancelEvery int
	// SpinLimit bounds the pure-Python loop that cancelled calls run
	// (default 20 s): an interrupt that never arrives shows up as a loop
	// that ran to this limit, and the process still ends.
	SpinLimit time.Duration
	// IdleWait bounds the wait, after pool-cancel's calls, for every
	// interpreter the scenario started to stop running (default 10 s).
	IdleWait time.Duration
	// RoundSize is how many messages go each way over one set of fresh
	// channels in the channels scenario (default 100).
	RoundSize int
	// BaselineCycles is how many create+destroy cycles of CPython's own
	// _interpreters module churn measures first, as the baseline of its
	// memory goal: 0 means a tenth of the churn (at least 20, at most
	// 200), negative means none.
	BaselineCycles int
	// MaxRSSGrowth stops a scenario once the process's RSS has grown by
	// this much since the scenario started (default 2 GiB), so that a leak
	// fails the run instead of exhausting the machine.
	MaxRSSGrowth uint64

	noSite bool // the runtime's mode, found by Run
}

// Defaults of the Options tuning fields.
const (
	defaultPoolSize    = 2
	defaultCallers     = 4
	defaultCancelEvery = 100
	defaultSpinLimit   = 20 * time.Second
	defaultIdleWait    = 10 * time.Second
	defaultRoundSize   = 100
	// defaultMaxRSSGrowth: CPython 3.13 alone leaks about 1.3 MB per
	// isolated interpreter (docs/soak.md), so a full churn run would need
	// 13 GB or more.
	defaultMaxRSSGrowth = 2 << 30
	// warmupFraction of each run is warm-up; progress is reported at every
	// tenth, the first of which ends the warm-up.
	progressSteps = 10
)

// Validate reports options Run would refuse, wrapping ErrUsage.
func (o Options) Validate() error {
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("%w: unknown scenario %q (valid: %s)", ErrUsage, s, strings.Join(Scenarios, ", "))
		}
	}
	for s, n := range o.Iterations {
		if !slices.Contains(Scenarios, s) {
			return fmt.Errorf("%w: iterations for unknown scenario %q", ErrUsage, s)
		}
		if n < 1 {
			return fmt.Errorf("%w: %s: %d iterations (want at least 1)", ErrUsage, s, n)
		}
	}
	switch {
	case o.Duration < 0:
		return fmt.Errorf("%w: negative duration %v", ErrUsage, o.Duration)
	case o.Duration > 0 && len(o.Iterations) > 0:
		return fmt.Errorf("%w: give a duration or iteration counts, not both", ErrUsage)
	case o.Scale < 0:
		return fmt.Errorf("%w: negative scale %g", ErrUsage, o.Scale)
	case o.PoolSize < 0, o.Callers < 0, o.CancelEvery < 0, o.RoundSize < 0, o.SpinLimit < 0, o.IdleWait < 0:
		return fmt.Errorf("%w: negative tuning option", ErrUsage)
	}
	return nil
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if len(o.Scenarios) == 0 {
		o.Scenarios = Scenarios
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	setDefault(&o.PoolSize, defaultPoolSize)
	setDefault(&o.Callers, defaultCallers)
	setDefault(&o.CancelEvery, defaultCancelEvery)
	setDefault(&o.RoundSize, defaultRoundSize)
	if o.SpinLimit == 0 {
		o.SpinLimit = defaultSpinLimit
	}
	if o.IdleWait == 0 {
		o.IdleWait = defaultIdleWait
	}
	if o.MaxRSSGrowth == 0 {
		o.MaxRSSGrowth = defaultMaxRSSGrowth
	}
	return o
}

func setDefault(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

// iterations is the count scenario runs for (0 in duration mode).
func (o Options) iterations(scenario string) int64 {
	if o.Duration > 0 {
		return 0
	}
	if n, ok := o.Iterations[scenario]; ok {
		return int64(n)
	}
	return max(int64(float64(DefaultIterations[scenario])*o.Scale+0.5), 1)
}

// Report is the outcome of one Run; it serialises to JSON as documented in
// docs/soak.md.
type Report struct {
	Started    time.Time `json:"started"`
	Python     string    `json:"python"`
	Debug      bool      `json:"debug_build"`
	NoSite     bool      `json:"no_site"` // the runtime's mode: RuntimeOptions.NoSite (sys.flags.no_site)
	GoVersion  string    `json:"go_version"`
	NumCPU     int       `json:"num_cpu"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	// Scale is the factor applied to DefaultIterations (1: full size).
	Scale float64 `json:"scale"`
	// DurationSeconds is Options.Duration, 0 when iteration counts ruled.
	DurationSeconds float64          `json:"duration_s,omitempty"`
	Scenarios       []ScenarioReport `json:"scenarios"`
	// OK is true when every goal of every scenario passed.
	OK bool `json:"ok"`
}

// ScenarioReport is what one scenario did and measured.
type ScenarioReport struct {
	Name string `json:"name"`
	// Unit names an iteration: "cycles", "calls", "messages each way".
	Unit string `json:"unit"`
	// Iterations ran, of which WarmupIterations before the warm-up sample.
	Iterations       int64   `json:"iterations"`
	WarmupIterations int64   `json:"warmup_iterations"`
	WallSeconds      float64 `json:"wall_s"`
	// Memory at the start (before the scenario set anything up), after the
	// warm-up, at the end of the iterations (same state as after the
	// warm-up), and after the scenario tore everything down; Samples has one
	// per tenth of the run, for the trend.
	Start   Sample   `json:"start"`
	Warm    Sample   `json:"warm"`
	End     Sample   `json:"end"`
	Final   Sample   `json:"final"`
	Samples []Sample `json:"samples"`
	// Growth is End minus Warm per 1,000 iterations after the warm-up.
	Growth Growth `json:"growth_per_1000"`
	// Errors counts failed iterations by kind (see docs/soak.md); Expected
	// are the outcomes a cancelled call or send is meant to have.
	Errors   map[string]int64 `json:"errors"`
	Expected map[string]int64 `json:"expected"`
	// ErrorSamples has the first message seen of each error kind.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	// LostInterrupts counts cancelled calls whose code was never stopped:
	// interpreters the scenario started that still ran after the bounded
	// idle wait, plus loops that ran to SpinLimit.
	LostInterrupts int64 `json:"lost_interrupts"`

	Churn    *ChurnFigures   `json:"churn,omitempty"`
	Pool     *PoolFigures    `json:"pool,omitempty"`
	Channels *ChannelFigures `json:"channels,omitempty"`
	Goals    []Goal          `json:"goals"`
	OK       bool            `json:"ok"`
	// Aborted says why the scenario gave up early (too many errors: a
	// failure); Truncated why it stopped early without failing by itself
	// (RSS reached MaxRSSGrowth: the growth goal judges what ran).
	Aborted   string `json:"aborted,omitempty"`
	Truncated string `json:"truncated,omitempty"`
}

// Goal is one pass/fail check of a scenario.
type Goal struct {
	Name string `json:"name"`
	// Want and Got are for people ("< 5.0 MB per 1,000 cycles", "1.2 MB").
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// Run runs the scenarios of opts one after the other against rt and
// returns their report. It stops early when ctx ends, returning the report
// so far with ctx's error. rt must be running; Run creates and closes its
// own interpreters, pools and channels and leaves the runtime's other
// users alone (but shares the process's memory with them, so run it in a
// process of its own for meaningful memory figures).
func Run(ctx context.Context, rt *cpython.Runtime, opts Options) (*Report, error) {
	if rt == nil {
		return nil, cpython.ErrNotInitialized
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	noSite, err := runtimeNoSite(ctx, rt)
	if err != nil {
		return nil, err
	}
	o.noSite = noSite
	rep := &Report{
		Started:         time.Now().UTC().Truncate(time.Second),
		Python:          rt.Version(),
		Debug:           rt.Debug(),
		NoSite:          noSite,
		GoVersion:       runtime.Version(),
		NumCPU:          runtime.NumCPU(),
		GOMAXPROCS:      runtime.GOMAXPROCS(0),
		Scale:           o.Scale,
		DurationSeconds: o.Duration.Seconds(),
		OK:              true,
	}
	mode := "site imported"
	if noSite {
		mode = "RuntimeOptions.NoSite"
	}
	o.progress("soak: CPython %s (%s), %d CPUs, GOMAXPROCS %d", rep.Python, mode, rep.NumCPU, rep.GOMAXPROCS)
	for _, name := range Scenarios {
		if !slices.Contains(o.Scenarios, name) {
			continue
		}
		var sr *ScenarioReport
		switch name {
		case Churn:
			sr = runChurn(ctx, rt, o)
		case PoolCancel:
			sr = runPoolCancel(ctx, rt, o)
		case Channels:
			sr = runChannels(ctx, rt, o)
		}
		sr.judge()
		rep.Scenarios = append(rep.Scenarios, *sr)
		rep.OK = rep.OK && sr.OK
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runtimeNoSite asks the main interpreter whether site was skipped.
func runtimeNoSite(ctx context.Context, rt *cpython.Runtime) (bool, error) {
	v, err := rt.Main().Eval(ctx, "__import__('sys').flags.no_site")
	if err != nil {
		return false, fmt.Errorf("soak: reading sys.flags.no_site: %w", err)
	}
	n, _ := v.(int64)
	return n != 0, nil
}

// progress prints one progress line.
func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}
