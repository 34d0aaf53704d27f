package handoff

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Budgets to run every test with: 0 parks at once (the channel path),
// a short one spins then parks, the default mostly spins.
var budgets = []time.Duration{0, 2 * time.Microsecond, DefaultBudget}

func TestNotifyBeforeWait(t *testing.T) {
	for _, budget := range budgets {
		s := NewSignal()
		assert.False(t, s.pending())
		s.Notify()
		assert.True(t, s.pending())
		require.NoError(t, s.Wait(context.Background(), budget))
		assert.False(t, s.pending(), "Wait consumed the notification")
	}
}

func TestNotificationsCoalesce(t *testing.T) {
	s := NewSignal()
	s.Notify()
	s.Notify()
	s.Notify()
	require.NoError(t, s.Wait(nil, 0))
	assert.False(t, s.pending(), "notifications do not accumulate beyond one")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.Wait(ctx, 0), context.Canceled)
}

func TestWaitThenNotify(t *testing.T) {
	for _, budget := range budgets {
		s := NewSignal()
		for i := 0; i < 2000; i++ {
			var wg sync.WaitGroup
			wg.Add(1)
			var err error
			go func() {
				defer wg.Done()
				err = s.Wait(nil, budget)
			}()
			if i%2 == 0 {
				time.Sleep(time.Duration(i%5) * time.Microsecond) // vary who is first
			}
			s.Notify()
			wg.Wait()
			require.NoError(t, err)
			require.False(t, s.pending(), "iteration %d", i)
		}
	}
}

// A context that ends while a Notify arrives: either Wait took the
// notification (nil) or it returned ctx.Err() and left the notification
// pending for the next Wait. Never both, never neither.
func TestCancelRacesNotify(t *testing.T) {
	for _, budget := range budgets {
		s := NewSignal()
		var took, left int
		for i := 0; i < 3000; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(2)
			var err error
			go func() {
				defer wg.Done()
				err = s.Wait(ctx, budget)
			}()
			go func() {
				defer wg.Done()
				if i%3 == 0 {
					s.Notify()
					cancel()
				} else {
					cancel()
					s.Notify()
				}
			}()
			wg.Wait()
			if err == nil {
				took++
				require.False(t, s.pending(), "iteration %d: consumed, nothing pending", i)
			} else {
				left++
				require.ErrorIs(t, err, context.Canceled)
				require.True(t, s.pending(), "iteration %d: the notification stays pending", i)
				require.NoError(t, s.Wait(nil, budget), "the next Wait gets it")
			}
		}
		t.Logf("budget %v: Wait took the notification %d times, left it pending %d times", budget, took, left)
	}
}

func TestDeadline(t *testing.T) {
	s := NewSignal()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.Wait(ctx, 0), context.DeadlineExceeded)
	s.Notify()
	assert.NoError(t, s.Wait(ctx, 0), "a pending notification wins over an ended context")
}

// Many notifiers, one waiter that counts wake-ups: every round completes.
func TestManyNotifiers(t *testing.T) {
	s := NewSignal()
	var round atomic.Int64
	const rounds = 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for n := 0; n < 4; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if round.Load()%2 == 1 { // the waiter asked
					s.Notify()
				}
			}
		}()
	}
	for i := 0; i < rounds; i++ {
		round.Add(1) // odd: please notify
		require.NoError(t, s.Wait(nil, time.Duration(i%3)*time.Microsecond))
		round.Add(1) // even: stop notifying
	}
	close(stop)
	wg.Wait()
}

// pending reports whether a notification waits to be consumed.
func (s *Signal) pending() bool {
	return s.state.Load() == stateNotified
}

func TestSpin(t *testing.T) {
	assert.NotEqual(t, missed, spin(0, hotSpin, func() bool { return true }))
	assert.Equal(t, missed, spin(0, hotSpin, func() bool { return false }))
	assert.Equal(t, missed, spin(time.Microsecond, hotSpin, func() bool { return false }))
	if runtime.NumCPU() > 1 { // with one CPU, spin gives up after one look
		var n int
		assert.NotEqual(t, missed, spin(time.Hour, hotSpin, func() bool { n++; return n == 100 }))
		assert.Equal(t, 100, n)
	}
}

// TestHotPhaseAdapts: a waiter that saw the notification only while
// yielding coldAfterMisses times in a row skips the hot phase for the next
// coldWaits waits; a hit in the hot phase resets the count; a wait that ran
// out of budget (long work) counts neither way.
func TestHotPhaseAdapts(t *testing.T) {
	s := NewSignal()
	for range coldAfterMisses - 1 {
		s.adapt(yieldHit)
	}
	assert.Equal(t, int32(coldAfterMisses-1), s.hotMisses.Load())
	s.adapt(hotHit)
	assert.Zero(t, s.hotMisses.Load(), "a hot hit resets the count")

	for range 10 * coldAfterMisses {
		s.adapt(missed)
	}
	assert.Zero(t, s.hotMisses.Load(), "waits for long work are not misses")
	assert.Zero(t, s.coldWaits.Load())

	for range coldAfterMisses {
		s.adapt(yieldHit)
	}
	assert.Equal(t, int32(coldWaits), s.coldWaits.Load(), "three late notifications in a row: the next waits yield from the start")
	assert.Zero(t, s.hotMisses.Load())
	if runtime.NumCPU() < 2 {
		return // with one CPU there is no spinning
	}
	s.Notify()
	require.NoError(t, s.Wait(nil, time.Millisecond))
	assert.Equal(t, int32(coldWaits-1), s.coldWaits.Load(), "a cold wait uses one up")

	// Through Wait: nothing notifies, the budget runs out, no miss counted.
	fresh := NewSignal()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 2 * coldAfterMisses {
		assert.ErrorIs(t, fresh.Wait(ctx, time.Microsecond), context.Canceled, "nothing notifies")
	}
	assert.Zero(t, fresh.hotMisses.Load())
	assert.Zero(t, fresh.coldWaits.Load())
}

func TestSpinPhases(t *testing.T) {
	assert.Equal(t, hotHit, spin(time.Millisecond, hotSpin, func() bool { return true }))
	assert.Equal(t, missed, spin(time.Microsecond, 0, func() bool { return false }))
	if runtime.NumCPU() > 1 {
		start := time.Now()
		assert.Equal(t, yieldHit, spin(time.Second, 0, func() bool { return time.Since(start) > 20*time.Microsecond }))
	}
}

// TestNotifyReportsParkedWaiter: Notify says whether it had to wake a
// parked waiter, and NextBudget turns that into the next wait's budget.
func TestNotifyReportsParkedWaiter(t *testing.T) {
	s := NewSignal()
	assert.False(t, s.Notify(), "nobody waits")
	require.NoError(t, s.Wait(nil, 0))

	woke := make(chan error, 1)
	go func() { woke <- s.Wait(nil, 0) }() // budget 0: parks at once
	for s.state.Load() != stateParked {
		runtime.Gosched()
	}
	assert.True(t, s.Parked())
	assert.True(t, s.Notify(), "the waiter had parked")
	require.NoError(t, <-woke)
	assert.False(t, s.Parked())

	s.Notify()
	parked, err := s.WaitParked(nil, 0)
	require.NoError(t, err)
	assert.False(t, parked, "the notification was there first")
	parkedCh := make(chan bool, 1)
	go func() { p, _ := s.WaitParked(nil, 0); parkedCh <- p }()
	for !s.Parked() {
		runtime.Gosched()
	}
	s.Notify()
	assert.True(t, <-parkedCh, "WaitParked reports the park")

	assert.Equal(t, AfterWakeBudget, NextBudget(true))
	assert.Equal(t, DefaultBudget, NextBudget(false))
	assert.Greater(t, AfterWakeBudget, DefaultBudget)
}

// MoveBudget grows with the bytes a partner moves, up to its cap.
func TestMoveBudget(t *testing.T) {
	for _, tc := range []struct {
		bytes int
		want  time.Duration
	}{
		{0, 0},
		{1, 0},
		{64, 32 * time.Nanosecond},
		{1 << 20, 524288 * time.Nanosecond},
		{2 << 20, MaxMoveBudget},
		{1 << 40, MaxMoveBudget},
	} {
		assert.Equal(t, tc.want, MoveBudget(tc.bytes), "%d bytes", tc.bytes)
	}
}
