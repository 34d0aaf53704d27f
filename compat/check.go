package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// DefaultTimeout is how long one child may take to import a module when
// Options.Timeout is zero. Importing the whole stdlib module by module
// takes well under a second per import even on a debug build; a child
// still running after this is taken to hang.
const DefaultTimeout = 30 * time.Second

// Options say what to check and how.
type Options struct {
	// Modules are module names to check (dotted names; see
	// ValidModuleName).
	Modules []string
	// Stdlib adds every builtin module and every extension module of the
	// standard library of the Python in use.
	Stdlib bool
	// SitePackages adds every top-level module of the site-packages
	// directories that is, or contains, an extension module.
	SitePackages bool
	// Paths are directories whose top-level modules are checked; they
	// also go first on sys.path for every check.
	Paths []string
	// Venv is a virtual environment every child runs in
	// (cpython.RuntimeOptions.Venv: made with the CPython the children
	// run), whose own site-packages are checked as SitePackages checks the
	// Python's: every distribution that ships an extension module.
	Venv string
	// Distributions are names of installed distributions to check (as in
	// a requirements file: "PyYAML", "pydantic-core"), looked up in every
	// sys.path directory; each one's top-level modules are checked.
	Distributions []string
	// Shallow checks only the modules named or listed, not the extension
	// modules inside packages (see Package).
	Shallow bool
	// AllModes imports the extension modules found inside packages in
	// every mode. By default they are imported from the most isolated
	// mode to the least and no further than the first that imports
	// (unless loading another extension failed there): that mode decides
	// the verdict, and the rest are StatusSkipped. The modules named or
	// listed themselves always get every mode.
	AllModes bool
	// About is copied into Report.About.
	About string
	// Jobs is how many child processes run at once; 0 means
	// runtime.NumCPU().
	Jobs int
	// Timeout bounds each child (one module in one mode); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Command starts a child: the executable and its first arguments.
	// Check appends one argument, the request, which the program must hand
	// to ChildMain. `subinterp compat` passes itself with a hidden flag;
	// tests pass the test binary. Each child runs in a process group of
	// its own, killed with it on a timeout or when ctx ends, and gets
	// SIGKILL if this process dies.
	Command []string
	// Env is added to the children's environment (the parent's is
	// inherited).
	Env []string
	// Progress, if set, is called as children start and finish, from one
	// goroutine at a time.
	Progress func(Progress)
}

// Progress is the state of a running check.
type Progress struct {
	// Total modules, and Done: how many have all their modes checked.
	Total, Done int
	// Running lists the modules that have a child running, oldest first.
	Running []string
	// Finished is the module whose last mode just finished (with its
	// verdict), or nil.
	Finished *Module
	// Elapsed is the time since Check started.
	Elapsed time.Duration
}

// PythonInfo describes the Python the children run.
type PythonInfo struct {
	// Version ("3.13.15"), Build ("release" or "debug") and Platform
	// ("linux x86_64").
	Version, Build, Platform string
	// Include is the directory of Python.h, ExtSuffix the file name suffix
	// of extension modules (".cpython-313-x86_64-linux-gnu.so").
	Include, ExtSuffix string
	// Executable is the python program of that installation
	// (BINDIR/pythonX.Y).
	Executable string
}

// ErrInvalidOptions is wrapped by the errors Check returns for options it
// refuses before starting anything.
var ErrInvalidOptions = errors.New("compat: invalid options")

// validate checks opts and fills in defaults.
func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return bad("no Command to start a child with")
	}
	if o.Jobs < 0 {
		return bad("Jobs must not be negative (got %d)", o.Jobs)
	}
	if o.Jobs == 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Timeout < 0 {
		return bad("Timeout must not be negative (got %v)", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	for _, m := range o.Modules {
		if !ValidModuleName(m) {
			return bad("%q is not a module name", m)
		}
	}
	paths := make([]string, len(o.Paths))
	for i, p := range o.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return bad("path %s: %v", p, err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return bad("path %s: %v", p, err)
		}
		if !st.IsDir() {
			return bad("path %s is not a directory", p)
		}
		paths[i] = abs
	}
	o.Paths = paths
	for _, d := range o.Distributions {
		if !validDistName(d) {
			return bad("%q is not a distribution name", d)
		}
	}
	return nil
}

// Describe starts one child to describe the Python it runs.
func Describe(ctx context.Context, opts Options) (PythonInfo, error) {
	if err := opts.validate(); err != nil {
		return PythonInfo{}, err
	}
	l, err := list(ctx, opts)
	if err != nil {
		return PythonInfo{}, err
	}
	return PythonInfo{Version: l.Python, Build: l.Build, Platform: l.Platform, Include: l.Include, ExtSuffix: l.ExtSuffix,
		Executable: l.Executable}, nil
}

// list runs the list child.
func list(ctx context.Context, opts Options) (*listResult, error) {
	req := request{Op: opList, Stdlib: opts.Stdlib, SitePackages: opts.SitePackages, Paths: opts.Paths,
		Venv: opts.Venv, Dists: opts.Distributions}
	if !opts.Shallow {
		req.Named = opts.Modules
	}
	run, err := runChild(ctx, opts, req)
	if err != nil {
		return nil, err
	}
	if run.result == nil {
		r := run.modeResult(opts.Timeout)
		return nil, fmt.Errorf("compat: describing the Python in use failed: %s: %s%s", r.Status, r.Message, indent(r.Output))
	}
	var l listResult
	if err := json.Unmarshal(run.result, &l); err != nil {
		return nil, fmt.Errorf("compat: reading the list of modules: %w", err)
	}
	if l.Invalid != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidOptions, l.Invalid)
	}
	return &l, nil
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "\n\t" + s
}

// target is a module to check and how to start its children.
type target struct {
	name string
	// noSite: the module comes from the standard library only, which needs
	// no site-packages; skipping `import site` makes each child faster.
	noSite bool
	// pkg is the package this extension module was found in, "" for a
	// module named or listed itself.
	pkg string
}

// Check checks modules as opts say and returns the report, modules sorted
// by name. Ending ctx kills every child and returns ctx's error.
func Check(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if len(opts.Modules) == 0 && !opts.Stdlib && !opts.SitePackages && len(opts.Paths) == 0 &&
		opts.Venv == "" && len(opts.Distributions) == 0 {
		return nil, fmt.Errorf("%w: nothing to check (no module, stdlib, site-packages, path, venv or distribution)", ErrInvalidOptions)
	}
	l, err := list(ctx, opts)
	if err != nil {
		return nil, err
	}
	plan := planOf(opts, l)
	modules, err := checkAll(ctx, opts, plan.targets, start)
	if err != nil {
		return nil, err
	}
	classifyAll(modules)
	packages := packagesOf(plan, modules)
	return &Report{
		Python:        l.Python,
		PythonBuild:   l.Build,
		Platform:      l.Platform,
		Modules:       modules,
		Packages:      packages,
		Distributions: distributionsOf(plan, packages, modules),
		About:         opts.About,
		Jobs:          opts.Jobs,
		Seconds:       time.Since(start).Seconds(),
		Generated:     time.Now().UTC().Truncate(time.Second),
	}, nil
}

// job is one child, a module in one mode, or, with chain set, the
// children of a module in every mode from the most isolated to the least,
// run one after the other until one imports (see Options.AllModes).
type job struct {
	mod   int // index into the targets
	mode  Mode
	chain bool
}

// event is what a worker reports to checkAll.
type event struct {
	job     job
	started bool
	result  ModeResult
	info    *info // when the import succeeded
	err     error // the child could not be run at all
}

// checkAll runs every target in every mode, opts.Jobs children at a time,
// and returns the modules with their verdicts. The first child that
// cannot be run at all stops the check.
func checkAll(ctx context.Context, opts Options, targets []target, start time.Time) ([]Module, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := runJobs(ctx, opts, targets)
	tl := newTally(opts, targets, start)
	tl.report(nil)
	var firstErr error
	for ev := range events {
		if ev.started {
			tl.started(ev.job.mod)
			continue
		}
		tl.stopped(ev.job.mod)
		if ev.err != nil {
			if firstErr == nil {
				firstErr = ev.err
				cancel()
			}
			continue
		}
		if ctx.Err() == nil {
			tl.record(ev)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tl.modules, nil
}

// runJobs starts up to opts.Jobs workers that run every target in every
// mode, one child per job, and returns their events: a started event and
// then a result (or error) event per job. Once ctx ends the jobs left are
// skipped. The channel closes when every worker has stopped.
func runJobs(ctx context.Context, opts Options, targets []target) <-chan event {
	jobs := make(chan job)
	go func() {
		defer close(jobs)
		for i, t := range targets {
			if t.pkg != "" && !opts.AllModes {
				select {
				case jobs <- job{mod: i, chain: true}:
				case <-ctx.Done():
					return
				}
				continue
			}
			for _, m := range Modes {
				select {
				case jobs <- job{mod: i, mode: m}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	events := make(chan event)
	pkgs := newPackageResults(targets)
	var wg sync.WaitGroup
	for range min(opts.Jobs, len(targets)*len(Modes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if j.chain {
					runChain(ctx, opts, targets, j.mod, pkgs, events)
					continue
				}
				events <- event{job: j, started: true}
				ev := runJob(ctx, opts, targets[j.mod], j)
				pkgs.set(j.mod, j.mode, ev)
				events <- ev
			}
		}()
	}
	go func() {
		wg.Wait()
		close(events)
	}()
	return events
}

// packageResults hands the results of the packages' own imports to the
// chains of the extension modules inside them (runChain). The package's
// mode jobs are queued before any chain of its extensions (targets are
// sorted by name, and a package's name sorts before its submodules'), so
// a chain waiting for one waits for a child that is running or done,
// never for one that has yet to be started.
type packageResults struct {
	index map[string]int            // package name -> target index
	slots map[int]map[Mode]*pkgSlot // by target index and mode
}

// pkgSlot is one mode's result of a package; done closes once it is set.
type pkgSlot struct {
	done chan struct{}
	res  ModeResult
	ok   bool // the child ran (res is its result)
}

func newPackageResults(targets []target) *packageResults {
	p := &packageResults{index: map[string]int{}, slots: map[int]map[Mode]*pkgSlot{}}
	for i, t := range targets {
		p.index[t.name] = i
	}
	for _, t := range targets {
		i, found := p.index[t.pkg]
		if t.pkg == "" || !found || p.slots[i] != nil {
			continue
		}
		p.slots[i] = map[Mode]*pkgSlot{}
		for _, m := range Modes {
			p.slots[i][m] = &pkgSlot{done: make(chan struct{})}
		}
	}
	return p
}

// set records the result of target mod in mode, if it is a package.
func (p *packageResults) set(mod int, mode Mode, ev event) {
	s := p.slots[mod][mode]
	if s == nil {
		return
	}
	s.res, s.ok = ev.result, ev.err == nil
	close(s.done)
}

// wait returns the result of package pkg in mode, once there is one;
// false if pkg is not a target, its child could not run, or ctx ended.
func (p *packageResults) wait(ctx context.Context, pkg string, mode Mode) (ModeResult, bool) {
	i, found := p.index[pkg]
	if !found || p.slots[i] == nil {
		return ModeResult{}, false
	}
	s := p.slots[i][mode]
	select {
	case <-s.done:
		return s.res, s.ok
	case <-ctx.Done():
		return ModeResult{}, false
	}
}

// runChain imports the extension module targets[mod] in each mode from
// the most isolated to the least, sending the events of each child, until
// one imports without another extension failing to load during it, and
// with its definition readable; the modes left are sent as skipped. A
// mode that imports decides the verdict (Judge), and the failures before
// it give the reason.
//
// Importing a submodule imports its package first, so in a mode where the
// package's own import raised an exception, the submodule's import raises
// the same: that result is taken over (InferredFrom) instead of starting
// a child to see it again. Crashes and timeouts are not taken over.
func runChain(ctx context.Context, opts Options, targets []target, mod int, pkgs *packageResults, events chan<- event) {
	t := targets[mod]
	done := false
	for i := len(Modes) - 1; i >= 0; i-- {
		j := job{mod: mod, mode: Modes[i]}
		if done {
			events <- event{job: j, result: ModeResult{Status: StatusSkipped,
				Message: "not run: the module imports in a more isolated mode, which decides its verdict"}}
			continue
		}
		if r, ok := pkgs.wait(ctx, t.pkg, j.mode); ok && (r.Status == StatusImportError || r.Status == StatusError) {
			events <- event{job: j, result: ModeResult{Status: r.Status, Message: r.Message,
				ExtensionErrors: r.ExtensionErrors, InferredFrom: t.pkg}}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		events <- event{job: j, started: true}
		ev := runJob(ctx, opts, t, j)
		events <- ev
		if ev.err != nil || ctx.Err() != nil {
			return
		}
		// A legacy subinterpreter of 3.13 cannot read a single-phase
		// module's definition back (see fill): main then still runs.
		done = ev.result.Status == StatusOK && !foreignErrors(t.name, ev.result) && ev.info != nil && ev.info.Init != ""
	}
}

// foreignErrors reports whether loading an extension module other than
// name failed during r's import: whether that is a fallback depends on
// the main interpreter, so the chain goes on.
func foreignErrors(name string, r ModeResult) bool {
	for _, e := range r.ExtensionErrors {
		if e.Module != name {
			return true
		}
	}
	return false
}

// runJob runs the child of job j, which checks t.
func runJob(ctx context.Context, opts Options, t target, j job) event {
	// A venv is set up by site (cpython.RuntimeOptions.Venv).
	req := request{Op: opCheck, Module: t.name, Mode: j.mode, Paths: opts.Paths, Venv: opts.Venv, NoSite: t.noSite && opts.Venv == ""}
	run, err := runChild(ctx, opts, req)
	ev := event{job: j, err: err}
	if err == nil {
		ev.result, ev.info = run.modeResult(opts.Timeout), run.info()
	}
	return ev
}

// tally collects checkAll's results into modules and reports progress.
type tally struct {
	opts     Options
	targets  []target
	start    time.Time
	modules  []Module
	infos    []map[Mode]info
	running  []int // module indexes, one entry per running child
	finished int   // modules with every mode checked
}

func newTally(opts Options, targets []target, start time.Time) *tally {
	tl := &tally{
		opts:    opts,
		targets: targets,
		start:   start,
		modules: make([]Module, len(targets)),
		infos:   make([]map[Mode]info, len(targets)),
	}
	for i, t := range targets {
		tl.modules[i] = Module{Name: t.name, Package: t.pkg, Results: map[Mode]ModeResult{}}
		tl.infos[i] = map[Mode]info{}
	}
	return tl
}

// started counts a child of module mod as running.
func (tl *tally) started(mod int) {
	tl.running = append(tl.running, mod)
	tl.report(nil)
}

// stopped counts one child of module mod as no longer running.
func (tl *tally) stopped(mod int) {
	for k, i := range tl.running {
		if i == mod {
			tl.running = append(tl.running[:k], tl.running[k+1:]...)
			return
		}
	}
}

// record adds the result of a child, and judges its module once every mode
// has a result.
func (tl *tally) record(ev event) {
	m := &tl.modules[ev.job.mod]
	m.Results[ev.job.mode] = ev.result
	if ev.info != nil {
		tl.infos[ev.job.mod][ev.job.mode] = *ev.info
	}
	if len(m.Results) < len(Modes) {
		tl.report(nil)
		return
	}
	fill(m, tl.infos[ev.job.mod])
	tl.finished++
	tl.report(m)
}

// report calls opts.Progress, if set, with the state of the check; fin is
// the module just judged, if any.
func (tl *tally) report(fin *Module) {
	if tl.opts.Progress == nil {
		return
	}
	names := make([]string, 0, len(tl.running))
	seen := map[int]bool{}
	for _, i := range tl.running {
		if !seen[i] {
			seen[i] = true
			names = append(names, tl.targets[i].name)
		}
	}
	tl.opts.Progress(Progress{Total: len(tl.targets), Done: tl.finished, Running: names, Finished: fin, Elapsed: time.Since(tl.start)})
}

// fill sets a module's description from the first mode (most permissive
// first) that imported it and could read its definition, and its verdict.
// A mode may import a module without a readable definition: 3.13 leaves
// md_def NULL on a single-phase module (m_size -1) that a legacy
// subinterpreter reloads from the main interpreter's cached copy
// (reload_singlephase_extension in Python/import.c).
func fill(m *Module, infos map[Mode]info) {
	var seconds float64
	for _, r := range m.Results {
		seconds += r.Seconds
	}
	m.Seconds = seconds
	ok := 0
	preloaded := true
	described := false
	for _, mode := range Modes {
		in, found := infos[mode]
		if !found {
			continue
		}
		if ok == 0 || (!described && in.Init != "") {
			m.Kind, m.Init, m.MultipleInterpreters, m.GIL, m.File = in.Kind, in.Init, in.Multi, in.GIL, in.File
			described = in.Init != ""
		}
		ok++
		preloaded = preloaded && in.Preloaded
	}
	m.Preloaded = ok > 0 && preloaded
	m.Verdict, m.Reason = Judge(*m)
	m.Fallbacks = fallbacks(*m)
	m.Degraded = len(m.Fallbacks) > 0
	if m.Degraded {
		m.Reason = degradedReason(*m)
	}
}
