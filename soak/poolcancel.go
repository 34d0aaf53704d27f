package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// PoolFigures are the pool-cancel scenario's own counts. Completed + Failed
// is the number of calls made (the scenario's Iterations), and Failed is
// the sum of the scenario's Errors and Expected.
type PoolFigures struct {
	Size        int `json:"size"`
	Callers     int `json:"callers"`
	CancelEvery int `json:"cancel_every"`
	// SpinLimitSeconds bounds the loop cancelled calls run.
	SpinLimitSeconds float64 `json:"spin_limit_s"`
	// Completed calls returned echo's argument; Failed ones returned an
	// error, a wrong result, or (a cancelled one) a result at all.
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// Cancelled counts the calls made with a 1-5 ms deadline on a loop of
	// pure Python; each ended one of these ways:
	//   Interrupted: *InterruptedError with Stopped true, as it should;
	//   NotStopped: *InterruptedError with Stopped false (the code did not
	//     stop within the grace period: the interpreter is replaced);
	//   ExpiredBeforeStart: the deadline passed before the code started
	//     (while every interpreter was busy, or as one was handed over);
	//   CancelOther: any other outcome (counted in Errors).
	Cancelled          int64 `json:"cancelled"`
	Interrupted        int64 `json:"interrupted"`
	NotStopped         int64 `json:"not_stopped"`
	ExpiredBeforeStart int64 `json:"expired_before_start"`
	CancelOther        int64 `json:"cancel_other"`
	// RanToLimit counts loops nobody interrupted: they ran to SpinLimit.
	RanToLimit int64 `json:"ran_to_limit"`
	// StillRunning counts the interpreters the scenario started that still
	// ran after the calls, once IdleWaitSeconds (bounded by IdleWait) had
	// passed; Idle says whether the pool became idle within the bound.
	StillRunning    int     `json:"still_running"`
	IdleWaitSeconds float64 `json:"idle_wait_s"`
	Idle            bool    `json:"idle"`
	// Replacements are After minus Before, by reason.
	Replacements cpython.ReplaceCounts `json:"replacements"`
	// Before is the pool's stats once created, After once idle (before
	// Close).
	Before cpython.PoolStats `json:"before"`
	After  cpython.PoolStats `json:"after"`
}

// poolPrelude defines the functions pool-cancel calls.
const poolPrelude = `
import time

def echo(x):
    return x

def spin(limit, out):
    # Pure Python until the call is interrupted. Reaching the limit means
    # the interrupt never came: say so on out (a Go channel) and return.
    end = time.monotonic() + limit
    while time.monotonic() < end:
        for _ in range(10_000):
            pass
    out.send_nowait(1)
    return "ran to limit"
`

// regularCallTimeout bounds a call that should take microseconds, so that
// a hang is counted rather than waited for forever.
const regularCallTimeout = 30 * time.Second

// runPoolCancel calls echo through a small pool from several goroutines;
// one call in CancelEvery instead calls spin with a 1-5 ms deadline. An
// interrupted call's interpreter may be replaced; the pool must keep its
// size and its memory, and every cancelled loop must stop.
func runPoolCancel(ctx context.Context, rt *cpython.Runtime, o Options) *ScenarioReport {
	sr := &ScenarioReport{Name: PoolCancel}
	t := newTally()
	f := &PoolFigures{Size: o.PoolSize, Callers: o.Callers, CancelEvery: o.CancelEvery, SpinLimitSeconds: o.SpinLimit.Seconds()}
	sr.Pool = f
	m := newMeter(rt, o, sr, t, "calls")
	before := interpreterIDs(rt)

	lostR, lostS, err := rt.Channels().Create(channel.Options{})
	if err != nil {
		t.fail("setup: channel", err)
		m.begin()
		m.end()
		m.final()
		return sr
	}
	release := func() {
		for _, end := range []interface{ Release() error }{lostR, lostS} {
			if err := end.Release(); err != nil {
				t.fail("release", err)
			}
		}
	}
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Name: "soak", Size: o.PoolSize, Prelude: poolPrelude})
	if err != nil {
		t.fail("setup: pool", err)
		release()
		m.begin()
		m.end()
		m.final()
		return sr
	}
	f.Before = p.Stats()

	var mu sync.Mutex // guards f's counters
	count := func(fn func()) { mu.Lock(); fn(); mu.Unlock() }
	m.begin()
	var wg sync.WaitGroup
	for range o.Callers {
		wg.Go(func() {
			for m.next(ctx) {
				n := m.issued.Load() // any number will do as echo's argument
				if rand.IntN(o.CancelEvery) == 0 {
					cancelledCall(ctx, p, o, t, lostS, count, f)
				} else {
					regularCall(ctx, p, n, t, count, f)
				}
				m.finished(1)
				if t.total() >= maxErrors {
					return
				}
			}
		})
	}
	wg.Wait()
	if t.total() >= maxErrors {
		sr.Aborted = fmt.Sprintf("stopped after %d errors", t.total())
	}

	waitStart := time.Now()
	f.Idle, f.StillRunning = waitIdle(ctx, rt, p, before, o.IdleWait)
	f.IdleWaitSeconds = time.Since(waitStart).Seconds()
	m.end()
	f.After = p.Stats()
	f.Replacements = subCounts(f.After.Replacements, f.Before.Replacements)
	for {
		_, ok, err := lostR.RecvNowait()
		if err != nil || !ok {
			break
		}
		f.RanToLimit++
	}
	sr.LostInterrupts = f.RanToLimit + int64(f.StillRunning)

	cctx, cancel := context.WithTimeout(context.Background(), o.IdleWait)
	if err := p.Close(cctx); err != nil {
		t.fail("pool close", err)
	}
	cancel()
	release()
	m.final()
	return sr
}

// regularCall is one call of echo, whose result must be its argument.
func regularCall(ctx context.Context, p *cpython.Pool, n int64, t *tally, count func(func()), f *PoolFigures) {
	cctx, cancel := context.WithTimeout(ctx, regularCallTimeout)
	v, err := p.Call(cctx, "echo", n)
	cancel()
	switch {
	case err != nil:
		t.fail("echo", err)
		count(func() { f.Failed++ })
	case v != n:
		t.fail("echo: wrong result", fmt.Errorf("echo(%d) returned %v", n, v))
		count(func() { f.Failed++ })
	default:
		count(func() { f.Completed++ })
	}
}

// cancelledCall is one call of spin with a 1-5 ms deadline.
func cancelledCall(ctx context.Context, p *cpython.Pool, o Options, t *tally, lost *channel.SendChannel, count func(func()), f *PoolFigures) {
	deadline := time.Millisecond + rand.N(4*time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, deadline)
	_, err := p.Call(cctx, "spin", o.SpinLimit.Seconds(), lost)
	cancel()
	var ie *cpython.InterruptedError
	count(func() {
		f.Cancelled++
		f.Failed++
		switch {
		case err == nil: // only if SpinLimit is shorter than the interrupt's grace
			f.CancelOther++
			t.fail("spin: returned normally", nil)
		case errors.As(err, &ie) && ie.Stopped && errors.Is(err, context.DeadlineExceeded):
			f.Interrupted++
			t.expect("spin: interrupted")
		case errors.As(err, &ie) && !ie.Stopped:
			f.NotStopped++
			t.fail("spin", err)
		case errors.Is(err, context.DeadlineExceeded) && ie == nil:
			f.ExpiredBeforeStart++
			t.expect("spin: deadline passed before it ran")
		default:
			f.CancelOther++
			t.fail("spin", err)
		}
	})
}

// waitIdle waits, up to bound, until the pool is idle with nothing retired
// or starting and no interpreter the scenario started runs; it returns
// whether that happened and how many such interpreters still run.
func waitIdle(ctx context.Context, rt *cpython.Runtime, p *cpython.Pool, before map[int64]bool, bound time.Duration) (idle bool, running int) {
	deadline := time.Now().Add(bound)
	for {
		running = 0
		for _, in := range rt.Interpreters() {
			if !before[in.ID()] && in.IsRunning() {
				running++
			}
		}
		s := p.Stats()
		if running == 0 && s.Busy == 0 && s.Starting == 0 && s.Retired == 0 {
			return true, 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, running
		}
		// Nothing signals the end of a retired interpreter's C call; the
		// pool's own janitor polls too.
		time.Sleep(10 * time.Millisecond)
	}
}

// interpreterIDs are the ids of the runtime's live interpreters.
func interpreterIDs(rt *cpython.Runtime) map[int64]bool {
	ids := map[int64]bool{}
	for _, in := range rt.Interpreters() {
		ids[in.ID()] = true
	}
	return ids
}

// subCounts is a minus b, reason by reason.
func subCounts(a, b cpython.ReplaceCounts) cpython.ReplaceCounts {
	return cpython.ReplaceCounts{
		MaxTasks: a.MaxTasks - b.MaxTasks,
		Stuck:    a.Stuck - b.Stuck,
		Threads:  a.Threads - b.Threads,
		Closed:   a.Closed - b.Closed,
	}
}
