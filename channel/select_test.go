package channel

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

func makeChans(t *testing.T, reg *Registry, n int) ([]*RecvChannel, []*SendChannel) {
	t.Helper()
	var rs []*RecvChannel
	var ss []*SendChannel
	for i := 0; i < n; i++ {
		rc, sc, err := reg.Create(Options{})
		require.NoError(t, err)
		rs = append(rs, rc)
		ss = append(ss, sc)
	}
	return rs, ss
}

func TestSelectReady(t *testing.T) {
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 3)
	_, err := ss[1].SendNowait("one")
	require.NoError(t, err)
	i, v, err := reg.Select(context.Background(), rs...)
	require.NoError(t, err)
	assert.Equal(t, 1, i)
	assert.Equal(t, "one", v)
}

func TestSelectFair(t *testing.T) {
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 3)
	const n = 300
	for _, sc := range ss {
		for i := 0; i < n; i++ {
			_, err := sc.SendNowait(i)
			require.NoError(t, err)
		}
	}
	counts := make([]int, 3)
	next := make([]int64, 3)
	for k := 0; k < n; k++ {
		i, v, err := reg.Select(context.Background(), rs...)
		require.NoError(t, err)
		assert.Equal(t, next[i], v, "FIFO within channel %d", i)
		next[i]++
		counts[i]++
	}
	for i, c := range counts {
		assert.Positive(t, c, "channel %d never chosen in %d selects (counts %v)", i, n, counts)
	}
}

func TestSelectBlocks(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 4)
	for target := range ss {
		type result struct {
			i   int
			v   any
			err error
		}
		done := make(chan result, 1)
		go func() {
			i, v, err := reg.Select(context.Background(), rs...)
			done <- result{i, v, err}
		}()
		testutil.WaitUntil(t, "the select to register everywhere", func() bool {
			for _, rc := range rs {
				if rc.c.liveReceivers() != 1 {
					return false
				}
			}
			return true
		})
		waiting, err := ss[target].SendNowait(target)
		require.NoError(t, err)
		assert.True(t, waiting)
		res := <-done
		require.NoError(t, res.err)
		assert.Equal(t, target, res.i)
		assert.Equal(t, int64(target), res.v)
		for _, rc := range rs {
			assert.Zero(t, rc.c.liveReceivers(), "deregistered from every channel")
			rc.c.mu.Lock()
			assert.Zero(t, rc.c.recvq.len(), "no stale nodes left")
			rc.c.mu.Unlock()
		}
	}
}

func TestSelectContext(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 2)

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	i, v, err := reg.Select(ctx, rs...)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, -1, i)
	assert.Nil(t, v)

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, _, err = reg.Select(done, rs...)
	assert.ErrorIs(t, err, context.Canceled, "a done context polls")
	_, err = ss[0].SendNowait("ready")
	require.NoError(t, err)
	i, v, err = reg.Select(done, rs...)
	require.NoError(t, err, "a ready channel wins over a done context")
	assert.Equal(t, 0, i)
	assert.Equal(t, "ready", v)

	for _, rc := range rs {
		assert.Zero(t, rc.c.liveReceivers())
	}
}

func TestSelectClosed(t *testing.T) {
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 2)
	require.NoError(t, ss[1].Close())
	i, _, err := reg.Select(context.Background(), rs...)
	assert.Equal(t, 1, i)
	assert.ErrorIs(t, err, ErrClosed)

	_, _, err = reg.Select(context.Background())
	assert.Error(t, err, "no channels")
	_, _, err = reg.Select(context.Background(), rs[0], nil)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestSelectSameChannelTwice(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 1)
	done := make(chan error, 1)
	go func() {
		i, v, err := reg.Select(context.Background(), rs[0], rs[0])
		if err == nil && (i < 0 || i > 1 || v != "x") {
			err = errors.New("bad result")
		}
		done <- err
	}()
	testutil.WaitUntil(t, "the select to wait", func() bool { return rs[0].c.liveReceivers() == 2 })
	_, err := ss[0].SendNowait("x")
	require.NoError(t, err)
	require.NoError(t, <-done)
	rs[0].c.mu.Lock()
	assert.Zero(t, rs[0].c.recvq.len())
	rs[0].c.mu.Unlock()
}

// Many selecting receivers, many senders on several channels: every value
// arrives exactly once.
func TestSelectConcurrent(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 3)
	const each = 500
	var mu sync.Mutex
	seen := map[int64]int{}
	var recvWG, sendWG sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for r := 0; r < 3; r++ {
		recvWG.Add(1)
		go func() {
			defer recvWG.Done()
			for {
				_, v, err := reg.Select(ctx, rs...)
				if err != nil {
					assert.ErrorIs(t, err, context.Canceled)
					return
				}
				mu.Lock()
				seen[v.(int64)]++
				n := len(seen)
				mu.Unlock()
				if n == len(ss)*each {
					cancel()
				}
			}
		}()
	}
	for s, sc := range ss {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			for i := 0; i < each; i++ {
				assert.NoError(t, sc.Send(context.Background(), s*each+i))
			}
		}()
	}
	sendWG.Wait()
	recvWG.Wait()
	assert.Len(t, seen, len(ss)*each)
	for x, n := range seen {
		assert.Equal(t, 1, n, "value %d", x)
	}
}
