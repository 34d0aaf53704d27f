package main

import (
	"math"
	"slices"
	"time"
)

// summary is the distribution of a set of timings.
type summary struct {
	Median time.Duration
	P99    time.Duration
	N      int
}

// summarize returns the median and the 99th percentile (nearest rank) of
// ds, which it does not modify.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return summary{Median: median(s), P99: s[rank(len(s), 0.99)], N: len(s)}
}

// median returns the median of sorted s (the mean of the middle two for an
// even count).
func median(s []time.Duration) time.Duration {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianOf returns the median of ds, which it does not modify.
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

// micros converts d to microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
