// Package handoff wakes one waiting goroutine or pinned OS thread cheaply.
//
// Why it exists: on the 2-core VMs this project targets, parking a thread
// and waking it costs 26-40 µs when one side is locked to its OS thread
// (LockOSThread) and ~90 µs between two locked threads; a pthread condvar is
// no better. A thread that spins on an atomic flag sees the change in well
// under a microsecond. Every handoff in subinterp (a task to an
// interpreter's pinned thread, its result back to the caller, a channel
// value to a blocked receiver) therefore spins for a short, bounded time
// before it parks on a Go channel. The bound keeps an idle system idle: a
// waiter that has nothing coming stops burning CPU after Budget.
//
// Spinning yields the OS thread (sched_yield) between polls rather than
// calling runtime.Gosched: a goroutine locked to its thread that calls
// Gosched makes the Go scheduler hand its P to another thread and put the
// locked thread to sleep, which is exactly the slow wake-up we avoid. With
// only two cores, sched_yield also lets the thread we are waiting for run
// when both cores are busy spinning.
package handoff

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultBudget is how long a waiter spins before it parks. Measured with
// `go test -bench . ./cpython` and `./channel`: 50 µs covers a small
// Python task's round trip with margin, while an idle waiter gives the
// core back after 50 µs.
const DefaultBudget = 50 * time.Microsecond

// AfterWakeBudget is how long to spin for a partner that had to be woken
// from a park (Notify reported it): a wake-up takes 30-110 µs on these VMs,
// so that partner comes back later than DefaultBudget, and with both sides
// spinning only DefaultBudget each parks in turn and wakes the other, a
// chain that lasted several calls: the short calls after a 1 ms task took
// 213, 135, 85, 33 and 18 µs (medians), the sixth 6 µs. Spinning this long
// once per wake-up breaks the chain at the first call.
const AfterWakeBudget = 250 * time.Microsecond

// NextBudget is the spin budget for a goroutine's next wait on its partner,
// given whether that partner is likely to come back from a wake-up: its
// last Notify to it reported a parked waiter, or (where waiters are not
// paired, as on a channel) the last wait of the same kind parked.
// AfterWakeBudget then, else DefaultBudget.
func NextBudget(wokeParked bool) time.Duration {
	if wokeParked {
		return AfterWakeBudget
	}
	return DefaultBudget
}

// MoveBudget is how much longer to spin for a partner that has n bytes to
// move (decode, copy, convert, encode) before it answers: its work grows
// with n, and a waiter whose budget runs out first parks and then costs a
// wake-up. A 1 MiB Call spent 158 µs in its code and its caller, parked
// after DefaultBudget, 113 µs more coming back (medians). The rate is a
// conservative 2 bytes per nanosecond (the code moved ~13), and the
// extra is capped at MaxMoveBudget, so a waiter on a partner that does
// much more with its bytes than move them still parks before long.
func MoveBudget(n int) time.Duration {
	return min(time.Duration(n/moveBytesPerNs), MaxMoveBudget)
}

const moveBytesPerNs = 2

// MaxMoveBudget caps MoveBudget.
const MaxMoveBudget = time.Millisecond

const (
	stateEmpty    = 0 // nothing pending, nobody parked
	stateNotified = 1 // a notification waits to be consumed
	stateParked   = 2 // the waiter sleeps on the channel
)

// Signal is a binary semaphore for one waiter and any number of notifiers:
// Notify makes the next (or current) Wait return, and notifications do not
// accumulate beyond one. The zero value is not usable; call NewSignal.
type Signal struct {
	state atomic.Int32
	wake  chan struct{}
	// hotMisses counts the waits in a row whose hot phase went by without
	// a notification; coldWaits how many more waits skip the hot phase.
	// Only the one waiter uses them.
	hotMisses, coldWaits atomic.Int32
}

// Adapting the hot phase. A waiter polling flat out is only useful while
// the thread that will notify it runs on another core. On these 2-vCPU VMs
// the OS sometimes keeps both threads on one CPU for a while (they wake
// each other, so the scheduler's wake-affinity pulls them together): then
// the hot phase only delays the very thread it waits for, and a Call round
// trip takes ~20 µs instead of ~4 µs for as long as that lasts (measured in
// phases of thousands of calls). A waiter whose hot phase missed
// coldAfterMisses times in a row, the notification coming while it
// yielded, therefore yields from the start for its next coldWaits waits
// (a round trip then takes ~5-10 µs either way), and tries the hot phase
// again after that. A wait that parked (longer work) is not a miss: see
// adapt.
const (
	coldAfterMisses = 3
	coldWaits       = 256
)

// NewSignal returns a Signal with no pending notification.
func NewSignal() *Signal {
	return &Signal{wake: make(chan struct{}, 1)}
}

// Notify wakes the waiter, or lets its next Wait return at once. It
// reports whether the waiter had parked: then it comes back only after a
// wake-up, later than DefaultBudget allows for (see AfterWakeBudget).
func (s *Signal) Notify() (wokeParked bool) {
	if s.state.Swap(stateNotified) == stateParked {
		s.wake <- struct{}{}
		return true
	}
	return false
}

// Wait consumes one notification, spinning for up to budget before it
// parks. It returns ctx.Err() if ctx ends first; a notification that
// arrives meanwhile stays pending for the next Wait. A nil ctx never ends.
// Only one goroutine may Wait at a time.
func (s *Signal) Wait(ctx context.Context, budget time.Duration) error {
	_, err := s.WaitParked(ctx, budget)
	return err
}

// WaitParked is Wait that also reports whether it parked: a waiter that
// parked was woken (or gave up) after its spin, and whoever it waits on
// next is likely to be late again the same way (see AfterWakeBudget).
func (s *Signal) WaitParked(ctx context.Context, budget time.Duration) (parked bool, err error) {
	if s.spin(budget) {
		return false, nil
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	for {
		if s.state.CompareAndSwap(stateNotified, stateEmpty) {
			return false, nil
		}
		if !s.state.CompareAndSwap(stateEmpty, stateParked) {
			continue // a Notify landed between the two CASes
		}
		select {
		case <-s.wake:
			s.state.Store(stateEmpty)
			return true, nil
		case <-done:
			if s.state.CompareAndSwap(stateParked, stateEmpty) {
				return true, ctx.Err()
			}
			// Notify raced with cancellation: it set stateNotified and is
			// sending on wake. Take the token so the channel stays empty and
			// leave the notification pending for the next Wait.
			<-s.wake
			return true, ctx.Err()
		}
	}
}

// Parked reports whether the waiter is parked right now: it spun out its
// budget and sleeps until a Notify (or its context's end) wakes it.
func (s *Signal) Parked() bool {
	return s.state.Load() == stateParked
}

// spin polls for a notification for up to budget and consumes it. It reads
// the state before trying to CAS it, so the notifier's cache line is not
// taken away on every poll.
func (s *Signal) spin(budget time.Duration) bool {
	consume := func() bool {
		return s.state.Load() == stateNotified && s.state.CompareAndSwap(stateNotified, stateEmpty)
	}
	if budget <= 0 {
		return consume()
	}
	if s.coldWaits.Load() > 0 {
		s.coldWaits.Add(-1)
		return spin(budget, 0, consume) != missed
	}
	r := spin(budget, hotSpin, consume)
	s.adapt(r)
	return r != missed
}

// adapt records how a wait with a hot phase ended. Only a notification
// that came during the yielding phase counts as a miss: it came soon, so
// the notifier was held back, likely by our own polling on its CPU. A
// wait whose whole budget went by waited for long work (a task of
// milliseconds), which says nothing about where the two threads run; it
// used to count, and then the short calls after a few long ones all
// waited cold.
func (s *Signal) adapt(r spinResult) {
	switch r {
	case hotHit:
		s.hotMisses.Store(0)
	case yieldHit:
		if s.hotMisses.Add(1) >= coldAfterMisses {
			s.hotMisses.Store(0)
			s.coldWaits.Store(coldWaits)
		}
	}
}

// hotSpin is how long a waiter polls without yielding: a sched_yield
// costs about 0.9 µs on these VMs, longer than a whole handoff, so the
// first microseconds, where most handoffs complete, poll flat out.
const hotSpin = 5 * time.Microsecond

// spinResult says how a spin ended.
type spinResult int

const (
	missed   spinResult = iota // budget passed
	hotHit                     // ready during the hot phase (or at once)
	yieldHit                   // ready during the yielding phase
)

// spin calls ready until it returns true or budget has passed, and says
// in which phase ready returned true, if it did. It polls flat out for
// hot, then yields the OS thread between polls.
func spin(budget, hot time.Duration, ready func() bool) spinResult {
	if ready() {
		return hotHit
	}
	if runtime.NumCPU() < 2 {
		return missed // nobody else can make progress while we spin
	}
	start := time.Now()
	hot = min(hot, budget)
	for i := 1; hot > 0; i++ {
		if ready() {
			return hotHit
		}
		if i%64 == 0 && time.Since(start) > hot {
			break
		}
	}
	for i := 1; ; i++ {
		if ready() {
			return yieldHit
		}
		if i%4 == 0 {
			if time.Since(start) > budget {
				if ready() {
					return yieldHit
				}
				return missed
			}
		}
		osYield()
	}
}

// osYield gives the OS thread's time slice away without involving the Go
// scheduler (see the package comment for why not runtime.Gosched).
func osYield() {
	syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
