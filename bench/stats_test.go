package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSummarizeLatency(t *testing.T) {
	assert.Equal(t, latency{}, summarizeLatency(nil))
	ds := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	s := summarizeLatency(ds)
	assert.Equal(t, 100, s.N)
	assert.Equal(t, 50500*time.Nanosecond, s.Median)
	assert.Equal(t, 99*time.Microsecond, s.P99)
	assert.Equal(t, 100*time.Microsecond, ds[0], "the input is not reordered")

	assert.Equal(t, 2*time.Second, medianOf([]time.Duration{3 * time.Second, time.Second, 2 * time.Second}))
	assert.Equal(t, latency{Median: 7, P99: 7, N: 1}, summarizeLatency([]time.Duration{7}))
}

func TestSummarize(t *testing.T) {
	assert.Equal(t, Stats{}, summarize(nil))
	xs := []float64{0.5, 0.1, 0.4, 0.2}
	assert.Equal(t, Stats{Median: 0.3, Min: 0.1, Max: 0.5}, summarize(xs))
	assert.Equal(t, []float64{0.5, 0.1, 0.4, 0.2}, xs, "the input is not reordered")
	assert.Equal(t, Stats{Median: 0.25, Min: 0.25, Max: 0.25}, summarize([]float64{0.25}))
}

func TestMedianAndRank(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{1, 2, 3}))
	assert.Equal(t, 2.5, median([]float64{1, 2, 3, 4}))
	assert.Equal(t, 3*time.Nanosecond, median([]time.Duration{2, 5}), "durations round down to the nanosecond")
	assert.Equal(t, time.Duration(0), medianOf(nil))
	for _, c := range []struct {
		n    int
		q    float64
		want int
	}{{1, 0.99, 0}, {100, 0.99, 98}, {101, 0.99, 99}, {10, 0.5, 4}, {10, 0, 0}} {
		assert.Equal(t, c.want, rank(c.n, c.q), "rank(%d, %v)", c.n, c.q)
	}
}

func TestComparison(t *testing.T) {
	for _, c := range []struct {
		ours, theirs float64
		want         string
	}{
		{1, 2, "2.0× faster"},
		{2, 1, "2.0× slower"},
		{10, 10.4, "about the same"},
		{10.4, 10, "about the same"},
		{10, 10.6, "1.1× faster"},
		{0, 1, "no ratio: a figure is zero"},
	} {
		assert.Equal(t, c.want, comparison(c.ours, c.theirs, "faster", "slower"), "%g vs %g", c.ours, c.theirs)
	}
}
