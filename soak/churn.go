package soak

import (
	"context"
	"fmt"

	"github.com/subinterp/subinterp/cpython"
)

// ChurnFigures are the churn scenario's own counts.
type ChurnFigures struct {
	// NoSite is the runtime's mode (RuntimeOptions.NoSite): with site,
	// every new interpreter imports it, which costs time and memory.
	NoSite bool `json:"no_site"`
	// Created and Closed count the churn's interpreters; Evaluated counts
	// Evals that returned 1.
	Created   int64 `json:"created"`
	Evaluated int64 `json:"evaluated"`
	Closed    int64 `json:"closed"`
	// InterpretersBefore and InterpretersAfter are the runtime's live
	// interpreters (main included) before and after the scenario.
	InterpretersBefore int `json:"interpreters_before"`
	InterpretersAfter  int `json:"interpreters_after"`
	// RSSKBPerCycle is the churn's RSS growth per cycle after the warm-up,
	// in KB.
	RSSKBPerCycle float64 `json:"rss_kb_per_cycle"`

	// Two baselines run before the churn, each for BaselineCycles cycles
	// after a few unmeasured ones.
	//
	// CPython's own: _interpreters.create/exec "1"/destroy of isolated
	// interpreters, from the main interpreter, growing RSS by
	// CPythonKBPerCycle per cycle. CPython 3.13 keeps all the memory an
	// isolated interpreter's allocator ever took, so this is not zero, and
	// it is not subinterp's to fix. OwnKBPerCycle is RSSKBPerCycle minus
	// it.
	CPythonCycles     int     `json:"cpython_cycles"`
	CPythonKBPerCycle float64 `json:"cpython_kb_per_cycle"`
	OwnKBPerCycle     float64 `json:"own_kb_per_cycle"`
	// CPythonError says why that baseline could not be measured
	// (CPythonCycles 0 and no error: it was not asked for).
	CPythonError string `json:"cpython_error,omitempty"`
	// Shared allocator: the churn's own cycle through subinterp (thread,
	// bindings, Eval, Close) with LegacyConfig(), whose objects live in
	// the main interpreter's allocator, which CPython does reuse. Its RSS
	// growth per cycle, SharedKBPerCycle, is what subinterp itself leaks.
	SharedCycles     int     `json:"shared_cycles"`
	SharedKBPerCycle float64 `json:"shared_kb_per_cycle"`
}

// baselineCode defines _soak_churn(n) in the main interpreter: n cycles of
// CPython's own create, exec "1", destroy of an isolated interpreter
// (_interpreters on 3.13 and later, _xxsubinterpreters on 3.12).
const baselineCode = `
def _soak_churn(n):
    try:
        import _interpreters as xi
        create = lambda: xi.create("isolated")
        run = xi.exec
    except ImportError:
        import _xxsubinterpreters as xi
        create = lambda: xi.create(isolated=True)
        run = xi.run_string
    for _ in range(n):
        iid = create()
        try:
            run(iid, "1")
        finally:
            xi.destroy(iid)
`

// baselineWarmup cycles run, unmeasured, before each baseline.
const baselineWarmup = 10

// baselineCycles is how many cycles each baseline measures: by default a
// tenth of the churn, at least 20, and at most 200 for CPython's own
// (each of which keeps over a megabyte for the rest of the run) or 1,000
// for the shared allocator's.
func baselineCycles(o Options, most int64) int {
	if o.BaselineCycles != 0 {
		return max(o.BaselineCycles, 0)
	}
	n := o.iterations(Churn) / 10
	if o.Duration > 0 {
		n = 100
	}
	return int(min(max(n, 20), most))
}

// rssKBPerCycle runs warm-up cycles, then n measured ones, and returns the
// RSS growth per measured cycle.
func rssKBPerCycle(rt *cpython.Runtime, n int, cycles func(n int) error) (float64, error) {
	if err := cycles(baselineWarmup); err != nil {
		return 0, err
	}
	before := takeSample(rt)
	if err := cycles(n); err != nil {
		return 0, err
	}
	after := takeSample(rt)
	return (float64(after.RSSBytes) - float64(before.RSSBytes)) / 1024 / float64(n), nil
}

// cpythonBaseline measures CPython's own RSS growth per create+destroy
// cycle of an isolated interpreter, in this process.
func cpythonBaseline(ctx context.Context, rt *cpython.Runtime, n int) (float64, error) {
	main := rt.Main()
	if err := main.Exec(ctx, baselineCode); err != nil {
		return 0, err
	}
	return rssKBPerCycle(rt, n, func(n int) error {
		_, err := main.Call(ctx, "_soak_churn", n)
		return err
	})
}

// sharedBaseline measures the RSS growth per churn cycle with
// LegacyConfig() interpreters, whose memory CPython reuses.
func sharedBaseline(ctx context.Context, rt *cpython.Runtime, n int) (float64, error) {
	return rssKBPerCycle(rt, n, func(n int) error {
		var f ChurnFigures
		t := newTally()
		for range n {
			churnOnce(ctx, rt, cpython.LegacyConfig(), t, &f)
			if t.total() > 0 {
				errs, _, samples := t.snapshot()
				for kind := range errs {
					return fmt.Errorf("%s: %s", kind, samples[kind])
				}
			}
		}
		return nil
	})
}

// runChurn creates an own-GIL interpreter, evaluates "1" in it and closes
// it, over and over: the life of a per-request interpreter, or of a pool's
// replacements. Each cycle's memory must come back, as far as CPython
// gives it back: two baselines first tell CPython's share from
// subinterp's.
func runChurn(ctx context.Context, rt *cpython.Runtime, o Options) *ScenarioReport {
	sr := &ScenarioReport{Name: Churn}
	t := newTally()
	f := &ChurnFigures{NoSite: o.noSite, InterpretersBefore: len(rt.Interpreters())}
	sr.Churn = f
	if n := baselineCycles(o, 1000); n > 0 {
		o.progress("soak: churn: shared-allocator baseline: %d cycles of LegacyConfig() create/Eval/Close", n)
		if kb, err := sharedBaseline(ctx, rt, n); err != nil {
			t.fail("shared-allocator baseline", err)
		} else {
			f.SharedCycles, f.SharedKBPerCycle = n, kb
			o.progress("soak: churn: shared-allocator RSS growth: %.1f KB per cycle", kb)
		}
	}
	if n := baselineCycles(o, 200); n > 0 {
		o.progress("soak: churn: CPython's own baseline: %d cycles of _interpreters.create/exec/destroy", n)
		if kb, err := cpythonBaseline(ctx, rt, n); err != nil {
			f.CPythonError = err.Error()
			o.progress("soak: churn: no CPython baseline: %v", err)
		} else {
			f.CPythonCycles, f.CPythonKBPerCycle = n, kb
			o.progress("soak: churn: CPython's own RSS growth: %.1f KB per cycle", kb)
		}
	}
	m := newMeter(rt, o, sr, t, "cycles")
	m.begin()
	for m.next(ctx) {
		churnOnce(ctx, rt, cpython.IsolatedConfig(), t, f)
		m.finished(1)
		if t.total() >= maxErrors {
			sr.Aborted = fmt.Sprintf("stopped after %d errors", t.total())
			break
		}
	}
	m.end()
	f.InterpretersAfter = len(rt.Interpreters())
	f.RSSKBPerCycle = sr.Growth.RSSMB * 1024 / 1000
	f.OwnKBPerCycle = f.RSSKBPerCycle - f.CPythonKBPerCycle
	m.final()
	return sr
}

// churnOnce is one cycle. A failed step is counted and the cycle goes on
// as far as it can, so that an interpreter is never left open by the soak
// itself.
func churnOnce(ctx context.Context, rt *cpython.Runtime, cfg cpython.Config, t *tally, f *ChurnFigures) {
	in, err := rt.NewInterpreter(cfg)
	if err != nil {
		t.fail("create", err)
		return
	}
	f.Created++
	switch v, err := in.Eval(ctx, "1"); {
	case err != nil:
		t.fail("eval", err)
	case v != int64(1):
		t.fail("eval", fmt.Errorf("Eval(\"1\") returned %v (%T)", v, v))
	default:
		f.Evaluated++
	}
	if err := in.Close(); err != nil {
		// Left open (and counted in InterpretersAfter): Eval returned, so
		// nothing of the soak's still runs in it.
		t.fail("close", err)
		return
	}
	f.Closed++
}
