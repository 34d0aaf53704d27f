package soak

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/subinterp/subinterp/cpython"
)

// WriteTable writes the report for people: one line per scenario, then
// each scenario's goals and counts.
func WriteTable(w io.Writer, rep *Report) error {
	ew := &errWriter{w: w}
	mode := "site imported"
	if rep.NoSite {
		mode = "RuntimeOptions.NoSite"
	}
	build := "release"
	if rep.Debug {
		build = "debug"
	}
	length := fmt.Sprintf("scale %g", rep.Scale)
	if rep.DurationSeconds > 0 {
		length = fmt.Sprintf("%g s per scenario", rep.DurationSeconds)
	}
	ew.printf("soak: CPython %s (%s build, %s), %s, %d CPUs, GOMAXPROCS %d, %s\n\n",
		rep.Python, build, mode, rep.GoVersion, rep.NumCPU, rep.GOMAXPROCS, length)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\titerations\twall\tRSS MB start/warm/end/final\tRSS per 1,000\tGo heap per 1,000\terrors\tlost interrupts\tresult")
	for _, s := range rep.Scenarios {
		lost := "-"
		if s.Name == PoolCancel {
			lost = fmt.Sprint(s.LostInterrupts)
		}
		fmt.Fprintf(tw, "%s\t%d %s\t%.1f s\t%.1f / %.1f / %.1f / %.1f\t%+.3f MB\t%+.3f MB\t%d\t%s\t%s\n",
			s.Name, s.Iterations, s.Unit, s.WallSeconds,
			mbOf(s.Start.RSSBytes), mbOf(s.Warm.RSSBytes), mbOf(s.End.RSSBytes), mbOf(s.Final.RSSBytes),
			s.Growth.RSSMB, s.Growth.GoHeapMB, sum(s.Errors), lost, passFail(s.OK))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Scenarios {
		writeScenario(ew, s)
	}
	ew.printf("\nsoak: %s\n", map[bool]string{true: "every goal met", false: "GOALS FAILED"}[rep.OK])
	return ew.err
}

// writeScenario writes one scenario's goals and counts.
func writeScenario(ew *errWriter, s ScenarioReport) {
	ew.printf("\n%s: %s", s.Name, passFail(s.OK))
	if s.Aborted != "" {
		ew.printf(" (%s)", s.Aborted)
	}
	if s.Truncated != "" {
		ew.printf(" (%s)", s.Truncated)
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, g := range s.Goals {
		fmt.Fprintf(tw, "  %s\t%s\twant %s\t%s\n", g.Name, g.Got, g.Want, passFail(g.Pass))
	}
	_ = tw.Flush()
	ew.printf("  memory: threads %d -> %d -> %d, goroutines %d -> %d -> %d, interpreters %d -> %d -> %d, open channels %d -> %d -> %d (start -> end -> final)\n",
		s.Start.Threads, s.End.Threads, s.Final.Threads, s.Start.Goroutines, s.End.Goroutines, s.Final.Goroutines,
		s.Start.Interpreters, s.End.Interpreters, s.Final.Interpreters, s.Start.OpenChannels, s.End.OpenChannels, s.Final.OpenChannels)
	if len(s.Samples) > 0 {
		parts := make([]string, 0, len(s.Samples))
		for _, x := range s.Samples {
			parts = append(parts, fmt.Sprintf("%.1f", mbOf(x.RSSBytes)))
		}
		ew.printf("  RSS MB at each tenth: %s\n", strings.Join(parts, " "))
	}
	switch {
	case s.Churn != nil:
		f := s.Churn
		ew.printf("  created %d, evaluated %d, closed %d; runtime: %s\n",
			f.Created, f.Evaluated, f.Closed, map[bool]string{true: "NoSite", false: "site imported"}[f.NoSite])
		switch {
		case f.CPythonError != "":
			ew.printf("  RSS %+.1f KB per cycle; CPython's own baseline failed: %s\n", f.RSSKBPerCycle, f.CPythonError)
		case f.CPythonCycles == 0:
			ew.printf("  RSS %+.1f KB per cycle (no CPython baseline)\n", f.RSSKBPerCycle)
		default:
			ew.printf("  RSS %+.1f KB per cycle: CPython's own %+.1f KB (%d cycles of _interpreters), the difference %+.1f KB\n",
				f.RSSKBPerCycle, f.CPythonKBPerCycle, f.CPythonCycles, f.OwnKBPerCycle)
		}
		if f.SharedCycles > 0 {
			ew.printf("  shared allocator (LegacyConfig): RSS %+.1f KB per cycle over %d cycles\n", f.SharedKBPerCycle, f.SharedCycles)
		}
	case s.Pool != nil:
		f := s.Pool
		ew.printf("  pool of %d, %d callers: %d completed, %d failed; %d cancelled (1 in %d): %d interrupted, %d not stopped, %d expired before they ran, %d other\n",
			f.Size, f.Callers, f.Completed, f.Failed, f.Cancelled, f.CancelEvery, f.Interrupted, f.NotStopped, f.ExpiredBeforeStart, f.CancelOther)
		ew.printf("  replaced %d: max_tasks %d, stuck %d, threads %d, closed %d; idle after %.2f s (%d still running, %d ran to the %g s limit)\n",
			f.After.Replaced-f.Before.Replaced, f.Replacements.MaxTasks, f.Replacements.Stuck, f.Replacements.Threads, f.Replacements.Closed,
			f.IdleWaitSeconds, f.StillRunning, f.RanToLimit, f.SpinLimitSeconds)
		ew.printf("  pool stats before: %s\n  pool stats after:  %s\n", poolStats(f.Before), poolStats(f.After))
	case s.Channels != nil:
		f := s.Channels
		ew.printf("  %d rounds of %d: messages %s->%d %s->%d %s->%d %s->%d; %d channels created\n",
			f.Rounds, f.RoundSize, goToPython, f.Messages[goToPython], pythonToGo, f.Messages[pythonToGo],
			pythonToPython, f.Messages[pythonToPython], goToGo, f.Messages[goToGo], f.Created)
	}
	writeCounts(ew, "expected outcomes", s.Expected, nil)
	writeCounts(ew, "errors", s.Errors, s.ErrorSamples)
}

func writeCounts(ew *errWriter, title string, counts map[string]int64, samples map[string]string) {
	if len(counts) == 0 {
		ew.printf("  %s: none\n", title)
		return
	}
	ew.printf("  %s:\n", title)
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		ew.printf("    %7d  %s", counts[k], k)
		if msg := samples[k]; msg != "" {
			if len(msg) > 160 {
				msg = msg[:160] + "..."
			}
			ew.printf("  (first: %s)", strings.ReplaceAll(msg, "\n", " "))
		}
		ew.printf("\n")
	}
}

func poolStats(s cpython.PoolStats) string {
	return fmt.Sprintf("size %d, busy %d, idle %d, starting %d, queued %d, retired %d, completed %d, failed %d, replaced %d, replace errors %d",
		s.Size, s.Busy, s.Idle, s.Starting, s.Queued, s.Retired, s.Completed, s.Failed, s.Replaced, s.ReplaceErrors)
}

func mbOf(b uint64) float64 { return float64(b) / mb }

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
