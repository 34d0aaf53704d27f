package handoff

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

// The machine's floor for subinterp's latency goals, with no Python and no
// cgo: what a Call's two hand-offs cost at best on this machine, and how
// often the machine itself stops a running thread. docs/microbenchmarks.md
// ("The machine's floor") compares these with the Call figures.
//
//	go test -run '^$' -bench 'RoundTrip|Stalls' -benchtime 2s -count 3 ./internal/handoff

// BenchmarkRoundTrip: a request and its reply between a caller goroutine
// and a goroutine locked to its OS thread, each waiting on a Signal with
// DefaultBudget: a Call's two hand-offs and nothing else (no cgo, no GIL,
// no Python). Reports the median, p99 and p99.9 round trip.
func BenchmarkRoundTrip(b *testing.B) {
	req, resp := NewSignal(), NewSignal()
	stop := false // written before the last req.Notify, read after its Wait
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for {
			_ = req.Wait(nil, DefaultBudget)
			if stop {
				return
			}
			resp.Notify()
		}
	}()
	samples := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range samples {
		start := time.Now()
		req.Notify()
		_ = resp.Wait(nil, DefaultBudget)
		samples[i] = time.Since(start)
	}
	b.StopTimer()
	stop = true
	req.Notify()
	<-done
	reportQuantiles(b, samples)
}

// BenchmarkStalls: one goroutine reads the clock flat out for b.N reads
// and counts the gaps between two reads of 10 µs or more: times the
// machine (host, hypervisor, kernel) took the CPU away from a running
// thread. Reports stalls per second and the share of the time they took:
// a 3 µs operation overlaps a stall of 17 µs or more about that often, so
// with two threads in every round trip a p99 under 20 µs needs a share
// well under 0.5 %.
func BenchmarkStalls(b *testing.B) {
	const threshold = 10 * time.Microsecond
	var stalls int
	var stalled time.Duration
	var gaps []time.Duration
	b.ResetTimer()
	start := time.Now()
	last := start
	for i := 0; i < b.N; i++ {
		now := time.Now()
		if gap := now.Sub(last); gap >= threshold {
			stalls++
			stalled += gap
			gaps = append(gaps, gap)
		}
		last = now
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(stalls)/elapsed.Seconds(), "stalls/s")
	b.ReportMetric(100*float64(stalled)/float64(elapsed), "%-stalled")
	if len(gaps) > 0 {
		slices.Sort(gaps)
		b.ReportMetric(float64(gaps[len(gaps)/2].Nanoseconds())/1e3, "median-stall-µs")
	}
}

func reportQuantiles(b *testing.B, samples []time.Duration) {
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.5), "median-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
}
