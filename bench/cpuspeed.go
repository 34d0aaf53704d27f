package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// On the project's 2-vCPU VMs the two CPUs are not always equally fast:
// for minutes at a time one of them ran a walk over 512 KiB of memory 49 %
// slower than the other (7.4 against 5.0 ns per load) and a pure-Python
// kernel 45 % slower (nbody: 36 against 24.5 ms), while a loop of
// arithmetic without memory traffic ran at the same speed on both; a
// minute later the two were level again. Another tenant sharing that
// CPU's core and caches on the host would do this; the VM sees no steal
// time for it. A single-threaded measurement (sequential, one worker) is
// then as fast as the CPU the OS happened to put it on, so bench and
// doctor measure each CPU's speed and say when they differ.

// CPUSpeed is how fast one CPU ran the memory probe.
type CPUSpeed struct {
	CPU int `json:"cpu"`
	// NsPerLoad is the fastest of the probe's rounds on this CPU, in
	// nanoseconds per dependent load.
	NsPerLoad float64 `json:"ns_per_load"`
}

// MaxCPUSpread is how much slower (as a fraction) the slowest CPU may run
// the probe than the fastest before bench and doctor warn.
const MaxCPUSpread = 0.10

const (
	// probeRingBytes is the probe's working set: larger than the L1 cache,
	// within the L2 of the CPUs at hand, which is where an interpreter's
	// loop spends its memory accesses and where the slow CPU lost most.
	probeRingBytes = 512 << 10
	// probeLoads is one round's length: about 3 ms at 5 ns per load.
	probeLoads = 600_000
	// probeRounds alternate over the CPUs; each CPU keeps its fastest, so
	// a round the OS interrupted does not count.
	probeRounds = 3
)

// ProbeCPUSpeeds times a walk of dependent loads through a random ring
// of 512 KiB on each CPU this process may run on, one at a time, on an OS
// thread pinned to that CPU for the round. It takes about 10 ms per CPU.
// It fails where CPU affinity cannot be set (a seccomp policy that
// forbids it).
func ProbeCPUSpeeds(ctx context.Context) ([]CPUSpeed, error) {
	type outcome struct {
		speeds []CPUSpeed
		err    error
	}
	done := make(chan outcome, 1)
	// A goroutine of its own: if the thread's affinity cannot be restored,
	// it exits still locked, and the pinned thread ends with it.
	go func() {
		runtime.LockOSThread()
		speeds, restored, err := probeOnThisThread(ctx)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- outcome{speeds, err}
	}()
	o := <-done
	return o.speeds, o.err
}

// probeOnThisThread is ProbeCPUSpeeds on the calling, locked, thread;
// restored says whether the thread's affinity is what it was.
func probeOnThisThread(ctx context.Context) (speeds []CPUSpeed, restored bool, err error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, true, fmt.Errorf("cpu speeds: reading this thread's CPU affinity: %w", err)
	}
	cpus := cpusIn(allowed)
	if err := ctx.Err(); err != nil {
		return nil, true, err
	}
	ring := probeRing(probeRingBytes / 4)
	best := make([]float64, len(cpus))
	for round := 0; round < probeRounds && err == nil; round++ {
		for i, c := range cpus {
			if err = ctx.Err(); err != nil {
				break
			}
			var one unix.CPUSet
			one.Set(c)
			if err = unix.SchedSetaffinity(0, &one); err != nil {
				err = fmt.Errorf("cpu speeds: pinning a thread to CPU %d: %w", c, err)
				break
			}
			ns := walkRing(ring, probeLoads)
			if best[i] == 0 || ns < best[i] {
				best[i] = ns
			}
		}
	}
	if rerr := unix.SchedSetaffinity(0, &allowed); rerr != nil {
		return nil, false, fmt.Errorf("cpu speeds: restoring the thread's CPU affinity: %w", rerr)
	}
	if err != nil {
		return nil, true, err
	}
	speeds = make([]CPUSpeed, len(cpus))
	for i, c := range cpus {
		speeds[i] = CPUSpeed{CPU: c, NsPerLoad: round(best[i], 2)}
	}
	return speeds, true, nil
}

// probeRing returns a single cycle through n slots in a random order (each
// slot links to the next one of a shuffled order), so each load depends on
// the one before and the hardware prefetcher cannot guess the next.
func probeRing(n int) []uint32 {
	order := make([]uint32, n)
	for i := range order {
		order[i] = uint32(i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	next := make([]uint32, n)
	for i := range order {
		next[order[i]] = order[(i+1)%n]
	}
	return next
}

// walkRing follows ring for loads steps and returns the time per step.
func walkRing(ring []uint32, loads int) float64 {
	p := uint32(0)
	start := time.Now()
	for range loads {
		p = ring[p]
	}
	elapsed := time.Since(start)
	runtime.KeepAlive(p) // the loads must not be optimised away
	return float64(elapsed.Nanoseconds()) / float64(loads)
}

// CPUSpread is how much slower the slowest CPU ran the probe than the
// fastest (0.49: 49 % slower), with the two CPUs; 0 for fewer than two.
func CPUSpread(speeds []CPUSpeed) (spread float64, fastest, slowest CPUSpeed) {
	if len(speeds) < 2 {
		return 0, CPUSpeed{}, CPUSpeed{}
	}
	fastest, slowest = speeds[0], speeds[0]
	for _, s := range speeds[1:] {
		if s.NsPerLoad < fastest.NsPerLoad {
			fastest = s
		}
		if s.NsPerLoad > slowest.NsPerLoad {
			slowest = s
		}
	}
	if fastest.NsPerLoad <= 0 {
		return 0, fastest, slowest
	}
	return slowest.NsPerLoad/fastest.NsPerLoad - 1, fastest, slowest
}

// CPUSpeedsWarning says how the CPUs differ when the spread exceeds
// MaxCPUSpread, and "" otherwise.
func CPUSpeedsWarning(speeds []CPUSpeed) string {
	spread, fastest, slowest := CPUSpread(speeds)
	if spread <= MaxCPUSpread {
		return ""
	}
	return fmt.Sprintf("CPU %d ran a memory probe %.0f%% slower than CPU %d (%.2f against %.2f ns per load): the host is probably running something else on its core, so a single-threaded row (sequential, one worker) is as fast as the CPU it landed on; to compare those rows, run them alone on one CPU with taskset -c %d",
		slowest.CPU, 100*spread, fastest.CPU, slowest.NsPerLoad, fastest.NsPerLoad, fastest.CPU)
}

// FormatCPUSpeeds is "cpu0 5.01, cpu1 7.42 ns/load".
func FormatCPUSpeeds(speeds []CPUSpeed) string {
	parts := make([]string, len(speeds))
	for i, s := range speeds {
		parts[i] = fmt.Sprintf("cpu%d %.2f", s.CPU, s.NsPerLoad)
	}
	return strings.Join(parts, ", ") + " ns/load"
}

// How far apart the host runs two CPUs. A Call's round trip moves a few
// cache lines from the caller's CPU to the pinned thread's and back, and
// what one crossing costs is the host's doing: on the project's VMs one
// line's round trip between the two vCPUs took 400-553 ns most of the
// time and 119-160 ns in the minutes the host ran them close together,
// and Call's median was 3.1-3.4 µs in the first case and 1.3 µs in the
// second (docs/microbenchmarks.md). ProbeCrossCPU measures it, so that a
// latency figure can be read against it.

// crossRounds is one batch of round trips (~10 ms at 500 ns); the probe
// reports the median of crossBatches batches: the host can move the CPUs
// during a probe, and the figure is meant to say where they mostly were.
const (
	crossRounds  = 20_000
	crossBatches = 5
	// crossGiveUp bounds a probe whose two threads could not both run (a
	// CPU taken away for long): it fails rather than spin on.
	crossGiveUp = 2 * time.Second
)

// CrossCPU is what ProbeCrossCPU measured.
type CrossCPU struct {
	// A and B are the two CPUs.
	A int `json:"cpu_a"`
	B int `json:"cpu_b"`
	// RoundTripNs is the median batch's time per round trip of one cache
	// line, in nanoseconds (the larger of the two threads' timings).
	RoundTripNs float64 `json:"round_trip_ns"`
}

// ProbeCrossCPU times a cache line handed back and forth between two OS
// threads pinned to the first two CPUs this process may use (~0.1 s), in
// batches, and reports the median batch (the larger of the two threads'
// timings of it). It gives up after 2 s if the two threads cannot run at
// the same time (a host that keeps one CPU away).
// Both threads get their affinity back afterwards. It fails with fewer
// than two CPUs, or where CPU affinity cannot be set.
func ProbeCrossCPU(ctx context.Context) (CrossCPU, error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return CrossCPU{}, fmt.Errorf("cross-cpu probe: %w", err)
	}
	if len(cpus) < 2 {
		return CrossCPU{}, fmt.Errorf("cross-cpu probe: this process may run on %d CPU only", len(cpus))
	}
	ns, err := probeCrossCPU(ctx, cpus[0], cpus[1])
	if err != nil {
		return CrossCPU{}, err
	}
	return CrossCPU{A: cpus[0], B: cpus[1], RoundTripNs: ns}, nil
}

// allowedCPUs lists the CPUs the calling thread may run on.
func allowedCPUs() ([]int, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, fmt.Errorf("reading this thread's CPU affinity: %w", err)
	}
	return cpusIn(allowed), nil
}

// cpusIn lists the CPUs of set, in order.
func cpusIn(set unix.CPUSet) []int {
	var cpus []int
	for c := 0; len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// probeCrossCPU is ProbeCrossCPU between CPUs a and b. Each side times
// the batches itself; the result is the larger of the two sides' medians.
func probeCrossCPU(ctx context.Context, a, b int) (float64, error) {
	if a == b {
		return 0, fmt.Errorf("cross-cpu probe: needs two different CPUs, got %d twice", a)
	}
	if n := runtime.GOMAXPROCS(0); n < 2 {
		// Two goroutines spinning for each other need two Ps.
		return 0, fmt.Errorf("cross-cpu probe: GOMAXPROCS is %d, and the two threads must run at once", n)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var line struct {
		_ [64]byte
		n atomic.Int64
		_ [64]byte
	}
	type side struct {
		median float64
		err    error
	}
	results := make(chan side, 2)
	setUp := make(chan error, 2)
	start := make(chan bool) // true: both sides are pinned, go
	deadline := time.Now().Add(crossGiveUp)
	run := func(cpu int, first bool) {
		runtime.LockOSThread()
		var allowed unix.CPUSet
		if err := unix.SchedGetaffinity(0, &allowed); err != nil {
			runtime.UnlockOSThread()
			setUp <- fmt.Errorf("cross-cpu probe: reading a thread's CPU affinity: %w", err)
			<-start
			results <- side{}
			return
		}
		var one unix.CPUSet
		one.Set(cpu)
		var err error
		if perr := unix.SchedSetaffinity(0, &one); perr != nil {
			err = fmt.Errorf("cross-cpu probe: pinning a thread to CPU %d: %w", cpu, perr)
		}
		setUp <- err
		var batches []float64
		if <-start {
			for batch := 0; err == nil && batch < crossBatches; batch++ {
				if err = ctx.Err(); err != nil {
					break // the partner stops at the same batch, or at the deadline
				}
				var ns float64
				ns, err = pingPong(ctx, &line.n, int64(batch)*2*crossRounds, first, deadline)
				batches = append(batches, ns)
			}
		}
		median := 0.0
		if err == nil && len(batches) > 0 {
			slices.Sort(batches)
			median = batches[len(batches)/2]
		}
		if rerr := unix.SchedSetaffinity(0, &allowed); rerr != nil {
			// Exit still locked: the pinned thread ends with the goroutine.
			results <- side{err: fmt.Errorf("cross-cpu probe: restoring a thread's CPU affinity: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		results <- side{median: median, err: err}
	}
	go run(a, true)
	go run(b, false)
	// Neither side starts unless both are pinned: a side alone would spin
	// for its partner until the deadline.
	setupErr := errors.Join(<-setUp, <-setUp)
	ok := setupErr == nil
	start <- ok
	start <- ok
	var median float64
	var firstErr error
	for range 2 {
		r := <-results
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
		median = max(median, r.median)
	}
	if setupErr != nil {
		return 0, setupErr
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return round(median, 1), nil
}

// errCrossGaveUp is the error of a cross-CPU probe that ran past
// crossGiveUp.
var errCrossGaveUp = errors.New("cross-cpu probe: the two threads did not both run for too long")

// pingPong runs crossRounds round trips on n starting at base: the first
// side writes odd values and waits for the next even one, the other side
// the reverse. It returns nanoseconds per round trip. If the partner has
// failed to set up, n never moves and the deadline ends the wait.
func pingPong(ctx context.Context, n *atomic.Int64, base int64, first bool, deadline time.Time) (float64, error) {
	wait := func(want int64) error {
		for i := 1; n.Load() != want; i++ {
			if i%(1<<14) == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if time.Now().After(deadline) {
					return errCrossGaveUp
				}
			}
		}
		return nil
	}
	t0 := time.Now()
	for i := int64(0); i < crossRounds; i++ {
		v := base + 2*i
		if first {
			n.Store(v + 1)
			if err := wait(v + 2); err != nil {
				return 0, err
			}
		} else {
			if err := wait(v + 1); err != nil {
				return 0, err
			}
			n.Store(v + 2)
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / crossRounds, nil
}
