package channel

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

func TestFIFO(t *testing.T) {
	for _, capacity := range []int{0, 1000} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			_, rc, sc := newChan(t, Options{Capacity: capacity})
			for i := 0; i < 1000; i++ {
				waiting, err := sc.SendNowait(i)
				require.NoError(t, err)
				assert.False(t, waiting)
			}
			for i := 0; i < 1000; i++ {
				v, err := rc.Recv(context.Background())
				require.NoError(t, err)
				require.Equal(t, int64(i), v)
			}
			_, ok, err := rc.RecvNowait()
			assert.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

func TestValuesOfEveryType(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	values := []any{nil, true, int64(-3), mustBig(t, "-0x10000000000000000"), 2.5,
		"s\U0001F600", []byte{0}, Pickled("p"), []any{int64(1)}, Tuple{"t"}, Dict{{"k", "v"}}}
	for _, v := range values {
		_, err := sc.SendNowait(v)
		require.NoError(t, err)
	}
	for _, want := range values {
		got, ok, err := rc.RecvNowait()
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, Equal(want, got), "got %#v want %#v", got, want)
	}
}

func TestManySendersReceivers(t *testing.T) {
	cases := []struct {
		senders, receivers, each, capacity int
		blocking                           bool
	}{
		{1, 1, 2000, 0, false},
		{4, 4, 500, 0, false},
		{8, 2, 300, 0, true},
		{2, 8, 600, 3, true},
		{6, 6, 300, 1, true},
		{5, 3, 400, 2, false},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("s%d_r%d_cap%d_blocking=%v", tc.senders, tc.receivers, tc.capacity, tc.blocking)
		t.Run(name, func(t *testing.T) {
			testutil.NoGoroutineLeaks(t)
			_, rc, sc := newChan(t, Options{Capacity: tc.capacity})
			var mu sync.Mutex
			seen := map[int64]int{}

			var recvWG, sendWG sync.WaitGroup
			for r := 0; r < tc.receivers; r++ {
				recvWG.Add(1)
				go func() {
					defer recvWG.Done()
					for {
						v, err := rc.Recv(context.Background())
						if errors.Is(err, ErrClosed) {
							return
						}
						if !assert.NoError(t, err) {
							return
						}
						x := v.(int64)
						mu.Lock()
						seen[x]++
						mu.Unlock()
					}
				}()
			}
			for s := 0; s < tc.senders; s++ {
				sendWG.Add(1)
				go func() {
					defer sendWG.Done()
					for i := 0; i < tc.each; i++ {
						x := int64(s*1_000_000 + i)
						var err error
						if tc.blocking {
							err = sc.Send(context.Background(), x)
						} else {
							for {
								_, err = sc.SendNowait(x)
								if !errors.Is(err, ErrFull) {
									break
								}
								time.Sleep(time.Microsecond)
							}
						}
						if !assert.NoError(t, err) {
							return
						}
					}
				}()
			}
			sendWG.Wait()
			require.NoError(t, sc.Close())
			recvWG.Wait()

			require.Len(t, seen, tc.senders*tc.each)
			for x, n := range seen {
				require.Equal(t, 1, n, "value %d received %d times", x, n)
			}
		})
	}
}

// One receiver sees each sender's values in the order that sender sent
// them (FIFO), even with many senders interleaving.
func TestFIFOPerSenderConcurrent(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	const senders, each = 4, 1000
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := sc.SendNowait(Tuple{s, i})
				assert.NoError(t, err)
			}
		}()
	}
	next := make([]int64, senders)
	for n := 0; n < senders*each; n++ {
		v, err := rc.Recv(context.Background())
		require.NoError(t, err)
		tup := v.(Tuple)
		s, i := tup[0].(int64), tup[1].(int64)
		require.Equal(t, next[s], i, "sender %d out of order", s)
		next[s]++
	}
	wg.Wait()
}

func TestSendWaitsForReceipt(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	done := make(chan error, 1)
	go func() { done <- sc.Send(context.Background(), "hello") }()
	testutil.WaitUntil(t, "the value to be queued", func() bool { return rc.c.queued() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Send returned (%v) before anyone received", err)
	default:
	}
	v, err := rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "hello", v)
	assert.NoError(t, <-done)
}

func TestSendToWaitingReceiver(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	got := make(chan any, 1)
	go func() {
		v, err := rc.Recv(context.Background())
		assert.NoError(t, err)
		got <- v
	}()
	testutil.WaitUntil(t, "a receiver to wait", func() bool { return rc.c.liveReceivers() == 1 })
	require.NoError(t, sc.Send(context.Background(), int64(5)))
	assert.Equal(t, int64(5), <-got)
}

func TestSendNowaitReportsWaitingReceiver(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})

	waiting, err := sc.SendNowait("nobody")
	require.NoError(t, err)
	assert.False(t, waiting, "no receiver was waiting")
	v, ok, err := rc.RecvNowait()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "nobody", v)

	got := make(chan any, 1)
	go func() {
		v, err := rc.Recv(context.Background())
		assert.NoError(t, err)
		got <- v
	}()
	testutil.WaitUntil(t, "a receiver to wait", func() bool { return rc.c.liveReceivers() == 1 })
	waiting, err = sc.SendNowait("somebody")
	require.NoError(t, err)
	assert.True(t, waiting, "a receiver was waiting")
	assert.Equal(t, "somebody", <-got)
}

func TestRecvContext(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Millisecond)
		}, context.DeadlineExceeded},
		{"already expired", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), -time.Second)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			go func() { time.Sleep(time.Millisecond); cancel() }()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, rc, sc := newChan(t, Options{})
			ctx, cancel := tc.ctx()
			defer cancel()
			v, err := rc.Recv(ctx)
			assert.ErrorIs(t, err, tc.want)
			assert.Nil(t, v)
			assert.Zero(t, rc.c.liveReceivers(), "the receiver withdrew")
			// Nothing was taken: a later value goes to a later receiver.
			_, err = sc.SendNowait(1)
			require.NoError(t, err)
			v, err = rc.Recv(context.Background())
			require.NoError(t, err)
			assert.Equal(t, int64(1), v)
		})
	}
}

func TestRecvReadyDespiteDoneContext(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	_, err := sc.SendNowait(1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := rc.Recv(ctx)
	require.NoError(t, err, "a queued value is returned even with a done context")
	assert.Equal(t, int64(1), v)
}

func TestSendContextWithdraws(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	for _, capacity := range []int{0, 1} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			_, rc, sc := newChan(t, Options{Capacity: capacity})
			if capacity == 1 {
				_, err := sc.SendNowait("filler") // the Send below waits for room
				require.NoError(t, err)
			}
			free, freed := countingFree()
			buf := NewBuffer([]byte("payload"), free)
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			err := sc.Send(ctx, Tuple{"withdrawn", buf})
			buf.Release()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrNotReceived)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), fmt.Sprintf("channel %d", sc.ID()))
			assert.Equal(t, int32(1), freed.Load(), "the withdrawn value's buffer was released")
			if capacity == 1 {
				v, ok, err := rc.RecvNowait()
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, "filler", v)
			}
			_, ok, err := rc.RecvNowait()
			require.NoError(t, err)
			assert.False(t, ok, "the withdrawn value is gone")
		})
	}
}

// A Send whose context ends while a receiver takes its value either
// succeeds (received once) or fails (never received): nothing is lost or
// duplicated.
func TestSendCancelRacesRecv(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	const n = 2000
	sent := make([]bool, n)
	received := make([]int, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			v, ok, err := rc.RecvNowait()
			if !assert.NoError(t, err) {
				return
			}
			if ok {
				received[v.(int64)]++
				continue
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			if i%3 != 0 {
				time.Sleep(time.Duration(i%7) * time.Microsecond)
			}
			cancel()
		}()
		err := sc.Send(ctx, i)
		cancel()
		if err == nil {
			sent[i] = true
		} else {
			assert.ErrorIs(t, err, ErrNotReceived)
			assert.ErrorIs(t, err, context.Canceled)
		}
	}
	close(stop)
	wg.Wait()
	for {
		v, ok, err := rc.RecvNowait()
		require.NoError(t, err)
		if !ok {
			break
		}
		received[v.(int64)]++
	}
	for i := 0; i < n; i++ {
		if sent[i] {
			require.Equal(t, 1, received[i], "value %d sent successfully", i)
		} else {
			require.Equal(t, 0, received[i], "value %d withdrawn", i)
		}
	}
}

// Receivers that give up while senders send: every value sent is received
// exactly once by a receiver that did not give up.
func TestRecvCancelRacesSend(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	const n = 3000
	var received sync.Map
	var wg sync.WaitGroup
	var got atomic.Int64
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r*3)*time.Microsecond)
				v, err := rc.Recv(ctx)
				cancel()
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					assert.ErrorIs(t, err, context.DeadlineExceeded)
					continue
				}
				_, dup := received.LoadOrStore(v.(int64), true)
				assert.False(t, dup, "value %v received twice", v)
				got.Add(1)
			}
		}()
	}
	for i := 0; i < n; i++ {
		_, err := sc.SendNowait(i)
		require.NoError(t, err)
	}
	require.NoError(t, sc.Close())
	wg.Wait()
	assert.Equal(t, int64(n), got.Load())
}

func TestCapacity(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{Capacity: 2})
	for i := 0; i < 2; i++ {
		_, err := sc.SendNowait(i)
		require.NoError(t, err)
	}
	_, err := sc.SendNowait(2)
	require.ErrorIs(t, err, ErrFull)
	assert.Contains(t, err.Error(), "capacity 2")

	done := make(chan error, 1)
	go func() { done <- sc.Send(context.Background(), 2) }()
	testutil.WaitUntil(t, "the sender to wait for room", func() bool { return sc.c.waitingForRoom() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Send returned (%v) while the queue was full", err)
	default:
	}
	for i := 0; i < 3; i++ {
		v, err := rc.Recv(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(i), v, "FIFO across the full queue")
	}
	assert.NoError(t, <-done)

	// A waiting receiver takes a value directly, even at capacity 1 with
	// the queue full of nothing.
	_, rc1, sc1 := newChan(t, Options{Capacity: 1})
	got := make(chan any, 1)
	go func() {
		v, _ := rc1.Recv(context.Background())
		got <- v
	}()
	testutil.WaitUntil(t, "a receiver to wait", func() bool { return rc1.c.liveReceivers() == 1 })
	waiting, err := sc1.SendNowait("direct")
	require.NoError(t, err)
	assert.True(t, waiting)
	assert.Equal(t, "direct", <-got)
}

func TestCloseDrains(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg, rc, sc := newChan(t, Options{})
	for i := 0; i < 3; i++ {
		_, err := sc.SendNowait(i)
		require.NoError(t, err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- sc.Send(context.Background(), 3) }()
	testutil.WaitUntil(t, "the blocking send to queue", func() bool { return rc.c.queued() == 4 })

	require.NoError(t, rc.Close())
	require.NoError(t, sc.Close(), "closing twice is fine")

	_, err := sc.SendNowait("late")
	assert.ErrorIs(t, err, ErrClosed)
	err = sc.Send(context.Background(), "late")
	assert.ErrorIs(t, err, ErrClosed)
	assert.Contains(t, err.Error(), fmt.Sprintf("channel %d", sc.ID()))

	assert.NotContains(t, reg.List(), rc.ID(), "List shows open channels only")
	_, _, err = reg.Lookup(rc.ID())
	assert.NoError(t, err, "a closed channel is still in the registry")

	for i := 0; i < 4; i++ {
		v, err := rc.Recv(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(i), v)
	}
	assert.NoError(t, <-blocked, "a blocking sender's queued value was drained")
	_, err = rc.Recv(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	_, ok, err := rc.RecvNowait()
	assert.False(t, ok)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestCloseWakesBlocked(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg, rc, sc := newChan(t, Options{Capacity: 1})
	_, rc2, _ := func() (*Registry, *RecvChannel, *SendChannel) {
		r2, s2, err := reg.Create(Options{})
		require.NoError(t, err)
		return reg, r2, s2
	}()

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := rc2.Recv(context.Background())
			errs <- err
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, err := reg.Select(context.Background(), rc2)
		errs <- err
	}()
	testutil.WaitUntil(t, "three receivers to wait", func() bool { return rc2.c.liveReceivers() == 3 })
	require.NoError(t, rc2.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.ErrorIs(t, err, ErrClosed)
	}

	// A sender waiting for room is not queued: Close fails it.
	_, err := sc.SendNowait("queued")
	require.NoError(t, err)
	roomErr := make(chan error, 1)
	go func() { roomErr <- sc.Send(context.Background(), "no room") }()
	testutil.WaitUntil(t, "a sender to wait for room", func() bool { return sc.c.waitingForRoom() == 1 })
	require.NoError(t, sc.Close())
	err = <-roomErr
	assert.ErrorIs(t, err, ErrNotReceived)
	assert.ErrorIs(t, err, ErrClosed)
	v, err := rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "queued", v)
	_, err = rc.Recv(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
}

func TestCloseNow(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})
	free, freed := countingFree()
	buf := NewBuffer([]byte("b"), free)
	_, err := sc.SendNowait(Tuple{"with buffer", buf})
	require.NoError(t, err)
	buf.Release()
	blocked := make(chan error, 1)
	go func() { blocked <- sc.Send(context.Background(), "blocked") }()
	testutil.WaitUntil(t, "two queued", func() bool { return rc.c.queued() == 2 })

	err = rc.CloseNow(false)
	require.ErrorIs(t, err, ErrNotEmpty)
	assert.Equal(t, 2, rc.c.queued(), "a refused CloseNow changes nothing")
	_, err = sc.SendNowait("still open")
	require.NoError(t, err)

	require.NoError(t, sc.CloseNow(true))
	err = <-blocked
	assert.ErrorIs(t, err, ErrNotReceived)
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, int32(1), freed.Load(), "dropped values release their buffers")
	_, ok, err := rc.RecvNowait()
	assert.False(t, ok)
	assert.ErrorIs(t, err, ErrClosed)

	_, rc2, sc2 := newChan(t, Options{})
	require.NoError(t, rc2.CloseNow(false), "an empty channel closes")
	_, err = sc2.SendNowait(1)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestBindRelease(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg, rc, sc := newChan(t, Options{})
	id := rc.ID()
	assert.Equal(t, []ID{id}, reg.List())

	require.NoError(t, rc.Bind()) // a second holder of the recv end
	require.NoError(t, rc.Release())
	require.NoError(t, rc.Release())
	assert.ErrorIs(t, rc.Release(), ErrClosed, "released more often than bound")
	_, _, err := reg.Lookup(id)
	require.NoError(t, err, "the send end is still bound")

	free, freed := countingFree()
	buf := NewBuffer([]byte("queued"), free)
	_, err = sc.SendNowait(buf)
	require.NoError(t, err)
	buf.Release()
	blocked := make(chan error, 1)
	go func() { blocked <- sc.Send(context.Background(), "blocked") }()
	testutil.WaitUntil(t, "two queued", func() bool { return rc.c.queued() == 2 })

	require.NoError(t, sc.Release(), "the last binding")
	err = <-blocked
	assert.ErrorIs(t, err, ErrNotReceived)
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, int32(1), freed.Load())

	_, _, err = reg.Lookup(id)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), fmt.Sprintf("channel %d", id))
	assert.Empty(t, reg.List())
	_, err = sc.SendNowait(1)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = rc.Recv(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, sc.Bind(), ErrClosed)
	assert.ErrorIs(t, sc.Release(), ErrClosed)
}

func TestReleaseWakesReceivers(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg, rc, sc := newChan(t, Options{})
	errs := make(chan error, 2)
	go func() {
		_, err := rc.Recv(context.Background())
		errs <- err
	}()
	go func() {
		_, _, err := reg.Select(context.Background(), rc)
		errs <- err
	}()
	testutil.WaitUntil(t, "two receivers to wait", func() bool { return rc.c.liveReceivers() == 2 })
	require.NoError(t, sc.Release())
	require.NoError(t, rc.Release())
	assert.ErrorIs(t, <-errs, ErrClosed)
	assert.ErrorIs(t, <-errs, ErrClosed)
}

func TestNotFound(t *testing.T) {
	reg := NewRegistry()
	_, _, err := reg.Lookup(12345)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "12345")
	_, err = reg.ResolveEnd('r', 12345)
	assert.ErrorIs(t, err, ErrNotFound)

	_, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = sc.SendMsgNowait(NewMessage([]byte("l\x01r\x63")))
	assert.ErrorIs(t, err, ErrNotFound, "a message naming a channel that does not exist")

	var zeroRecv RecvChannel
	_, err = zeroRecv.Recv(context.Background())
	assert.ErrorIs(t, err, ErrNotFound)
	var nilSend *SendChannel
	_, err = nilSend.SendNowait(1)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestTooLarge(t *testing.T) {
	cases := []struct {
		name    string
		max     int
		send    func(sc *SendChannel) error
		tooBig  bool
		wantMsg string
	}{
		{"small value", 16, func(sc *SendChannel) error { _, err := sc.SendNowait("short"); return err }, false, ""},
		{"exactly the limit", 16, func(sc *SendChannel) error {
			_, err := sc.SendNowait(string(make([]byte, 14))) // 's' + 1-byte length + 14
			return err
		}, false, ""},
		{"one over", 16, func(sc *SendChannel) error {
			_, err := sc.SendNowait(string(make([]byte, 15)))
			return err
		}, true, "value is 17 bytes, over the limit of 16"},
		{"blocking send", 16, func(sc *SendChannel) error {
			return sc.Send(context.Background(), make([]byte, 100))
		}, true, "102 bytes"},
		{"buffer counts", 64, func(sc *SendChannel) error { _, err := sc.SendBufferNowait(make([]byte, 100)); return err }, true, "102 bytes"},
		{"raw message", 8, func(sc *SendChannel) error {
			_, err := sc.SendMsgNowait(NewMessage([]byte("s\x0812345678")))
			return err
		}, true, "10 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, rc, sc := newChan(t, Options{MaxBytes: tc.max})
			err := tc.send(sc)
			if !tc.tooBig {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrTooLarge)
			assert.Contains(t, err.Error(), tc.wantMsg)
			_, ok, err := rc.RecvNowait()
			assert.NoError(t, err)
			assert.False(t, ok)
		})
	}
	_, rc, _ := newChan(t, Options{})
	assert.Equal(t, DefaultMaxBytes, rc.Options().MaxBytes)
}

func TestCreateOptions(t *testing.T) {
	reg := NewRegistry()
	for _, bad := range []Options{{Capacity: -1}, {MaxBytes: -1}, {Fallback: 7}} {
		_, _, err := reg.Create(bad)
		assert.Error(t, err, "%+v", bad)
	}
	rc, sc, err := reg.Create(Options{Capacity: 3, MaxBytes: 100, Fallback: FallbackPickle})
	require.NoError(t, err)
	assert.Equal(t, Options{Capacity: 3, MaxBytes: 100, Fallback: FallbackPickle}, rc.Options())
	assert.Equal(t, FallbackPickle, sc.Fallback())
	assert.Equal(t, "pickle", sc.Fallback().String())
	assert.Equal(t, "none", FallbackNone.String())
	assert.Equal(t, rc.ID(), sc.ID())
	assert.Equal(t, fmt.Sprintf("RecvChannel(%d)", rc.ID()), rc.String())
	assert.Equal(t, fmt.Sprintf("SendChannel(%d)", sc.ID()), sc.String())
}

func TestListAndLookup(t *testing.T) {
	reg := NewRegistry()
	var ids []ID
	var ends []*RecvChannel
	for i := 0; i < 20; i++ {
		rc, _, err := reg.Create(Options{})
		require.NoError(t, err)
		ids = append(ids, rc.ID())
		ends = append(ends, rc)
	}
	assert.Equal(t, ids, reg.List(), "creation order")
	require.NoError(t, ends[3].Close())
	require.NoError(t, ends[7].CloseNow(false))
	want := append(append(append([]ID{}, ids[:3]...), ids[4:7]...), ids[8:]...)
	assert.Equal(t, want, reg.List())
	rc, sc, err := reg.Lookup(ids[5])
	require.NoError(t, err)
	assert.Same(t, ends[5], rc)
	assert.Equal(t, ids[5], sc.ID())
}

func TestEndsTravel(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg, r1, s1 := newChan(t, Options{})
	r2, s2, err := reg.Create(Options{})
	require.NoError(t, err)

	_, err = s1.SendNowait(Tuple{r2, s2})
	require.NoError(t, err)
	require.NoError(t, r2.Release())
	require.NoError(t, s2.Release())
	_, _, err = reg.Lookup(r2.ID())
	require.NoError(t, err, "a channel in flight stays alive")

	v, err := r1.Recv(context.Background())
	require.NoError(t, err)
	tup := v.(Tuple)
	assert.Same(t, r2, tup[0])
	assert.Same(t, s2, tup[1])
	nr, ns := r2.c.bindings()
	assert.Equal(t, [2]int{1, 1}, [2]int{nr, ns}, "the receiver owns one binding per end")
	_, err = s2.SendNowait("works")
	require.NoError(t, err)
	got, err := r2.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "works", got)
	require.NoError(t, r2.Release())
	require.NoError(t, s2.Release())
	_, _, err = reg.Lookup(r2.ID())
	assert.ErrorIs(t, err, ErrNotFound)

	// Dropped in flight: the end bindings go with the value.
	r3, s3, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = s1.SendNowait(s3)
	require.NoError(t, err)
	require.NoError(t, r3.Release())
	require.NoError(t, s3.Release())
	require.NoError(t, s1.CloseNow(true))
	_, _, err = reg.Lookup(r3.ID())
	assert.ErrorIs(t, err, ErrNotFound)

	// Raw messages from the bindings bind the ends they name when sent.
	r4, s4, err := reg.Create(Options{})
	require.NoError(t, err)
	r5, s5, err := reg.Create(Options{})
	require.NoError(t, err)
	data, err := Encode([]any{r4, r4})
	require.NoError(t, err)
	_, err = s5.SendMsgNowait(NewMessage(data))
	require.NoError(t, err)
	nr, _ = r4.c.bindings()
	assert.Equal(t, 3, nr)
	m, ok, err := r5.RecvMsgNowait()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, data, m.Data())
	m.Release()
	nr, _ = r4.c.bindings()
	assert.Equal(t, 1, nr)
	for _, e := range []interface{ Release() error }{r4, s4, r5, s5, r1, s1} {
		require.NoError(t, e.Release())
	}
	assert.Empty(t, reg.List())
}

func TestMessages(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	_, rc, sc := newChan(t, Options{})

	free, freed := countingFree()
	buf := NewBuffer([]byte("corrupt"), free)
	_, err := sc.SendMsgNowait(NewMessageWithBuffers([]byte("l\x02N"), []*Buffer{buf}))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), fmt.Sprintf("channel %d", sc.ID()))
	assert.Equal(t, int32(1), freed.Load(), "a refused message releases its buffers")

	buf = NewBuffer([]byte("idx"), free)
	err = sc.SendMsg(context.Background(), NewMessageWithBuffers([]byte("B\x01"), []*Buffer{buf}))
	require.ErrorIs(t, err, ErrCorrupt, "buffer index out of range")
	assert.Equal(t, int32(2), freed.Load())

	buf = NewBuffer([]byte("payload"), free)
	_, err = sc.SendMsgNowait(NewMessageWithBuffers([]byte("t\x02B\x00B\x00"), []*Buffer{buf}))
	require.NoError(t, err)
	m, err := rc.RecvMsg(context.Background())
	require.NoError(t, err)
	require.Len(t, m.Buffers(), 1)
	assert.Equal(t, "payload", string(m.Buffers()[0].Bytes()))
	v, err := DecodeMessage(m, nil)
	require.NoError(t, err)
	m.Release()
	views := v.(Tuple)
	assert.Equal(t, int32(2), freed.Load(), "the views keep the buffer")
	for _, x := range views {
		view := x.(*BufferView)
		assert.Equal(t, "payload", string(view.Bytes()))
		view.Release()
		view.Release() // idempotent
		assert.Nil(t, view.Bytes())
	}
	assert.Equal(t, int32(3), freed.Load())

	_, ok, err := rc.RecvMsgNowait()
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestBuffers(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	free, freed := countingFree()
	b := NewBuffer([]byte("abc"), free)
	assert.Equal(t, 3, b.Len())
	b.Retain()
	b.Release()
	assert.Zero(t, freed.Load())
	b.Release()
	assert.Equal(t, int32(1), freed.Load())
	assert.Panics(t, func() { b.Release() })
	assert.Panics(t, func() { NewBuffer(nil, nil).Release(); b.Retain() })

	_, rc, sc := newChan(t, Options{})
	src := []byte("copied once")
	require.NoError(t, func() error { _, err := sc.SendBufferNowait(src); return err }())
	src[0] = 'X'
	v, err := rc.Recv(context.Background())
	require.NoError(t, err)
	view := v.(*BufferView)
	assert.Equal(t, "copied once", string(view.Bytes()))
	assert.Equal(t, 11, view.Len())
	assert.Equal(t, "BufferView(11 bytes)", view.String())

	// Forwarding a view shares the same memory.
	_, err = sc.SendNowait(view)
	require.NoError(t, err)
	v2, err := rc.Recv(context.Background())
	require.NoError(t, err)
	view2 := v2.(*BufferView)
	assert.Same(t, &view.Bytes()[0], &view2.Bytes()[0])
	view.Release()
	assert.Equal(t, "copied once", string(view2.Bytes()))
	view2.Release()
	_, err = sc.SendNowait(view2)
	assert.ErrorIs(t, err, ErrNotShareable, "a released view cannot be sent")

	// A Go-made Buffer in a value, twice: one out-of-band entry.
	free2, freed2 := countingFree()
	shared := NewBuffer([]byte("shared"), free2)
	m, err := EncodeMessage([]any{shared, shared})
	require.NoError(t, err)
	assert.Len(t, m.Buffers(), 1)
	shared.Release()
	assert.Zero(t, freed2.Load())
	_, err = sc.SendMsgNowait(m)
	require.NoError(t, err)
	v, err = rc.Recv(context.Background())
	require.NoError(t, err)
	for _, x := range v.([]any) {
		x.(*BufferView).Release()
	}
	assert.Equal(t, int32(1), freed2.Load())

	// SendBuffer waits for receipt like Send.
	done := make(chan error, 1)
	go func() { done <- sc.SendBuffer(context.Background(), []byte("blocking")) }()
	v, err = rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "blocking", string(v.(*BufferView).Bytes()))
	v.(*BufferView).Release()
	assert.NoError(t, <-done)
}

func TestCloseAll(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	r1, _, err := reg.Create(Options{})
	require.NoError(t, err)
	_, s2, err := reg.Create(Options{})
	require.NoError(t, err)
	free, freed := countingFree()
	buf := NewBuffer([]byte("x"), free)
	_, err = s2.SendNowait(buf)
	require.NoError(t, err)
	buf.Release()

	errs := make(chan error, 2)
	go func() { _, err := r1.Recv(context.Background()); errs <- err }()
	go func() { errs <- s2.Send(context.Background(), "blocked") }()
	testutil.WaitUntil(t, "both to block", func() bool { return r1.c.liveReceivers() == 1 && s2.c.queued() == 2 })
	reg.CloseAll()
	assert.ErrorIs(t, <-errs, ErrClosed)
	assert.ErrorIs(t, <-errs, ErrClosed)
	assert.Equal(t, int32(1), freed.Load())
	assert.Empty(t, reg.List())
	_, _, err = reg.Lookup(r1.ID())
	assert.ErrorIs(t, err, ErrNotFound)
	reg.CloseAll() // twice is fine
}

func TestSendUnshareable(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	_, err := sc.SendNowait(struct{ C chan int }{})
	require.ErrorIs(t, err, ErrNotShareable)
	assert.Contains(t, err.Error(), "chan int")
	assert.Contains(t, err.Error(), fmt.Sprintf("channel %d", sc.ID()))
	err = sc.Send(context.Background(), []any{make(chan int)})
	require.ErrorIs(t, err, ErrNotShareable)
	_, ok, err := rc.RecvNowait()
	assert.NoError(t, err)
	assert.False(t, ok)
}

// TestParkedReceiveSpinsLongerNext: a receive that parked before it was
// served marks its channel, so the next blocked receive spins
// handoff.AfterWakeBudget (await): the ping-pong chain breaker.
func TestParkedReceiveSpinsLongerNext(t *testing.T) {
	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	c := rc.c
	assert.False(t, c.recvParked.Load())

	got := make(chan any, 1)
	go func() {
		v, err := rc.Recv(context.Background())
		assert.NoError(t, err)
		got <- v
	}()
	// Wait until the receiver sleeps: the whole spin went by unserved.
	for {
		c.lock()
		var parked bool
		if c.recvq.len() == 1 {
			parked = c.recvq.at(0).w.sig.Parked()
		}
		c.mu.Unlock()
		if parked {
			break
		}
		runtime.Gosched()
	}
	_, err = sc.SendNowait(7)
	require.NoError(t, err)
	assert.Equal(t, int64(7), <-got)
	assert.True(t, c.recvParked.Load(), "the receive parked: the next one spins longer")
}
