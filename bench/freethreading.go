package bench

import (
	"fmt"
	"io"
	"strconv"
)

// The free-threading comparison: this project's own-GIL pool against
// threads in the free-threaded build (PEP 703), side by side, from the
// rows of one run. It is derived at render time, so a Report's JSON holds
// only the rows it is derived from.

// ftScaling is one workload at one worker count: speedups over the GIL
// build's sequential run (0: no row), and the free-threaded threads'
// speedup over the free-threaded build's own sequential run.
type ftScaling struct {
	workload            string
	workers             int
	ownGIL, threads, ft float64
	ftOwn               float64
}

// ftCost is one workload's single-thread cost of the free-threaded build:
// sequential in each build.
type ftCost struct {
	workload      string
	gil, freeThrd float64 // median seconds
}

// ftFigure is one per-mode figure of the side-by-side: start-up, memory,
// round trips (0: not measured).
type ftFigure struct {
	name                string
	ownGIL, threads, ft float64
}

// ftComparison is what the free-threading section shows.
type ftComparison struct {
	scaling []ftScaling
	cost    []ftCost
	figures []ftFigure
}

// freeThreadingComparison collects the comparison from r; ok is false when
// r has no free-threaded rows.
func freeThreadingComparison(r *Report) (c ftComparison, ok bool) {
	rows := map[string]Result{}
	for _, res := range r.Results {
		if res.Error == "" {
			rows[fmt.Sprint(res.Workload, "/", res.Mode, "/", res.Workers)] = res
		}
		if res.Mode == ModeThreadsFreeThreaded || res.Mode == ModeSequentialFreeThreaded {
			ok = true
		}
	}
	if !ok {
		return c, false
	}
	get := func(wl, mode string, n int) (Result, bool) {
		res, ok := rows[fmt.Sprint(wl, "/", mode, "/", n)]
		return res, ok
	}
	for _, wl := range workloadOrder(r) {
		if wl == "tiny" || wl == "transfer" {
			continue // overhead and bulk copies: the round trips say more
		}
		seqFT, haveFT := get(wl, ModeSequentialFreeThreaded, 1)
		if seq, ok := get(wl, ModeSequential, 1); ok && haveFT {
			c.cost = append(c.cost, ftCost{workload: wl, gil: seq.WallSeconds.Median, freeThrd: seqFT.WallSeconds.Median})
		} else if haveFT && seqFT.Speedup > 0 {
			// The GIL build's sequential rows were run only as the
			// baseline and are not in the report; the speedup over them
			// keeps their median.
			c.cost = append(c.cost, ftCost{workload: wl, gil: roundSig(seqFT.WallSeconds.Median*seqFT.Speedup, 4), freeThrd: seqFT.WallSeconds.Median})
		}
		for _, n := range r.Workers {
			s := ftScaling{workload: wl, workers: n}
			if res, ok := get(wl, ModeOwnGIL, n); ok {
				s.ownGIL = res.Speedup
			}
			if res, ok := get(wl, ModeThreads, n); ok {
				s.threads = res.Speedup
			}
			if res, ok := get(wl, ModeThreadsFreeThreaded, n); ok {
				s.ft = res.Speedup
				if haveFT && res.WallSeconds.Median > 0 {
					s.ftOwn = roundSig(seqFT.WallSeconds.Median/res.WallSeconds.Median, 4)
				}
			}
			if s.ownGIL != 0 || s.threads != 0 || s.ft != 0 {
				c.scaling = append(c.scaling, s)
			}
		}
	}
	modes := []string{ModeOwnGIL, ModeThreads, ModeThreadsFreeThreaded}
	figure := func(name string, value func(mode string) float64) {
		f := ftFigure{name: name, ownGIL: value(modes[0]), threads: value(modes[1]), ft: value(modes[2])}
		if f.ownGIL != 0 || f.threads != 0 || f.ft != 0 {
			c.figures = append(c.figures, f)
		}
	}
	figure("worker start-up, ms", func(mode string) float64 {
		for _, s := range r.Startup {
			if s.Mode == mode && s.Error == "" {
				return s.MsPerWorker
			}
		}
		return 0
	})
	figure("memory per worker, RSS MiB", func(mode string) float64 {
		mb, _ := rssPerWorker(r, mode)
		return mb
	})
	for _, size := range roundtripPayloads {
		figure("round trip "+fmtBytes(size)+", µs", func(mode string) float64 {
			for _, rt := range r.Roundtrip {
				if rt.Mode == mode && rt.PayloadBytes == size && rt.Error == "" {
					return rt.Microseconds
				}
			}
			return 0
		})
	}
	return c, true
}

// ftCostText is the free-threaded build's single-thread cost in words:
// "1.42× slower" (or faster).
func ftCostText(c ftCost, none string) string {
	if c.gil <= 0 || c.freeThrd <= 0 {
		return none
	}
	if c.freeThrd >= c.gil {
		return fmtSig3(c.freeThrd/c.gil) + "× slower"
	}
	return fmtSig3(c.gil/c.freeThrd) + "× faster"
}

// fmtFigure is a side-by-side figure, or none when it was not measured.
func fmtFigure(x float64, none string) string {
	if x == 0 {
		return none
	}
	return fmtSig3(x)
}

// writeFreeThreadingTable is the plain-text free-threading section of
// WriteTable (nothing when r has no free-threaded rows).
func writeFreeThreadingTable(w io.Writer, r *Report) {
	c, ok := freeThreadingComparison(r)
	if !ok {
		return
	}
	fmt.Fprintf(w, "\nfree-threading (%s) against own-GIL interpreters\n", ModeThreadsFreeThreaded)
	if len(c.cost) > 0 {
		fmt.Fprintf(w, "single-thread cost: sequential in each build\n")
		t := textTable{header: []string{"workload", "GIL build s", "free-threaded s", "free-threaded is"}}
		for _, x := range c.cost {
			t.add([]string{x.workload, fmtSig3(x.gil), fmtSig3(x.freeThrd), ftCostText(x, "-")}, "")
		}
		t.write(w)
	}
	if len(c.scaling) > 0 {
		fmt.Fprintf(w, "speedup over sequential in the GIL build (free-threaded scaling: over its own sequential)\n")
		t := textTable{header: []string{"workload", "workers", ModeOwnGIL, ModeThreads, ModeThreadsFreeThreaded, "free-threaded scaling"}}
		for _, s := range c.scaling {
			t.add([]string{s.workload, strconv.Itoa(s.workers), fmtSpeedup(s.ownGIL, "-"), fmtSpeedup(s.threads, "-"),
				fmtSpeedup(s.ft, "-"), fmtSpeedup(s.ftOwn, "-")}, "")
		}
		t.write(w)
	}
	if len(c.figures) > 0 {
		t := textTable{header: []string{"figure", ModeOwnGIL, ModeThreads, ModeThreadsFreeThreaded}}
		for _, f := range c.figures {
			t.add([]string{f.name, fmtFigure(f.ownGIL, "-"), fmtFigure(f.threads, "-"), fmtFigure(f.ft, "-")}, "")
		}
		t.write(w)
	}
}

// writeFreeThreadingMarkdown is the Markdown free-threading section of
// WriteMarkdown (nothing when r has no free-threaded rows).
func writeFreeThreadingMarkdown(w io.Writer, r *Report) {
	c, ok := freeThreadingComparison(r)
	if !ok {
		return
	}
	fmt.Fprintf(w, "\n### Free-threading against own-GIL interpreters\n\n%s and %s are threads and the sequential baseline in a free-threaded build (PEP 703, `--disable-gil`) of the same CPython",
		mdCode(ModeThreadsFreeThreaded), mdCode(ModeSequentialFreeThreaded))
	if r.FreeThreadedPython != "" {
		fmt.Fprintf(w, ": %s", mdCode(r.FreeThreadedPython))
	}
	fmt.Fprintf(w, ".\n")
	if len(c.cost) > 0 {
		fmt.Fprintf(w, "\nSingle-thread cost: every task in turn, in one thread, in each build.\n\n| workload | GIL build s | free-threaded s | free-threaded is |\n|---|--:|--:|--:|\n")
		for _, x := range c.cost {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdEscape(x.workload), fmtSig3(x.gil), fmtSig3(x.freeThrd), ftCostText(x, "—"))
		}
	}
	if len(c.scaling) > 0 {
		fmt.Fprintf(w, "\nSpeedup over sequential in the GIL build; free-threaded scaling is %s over %s.\n\n", mdCode(ModeThreadsFreeThreaded), mdCode(ModeSequentialFreeThreaded))
		fmt.Fprintf(w, "| workload | workers | %s | %s | %s | free-threaded scaling |\n|---|--:|--:|--:|--:|--:|\n",
			mdCode(ModeOwnGIL), mdCode(ModeThreads), mdCode(ModeThreadsFreeThreaded))
		for _, s := range c.scaling {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", mdEscape(s.workload), s.workers,
				fmtSpeedup(s.ownGIL, "—"), fmtSpeedup(s.threads, "—"), fmtSpeedup(s.ft, "—"), fmtSpeedup(s.ftOwn, "—"))
		}
	}
	if len(c.figures) > 0 {
		fmt.Fprintf(w, "\n| figure | %s | %s | %s |\n|---|--:|--:|--:|\n", mdCode(ModeOwnGIL), mdCode(ModeThreads), mdCode(ModeThreadsFreeThreaded))
		for _, f := range c.figures {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdEscape(f.name), fmtFigure(f.ownGIL, "—"), fmtFigure(f.threads, "—"), fmtFigure(f.ft, "—"))
		}
	}
}
