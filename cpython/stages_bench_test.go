//go:build subinterp_stages

package cpython_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/subinterp/subinterp/cpython"
)

// BenchmarkCallStages: where the time of a round trip to an interpreter's
// thread goes, stage by stage (go test -tags subinterp_stages -bench
// CallStages ./cpython). Each metric is the median, over every call, of
// the time from one stage to the next; "total" is submitted to collected.
// The empty task is the bare hand-off; the identity call adds Python code
// and the conversions on the pinned thread. The tail_* metrics say where
// the slowest 1% of round trips spent their time (reportTail).
func BenchmarkCallStages(b *testing.B) {
	in := newInterp(b)
	if err := in.Exec(bg, "def ident(x):\n    return x"); err != nil {
		b.Fatal(err)
	}
	kib, mib := make([]byte, 1<<10), make([]byte, 1<<20)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"empty", func() error { return in.NoopForTest(bg) }},
		{"ident", func() error { _, err := in.Call(bg, "ident", 1); return err }},
		{"ident_1KiB", func() error { _, err := in.Call(bg, "ident", kib); return err }},
		{"ident_1MiB", func() error { _, err := in.Call(bg, "ident", mib); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			cpython.StartStageLog()
			for b.Loop() {
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
			}
			rows := cpython.StopStageLog()
			if len(rows) == 0 {
				b.Fatal("no stages were recorded")
			}
			report := func(name string, from, to int) {
				d := make([]int64, len(rows))
				for i, r := range rows {
					d[i] = r[to] - r[from]
				}
				slices.Sort(d)
				b.ReportMetric(float64(d[len(d)/2])/1e3, name+"-µs")
			}
			for s := 1; s < cpython.NumStages; s++ {
				// Numbered: benchmark output sorts metrics by name.
				report(fmt.Sprintf("%d_%s", s, strings.ReplaceAll(cpython.StageNames[s], " ", "_")), s-1, s)
			}
			report(fmt.Sprintf("%d_total", cpython.NumStages), 0, cpython.NumStages-1)
			reportTail(b, rows)
		})
	}
}

// reportTail reports the p99 round trip and, for the round trips at or
// above it, each stage's share of their summed time ("tail_<stage>-%"): a
// tail in "picked" or "collected" is a thread that was not running when
// the other handed over (parked, or its CPU taken away); one in "code end"
// is the pinned thread losing its CPU while it ran the task.
func reportTail(b *testing.B, rows [][cpython.NumStages]int64) {
	last := cpython.NumStages - 1
	slices.SortFunc(rows, func(x, y [cpython.NumStages]int64) int {
		return int((x[last] - x[0]) - (y[last] - y[0]))
	})
	tail := rows[len(rows)*99/100:]
	b.ReportMetric(float64(tail[0][last]-tail[0][0])/1e3, "p99_total-µs")
	var sum int64
	var perStage [cpython.NumStages]int64
	for _, r := range tail {
		sum += r[last] - r[0]
		for s := 1; s < cpython.NumStages; s++ {
			perStage[s] += r[s] - r[s-1]
		}
	}
	for s := 1; s < cpython.NumStages; s++ {
		name := strings.ReplaceAll(cpython.StageNames[s], " ", "_")
		b.ReportMetric(100*float64(perStage[s])/float64(sum), fmt.Sprintf("tail_%d_%s-%%", s, name))
	}
}
