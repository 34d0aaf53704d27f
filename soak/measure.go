package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Sample is the process's state at one moment of a scenario.
type Sample struct {
	// Iteration is how many iterations had finished; Seconds is the time
	// since the scenario's iterations began (negative before).
	Iteration int64   `json:"iteration"`
	Seconds   float64 `json:"t_s"`
	// RSSBytes is VmRSS from /proc/self/status: everything resident,
	// CPython's allocations included (0 where /proc is missing).
	RSSBytes uint64 `json:"rss_bytes"`
	// HeapInuseBytes is runtime.MemStats.HeapInuse right after a
	// collection: the Go share of RSSBytes.
	HeapInuseBytes uint64 `json:"go_heap_inuse_bytes"`
	// Threads is the process's OS thread count (each interpreter pins one).
	Threads int `json:"threads"`
	// Goroutines is runtime.NumGoroutine().
	Goroutines int `json:"goroutines"`
	// Interpreters counts the runtime's live interpreters, main included.
	Interpreters int `json:"interpreters"`
	// OpenChannels is len(rt.Channels().List()).
	OpenChannels int `json:"open_channels"`
}

// Growth is how much memory grew per 1,000 iterations after the warm-up
// (negative: it shrank).
type Growth struct {
	RSSMB    float64 `json:"rss_mb"`
	GoHeapMB float64 `json:"go_heap_mb"`
}

const mb = 1 << 20

// growth is End minus Warm per 1,000 iterations between them.
func growth(warm, end Sample) Growth {
	n := end.Iteration - warm.Iteration
	if n <= 0 {
		return Growth{}
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / mb / float64(n) * 1000 }
	return Growth{RSSMB: per(warm.RSSBytes, end.RSSBytes), GoHeapMB: per(warm.HeapInuseBytes, end.HeapInuseBytes)}
}

// takeSample collects garbage and returns freed memory to the OS first, so
// that what is left is what something still holds: a leak, or memory the
// C allocator keeps.
func takeSample(rt *cpython.Runtime) Sample {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := Sample{
		HeapInuseBytes: ms.HeapInuse,
		Goroutines:     runtime.NumGoroutine(),
		Interpreters:   len(rt.Interpreters()),
		OpenChannels:   len(rt.Channels().List()),
	}
	s.RSSBytes, s.Threads = procStatus()
	return s
}

// currentRSS is procStatus; tests replace it to fake a leak.
var currentRSS = procStatus

// procStatus reads VmRSS and Threads from /proc/self/status (zeros where
// it cannot).
func procStatus() (rss uint64, threads int) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch string(name) {
		case "VmRSS": // "VmRSS:	  123456 kB"
			if kb, err := strconv.ParseUint(string(fields[0]), 10, 64); err == nil {
				rss = kb << 10
			}
		case "Threads":
			threads, _ = strconv.Atoi(string(fields[0]))
		}
	}
	return rss, threads
}

// meter hands out a scenario's iterations, samples memory at every tenth
// of the run (the first tenth ends the warm-up) and prints progress. Its
// methods are safe for concurrent use by the scenario's goroutines.
type meter struct {
	rt    *cpython.Runtime
	o     Options
	sr    *ScenarioReport
	t     *tally
	unit  string
	total int64         // iterations to run; 0: run for o.Duration
	dur   time.Duration // o.Duration
	start time.Time

	issued atomic.Int64
	done   atomic.Int64
	// nextMark is where the next tenth starts: an iteration count, or
	// nanoseconds since start in duration mode.
	nextMark atomic.Int64

	mu     sync.Mutex
	step   int // tenths reached
	warmed bool

	// stopped is set when RSS outgrew Options.MaxRSSGrowth; stopReason
	// (under mu) says so.
	stopped    atomic.Bool
	stopReason string
}

// rssCheckEvery is how often (in iterations) the meter reads RSS to stop a
// runaway leak; reading /proc/self/status costs about 20 µs.
const rssCheckEvery = 32

// newMeter takes the scenario's Start sample; call begin once it is set up.
func newMeter(rt *cpython.Runtime, o Options, sr *ScenarioReport, t *tally, unit string) *meter {
	m := &meter{rt: rt, o: o, sr: sr, t: t, unit: unit, total: o.iterations(sr.Name), dur: o.Duration}
	sr.Unit = unit
	sr.Start = takeSample(rt)
	return m
}

// mark is where tenth k (1..10) of the run ends.
func (m *meter) mark(k int) int64 {
	if m.total > 0 {
		return max((m.total*int64(k)+progressSteps-1)/progressSteps, 1)
	}
	return int64(m.dur) * int64(k) / progressSteps
}

// begin starts the clock.
func (m *meter) begin() {
	m.nextMark.Store(m.mark(1))
	m.start = time.Now()
	m.sr.Start.Seconds = 0
	m.o.progress("soak: %s: %s", m.sr.Name, m.goal())
}

// goal describes the run's length for the progress lines.
func (m *meter) goal() string {
	if m.total > 0 {
		return fmt.Sprintf("%d %s", m.total, m.unit)
	}
	return fmt.Sprintf("%s of %s", m.dur, m.unit)
}

// take grants up to k more iterations and returns how many (0: the run is
// over, or ctx ended).
func (m *meter) take(ctx context.Context, k int64) int64 {
	if ctx.Err() != nil || m.stopped.Load() {
		return 0
	}
	if m.total == 0 {
		if time.Since(m.start) >= m.dur {
			return 0
		}
		m.issued.Add(k)
		return k
	}
	for {
		n := m.issued.Load()
		if n >= m.total {
			return 0
		}
		k := min(k, m.total-n)
		if m.issued.CompareAndSwap(n, n+k) {
			return k
		}
	}
}

// next grants one iteration.
func (m *meter) next(ctx context.Context) bool { return m.take(ctx, 1) == 1 }

// finished records n finished iterations and samples at each tenth.
func (m *meter) finished(n int64) {
	done := m.done.Add(n)
	if done/rssCheckEvery != (done-n)/rssCheckEvery {
		m.checkRSS(done)
	}
	if m.position(done) < m.nextMark.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.step < progressSteps-1 && m.position(m.done.Load()) >= m.mark(m.step+1) {
		m.step++
		m.nextMark.Store(m.mark(m.step + 1))
		s := m.sample()
		if !m.warmed {
			m.warmed = true
			m.sr.Warm = s
			m.sr.WarmupIterations = s.Iteration
		}
		m.sr.Samples = append(m.sr.Samples, s)
		m.report(s)
	}
	if m.step >= progressSteps-1 {
		m.nextMark.Store(1 << 62) // the end sample is taken by end
	}
}

// checkRSS stops the run if RSS grew by more than MaxRSSGrowth since the
// scenario started.
func (m *meter) checkRSS(done int64) {
	rss, _ := currentRSS()
	if rss <= m.sr.Start.RSSBytes+m.o.MaxRSSGrowth || m.stopped.Swap(true) {
		return
	}
	m.mu.Lock()
	m.stopReason = fmt.Sprintf("stopped after %d %s: RSS grew by %.0f MB, over the %d MB limit (Options.MaxRSSGrowth)",
		done, m.unit, (float64(rss)-float64(m.sr.Start.RSSBytes))/mb, m.o.MaxRSSGrowth/mb)
	m.mu.Unlock()
	m.o.progress("soak: %s: %s", m.sr.Name, m.stopReason)
}

// position is where the run stands, in the unit of the marks.
func (m *meter) position(done int64) int64 {
	if m.total > 0 {
		return done
	}
	return int64(time.Since(m.start))
}

func (m *meter) sample() Sample {
	s := takeSample(m.rt)
	s.Iteration = m.done.Load()
	s.Seconds = time.Since(m.start).Seconds()
	return s
}

// report prints one progress line.
func (m *meter) report(s Sample) {
	delta := ""
	if m.warmed && s.Iteration > m.sr.Warm.Iteration {
		delta = fmt.Sprintf(" (%+.1f since warm-up)", (float64(s.RSSBytes)-float64(m.sr.Warm.RSSBytes))/mb)
	}
	m.o.progress("soak: %s: %d %s, %.1f s, RSS %.1f MB%s, Go heap %.1f MB, %d threads, %d interpreters, %d errors",
		m.sr.Name, s.Iteration, m.unit, s.Seconds, float64(s.RSSBytes)/mb, delta,
		float64(s.HeapInuseBytes)/mb, s.Threads, s.Interpreters, m.t.total())
}

// end takes the End sample (in the state the warm-up sample saw) and fixes
// the iteration counts and wall time.
func (m *meter) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sr.WallSeconds = time.Since(m.start).Seconds()
	m.sr.Iterations = m.done.Load()
	s := m.sample()
	if !m.warmed { // the run ended before its first tenth: nothing to compare
		m.warmed = true
		m.sr.Warm = s
		m.sr.WarmupIterations = s.Iteration
	}
	m.sr.End = s
	m.sr.Samples = append(m.sr.Samples, s)
	m.sr.Truncated = m.stopReason
	m.sr.Growth = growth(m.sr.Warm, s)
	m.report(s)
}

// final takes the Final sample, after the scenario tore everything down,
// and copies the tally into the report.
func (m *meter) final() {
	s := m.sample()
	m.sr.Final = s
	m.sr.Errors, m.sr.Expected, m.sr.ErrorSamples = m.t.snapshot()
}

// maxErrors stops a scenario that keeps failing: its figures would mean
// nothing, and the errors say what is wrong.
const maxErrors = 1000

// tally counts a scenario's errors and expected failures by kind.
type tally struct {
	mu       sync.Mutex
	errors   map[string]int64
	expected map[string]int64
	samples  map[string]string
	n        atomic.Int64 // errors
}

func newTally() *tally {
	return &tally{errors: map[string]int64{}, expected: map[string]int64{}, samples: map[string]string{}}
}

// fail counts an error of the given kind ("what: class of err").
func (t *tally) fail(what string, err error) {
	kind := what
	if err != nil {
		kind += ": " + errorClass(err)
	}
	t.mu.Lock()
	t.errors[kind]++
	if _, ok := t.samples[kind]; !ok && err != nil {
		t.samples[kind] = err.Error()
	}
	t.mu.Unlock()
	t.n.Add(1)
}

// expect counts an outcome that is not an error: what a cancelled call or
// send is meant to return.
func (t *tally) expect(kind string) {
	t.mu.Lock()
	t.expected[kind]++
	t.mu.Unlock()
}

// total is the number of errors so far.
func (t *tally) total() int64 { return t.n.Load() }

func (t *tally) snapshot() (errs, expected map[string]int64, samples map[string]string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	errs = make(map[string]int64, len(t.errors))
	for k, v := range t.errors {
		errs[k] = v
	}
	expected = make(map[string]int64, len(t.expected))
	for k, v := range t.expected {
		expected[k] = v
	}
	if len(t.samples) > 0 {
		samples = make(map[string]string, len(t.samples))
		for k, v := range t.samples {
			samples[k] = v
		}
	}
	return errs, expected, samples
}

// errorClass names the kind of err in a few words, so that errors can be
// counted by kind.
func errorClass(err error) string {
	var ie *cpython.InterruptedError
	var rf *cpython.RunFailedError
	switch {
	case errors.As(err, &ie) && ie.Stopped:
		return "interrupted"
	case errors.As(err, &ie):
		return "interrupted, not stopped"
	case errors.As(err, &rf):
		return "Python " + rf.Type
	case errors.Is(err, channel.ErrNotReceived):
		return "not received"
	case errors.Is(err, channel.ErrClosed):
		return "channel closed"
	case errors.Is(err, channel.ErrNotFound):
		return "channel not found"
	case errors.Is(err, cpython.ErrClosed):
		return "closed"
	case errors.Is(err, cpython.ErrRunning):
		return "running"
	case errors.Is(err, cpython.ErrFinalized):
		return "finalized"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}
