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
// and the conversions on the pinned thread.
func BenchmarkCallStages(b *testing.B) {
	in := newInterp(b)
	if err := in.Exec(bg, "def ident(x):\n    return x"); err != nil {
		b.Fatal(err)
	}
	mib := make([]byte, 1<<20)
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"empty", func() error { return in.NoopForTest(bg) }},
		{"ident", func() error { _, err := in.Call(bg, "ident", 1); return err }},
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
		})
	}
}
