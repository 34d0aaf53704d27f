package bench

import (
	"math"
	"slices"
	"time"
)

// The one set of summaries every measurement here uses: the side-by-side
// comparison's wall times (median, min, max), the microbenchmarks'
// latencies (median, p99) and the parallel check's medians.

// median returns the median of sorted s: the mean of the middle two for
// an even count (for durations, rounded down to the nanosecond).
func median[T ~int64 | ~float64](s []T) T {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianOf returns the median of ds, which it does not modify (0 for
// none).
func medianOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return median(s)
}

// rank is the index of the q-quantile in a sorted slice of n items
// (nearest-rank method).
func rank(n int, q float64) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// summarize returns the median, min and max of xs (seconds), which it does
// not modify.
func summarize(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Stats{Median: round(median(s), 6), Min: round(s[0], 6), Max: round(s[len(s)-1], 6)}
}

// latency is the distribution of a set of timings.
type latency struct {
	Median time.Duration
	P99    time.Duration
	N      int
}

// summarizeLatency returns the median and the 99th percentile (nearest
// rank) of ds, which it does not modify.
func summarizeLatency(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return latency{Median: median(s), P99: s[rank(len(s), 0.99)], N: len(s)}
}

// micros converts d to microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// round rounds x to the given number of decimals, so reports do not carry
// digits the measurement cannot support.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

// roundSig rounds x to the given number of significant digits: speedups of
// the overhead workloads are far below 1 and must not round to 0.
func roundSig(x float64, digits int) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	return round(x, digits-1-int(math.Floor(math.Log10(math.Abs(x)))))
}
