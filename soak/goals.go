package soak

import (
	"fmt"
	"strings"
)

// Goals. Memory: a scenario may grow RSS by at most growthBudgetMB over
// its full-size run (DefaultIterations), measured from the warm-up to the
// end, so that a service running it for months would grow by megabytes,
// not gigabytes. A shorter run (make soak-ci, --duration) is held to the
// same rate per 1,000 iterations. Growth below noiseFloorMB passes
// whatever the rate: a short run divides allocator noise (glibc arenas,
// CPython's free lists, the Go heap's next size) by few iterations.
const (
	growthBudgetMB = 50
	noiseFloorMB   = 4
	// extraKBPerInterp: churn's interpreters may keep this much more than
	// CPython's own (see judge); measured on 3.13: 220-255 KB.
	extraKBPerInterp = 512
)

// judge checks the scenario's goals.
func (sr *ScenarioReport) judge() {
	sr.Goals = nil
	full := DefaultIterations[sr.Name]
	limit := float64(growthBudgetMB) / float64(full) * 1000
	grown := (float64(sr.End.RSSBytes) - float64(sr.Warm.RSSBytes)) / mb
	measured := sr.End.Iteration - sr.Warm.Iteration
	want := fmt.Sprintf("< %s MB per 1,000 %s (%d MB over %d), or < %d MB in all", trimFloat(limit), sr.Unit, growthBudgetMB, full, noiseFloorMB)
	got := fmt.Sprintf("%+.3f MB per 1,000 (%+.1f MB over %d)", sr.Growth.RSSMB, grown, measured)
	pass := sr.Growth.RSSMB < limit || grown < noiseFloorMB
	budgetKB := limit * 1024 / 1000 // per iteration
	if f := sr.Churn; f != nil && f.CPythonCycles > 0 {
		// CPython 3.13 keeps all the memory an isolated interpreter's
		// allocator took, so each cycle costs about what one interpreter
		// uses, and subinterp's use more than bare ones (its module,
		// line-buffered stdio, sys.path): an absolute allowance on top of
		// CPython's own figure, measured in this process. What subinterp
		// itself leaks is judged by the shared-allocator goal.
		perCycle := f.CPythonKBPerCycle + extraKBPerInterp
		want = fmt.Sprintf("< %.0f KB per cycle (CPython's own %.1f KB + %d KB), or < %d MB in all",
			perCycle, f.CPythonKBPerCycle, extraKBPerInterp, noiseFloorMB)
		got = fmt.Sprintf("%.1f KB per cycle (%+.1f MB over %d)", f.RSSKBPerCycle, grown, measured)
		pass = f.RSSKBPerCycle < perCycle || grown < noiseFloorMB
	}
	sr.goal("RSS growth", want, got, pass)
	if f := sr.Churn; f != nil && f.SharedCycles > 0 {
		// With the main interpreter's allocator CPython reuses the memory,
		// so what grows is subinterp's own: the plain budget applies.
		sharedGrown := f.SharedKBPerCycle * float64(f.SharedCycles) / 1024
		sr.goal("RSS growth, shared allocator",
			fmt.Sprintf("< %.1f KB per cycle (%d MB over %d), or < %d MB in all", budgetKB, growthBudgetMB, full, noiseFloorMB),
			fmt.Sprintf("%.1f KB per cycle (%+.1f MB over %d)", f.SharedKBPerCycle, sharedGrown, f.SharedCycles),
			f.SharedKBPerCycle < budgetKB || sharedGrown < noiseFloorMB)
	}
	errs := sum(sr.Errors)
	sr.goal("errors", "0", fmt.Sprint(errs), errs == 0)
	switch sr.Name {
	case Churn:
		if f := sr.Churn; f != nil {
			left := f.InterpretersAfter - f.InterpretersBefore
			sr.goal("interpreters left open", "0", fmt.Sprint(left), left == 0)
		}
	case PoolCancel:
		if f := sr.Pool; f != nil {
			sr.goal("lost interrupts", "0", fmt.Sprintf("%d (%d still running, %d ran to the limit)", sr.LostInterrupts, f.StillRunning, f.RanToLimit), sr.LostInterrupts == 0)
			sr.goal("cancelled calls not stopped", "0", fmt.Sprint(f.NotStopped), f.NotStopped == 0)
			sr.goal("pool idle after the calls", "yes", yesNo(f.Idle), f.Idle)
			re := f.After.ReplaceErrors - f.Before.ReplaceErrors
			sr.goal("replacement errors", "0", fmt.Sprint(re), re == 0)
		}
	case Channels:
		if f := sr.Channels; f != nil {
			sr.goal("channels left after their round", "0", fmt.Sprint(f.LeftAfterRound), f.LeftAfterRound == 0)
			sr.goal("channels left behind", "0", fmt.Sprintf("%d (open before %d, after %d)", f.LeftBehind, f.OpenBefore, f.OpenAfter), f.LeftBehind == 0)
		}
	}
	if sr.Aborted != "" {
		sr.goal("ran to the end", "yes", sr.Aborted, false)
	}
	sr.OK = true
	for _, g := range sr.Goals {
		sr.OK = sr.OK && g.Pass
	}
}

func (sr *ScenarioReport) goal(name, want, got string, pass bool) {
	sr.Goals = append(sr.Goals, Goal{Name: name, Want: want, Got: got, Pass: pass})
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// trimFloat formats a limit without trailing zeros ("0.25", "5").
func trimFloat(f float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.3f", f), "0")
	return strings.TrimSuffix(s, ".")
}
