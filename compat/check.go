package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
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
	return PythonInfo{Version: l.Python, Build: l.Build, Platform: l.Platform, Include: l.Include, ExtSuffix: l.ExtSuffix}, nil
}

// list runs the list child.
func list(ctx context.Context, opts Options) (*listResult, error) {
	req := request{Op: opList, Stdlib: opts.Stdlib, SitePackages: opts.SitePackages, Paths: opts.Paths}
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
}

// Check checks modules as opts say and returns the report, modules sorted
// by name. Ending ctx kills every child and returns ctx's error.
func Check(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if len(opts.Modules) == 0 && !opts.Stdlib && !opts.SitePackages && len(opts.Paths) == 0 {
		return nil, fmt.Errorf("%w: nothing to check (no module, stdlib, site-packages or path)", ErrInvalidOptions)
	}
	l, err := list(ctx, opts)
	if err != nil {
		return nil, err
	}
	targets := targetsOf(opts, l)
	modules, err := checkAll(ctx, opts, targets, start)
	if err != nil {
		return nil, err
	}
	return &Report{
		Python:      l.Python,
		PythonBuild: l.Build,
		Platform:    l.Platform,
		Modules:     modules,
		Jobs:        opts.Jobs,
		Seconds:     time.Since(start).Seconds(),
		Generated:   time.Now().UTC().Truncate(time.Second),
	}, nil
}

// targetsOf merges the named and listed modules, sorted by name.
func targetsOf(opts Options, l *listResult) []target {
	site := map[string]bool{} // name -> needs site
	for _, n := range l.Stdlib {
		if _, ok := site[n]; !ok {
			site[n] = false
		}
	}
	more := append([]string{}, opts.Modules...)
	more = append(more, l.SitePackages...)
	for _, p := range opts.Paths {
		more = append(more, l.Paths[p]...)
	}
	for _, n := range more {
		if ValidModuleName(n) {
			site[n] = true
		}
	}
	names := make([]string, 0, len(site))
	for n := range site {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]target, len(names))
	for i, n := range names {
		out[i] = target{name: n, noSite: !site[n]}
	}
	return out
}

// job is one child: a module in one mode.
type job struct {
	mod  int // index into the targets
	mode Mode
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
// and returns the modules with their verdicts.
func checkAll(ctx context.Context, opts Options, targets []target, start time.Time) ([]Module, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	events := make(chan event)
	done := make(chan struct{})
	go func() {
		defer close(jobs)
		for i := range targets {
			for _, m := range Modes {
				select {
				case jobs <- job{i, m}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	workers := opts.Jobs
	if n := len(targets) * len(Modes); workers > n {
		workers = n
	}
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				events <- event{job: j, started: true}
				t := targets[j.mod]
				req := request{Op: opCheck, Module: t.name, Mode: j.mode, Paths: opts.Paths, NoSite: t.noSite}
				run, err := runChild(ctx, opts, req)
				ev := event{job: j, err: err}
				if err == nil {
					ev.result, ev.info = run.modeResult(opts.Timeout), run.info()
				}
				events <- ev
			}
		}()
	}
	go func() {
		for w := 0; w < workers; w++ {
			<-done
		}
		close(events)
	}()

	modules := make([]Module, len(targets))
	infos := make([]map[Mode]info, len(targets))
	for i, t := range targets {
		modules[i] = Module{Name: t.name, Results: map[Mode]ModeResult{}}
		infos[i] = map[Mode]info{}
	}
	var (
		firstErr error
		running  []int // module indexes, one entry per running child
		finished int
	)
	report := func(fin *Module) {
		if opts.Progress == nil {
			return
		}
		names := make([]string, 0, len(running))
		seen := map[int]bool{}
		for _, i := range running {
			if !seen[i] {
				seen[i] = true
				names = append(names, targets[i].name)
			}
		}
		opts.Progress(Progress{Total: len(targets), Done: finished, Running: names, Finished: fin, Elapsed: time.Since(start)})
	}
	report(nil)
	for ev := range events {
		if ev.started {
			running = append(running, ev.job.mod)
			report(nil)
			continue
		}
		for k, i := range running {
			if i == ev.job.mod {
				running = append(running[:k], running[k+1:]...)
				break
			}
		}
		if ev.err != nil {
			if firstErr == nil {
				firstErr = ev.err
				cancel()
			}
			continue
		}
		if ctx.Err() != nil {
			continue
		}
		m := &modules[ev.job.mod]
		m.Results[ev.job.mode] = ev.result
		if ev.info != nil {
			infos[ev.job.mod][ev.job.mode] = *ev.info
		}
		if len(m.Results) < len(Modes) {
			report(nil)
			continue
		}
		fill(m, infos[ev.job.mod])
		finished++
		report(m)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return modules, nil
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
}
