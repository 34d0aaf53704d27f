package channel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encodedMsg(t *testing.T, v any) Message {
	t.Helper()
	data, err := Encode(v)
	require.NoError(t, err)
	return NewMessage(data)
}

// SendMsgQueued returns once the value is queued, without a receiver.
func TestSendMsgQueuedDoesNotWaitForReceipt(t *testing.T) {
	for _, capacity := range []int{0, 2} {
		_, rc, sc := newChan(t, Options{Capacity: capacity})
		require.NoError(t, sc.SendMsgQueued(context.Background(), encodedMsg(t, 1)))
		require.NoError(t, sc.SendMsgQueued(context.Background(), encodedMsg(t, 2)))
		n, err := rc.Len()
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		for _, want := range []int64{1, 2} {
			v, err := rc.Recv(context.Background())
			require.NoError(t, err)
			assert.Equal(t, want, v)
		}
		n, err = sc.Len()
		require.NoError(t, err)
		assert.Equal(t, 0, n)
	}
}

// In a full bounded channel SendMsgQueued waits for room, and a receive
// that makes room ends its wait with the value queued behind the others.
func TestSendMsgQueuedWaitsForRoom(t *testing.T) {
	_, rc, sc := newChan(t, Options{Capacity: 1})
	require.NoError(t, sc.SendMsgQueued(context.Background(), encodedMsg(t, 1)))
	done := make(chan error, 1)
	go func() { done <- sc.SendMsgQueued(context.Background(), encodedMsg(t, 2)) }()
	require.Eventually(t, func() bool { return sc.c.waitingForRoom() == 1 }, 10*time.Second, time.Millisecond)
	v, err := rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), v)
	require.NoError(t, <-done)
	n, err := rc.Len()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	v, err = rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)
}

// A wait for room that times out withdraws the value: nobody receives it.
func TestSendMsgQueuedTimeoutWithdraws(t *testing.T) {
	_, rc, sc := newChan(t, Options{Capacity: 1})
	require.NoError(t, sc.SendMsgQueued(context.Background(), encodedMsg(t, 1)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sc.SendMsgQueued(ctx, encodedMsg(t, 2))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNotReceived))
	assert.True(t, errors.Is(err, context.Canceled))
	n, _ := rc.Len()
	assert.Equal(t, 1, n)
	assert.Equal(t, 0, sc.c.waitingForRoom())
}

// A closed channel refuses, and Len of a destroyed channel fails.
func TestSendMsgQueuedClosedAndLenGone(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	assert.False(t, rc.Closed())
	require.NoError(t, sc.Close())
	assert.True(t, rc.Closed())
	assert.True(t, sc.Closed())
	err := sc.SendMsgQueued(context.Background(), encodedMsg(t, 1))
	assert.True(t, errors.Is(err, ErrClosed))
	require.NoError(t, rc.Release())
	require.NoError(t, sc.Release())
	_, err = rc.Len()
	assert.True(t, errors.Is(err, ErrClosed) || errors.Is(err, ErrNotFound), "%v", err)
}

// Tag is recorded and range-checked.
func TestOptionsTag(t *testing.T) {
	reg, rc, _ := newChan(t, Options{Tag: 3})
	assert.Equal(t, 3, rc.Options().Tag)
	for _, bad := range []int{-1, 256} {
		_, _, err := reg.Create(Options{Tag: bad})
		assert.Error(t, err, "Tag %d", bad)
	}
}

// Purge drops the values its function picks, counts the rest, and admits a
// queue-only sender into the room it made.
func TestPurge(t *testing.T) {
	_, rc, sc := newChan(t, Options{Capacity: 3})
	for _, v := range []int64{1, 2, 3} {
		require.NoError(t, sc.SendMsgQueued(context.Background(), encodedMsg(t, v)))
	}
	done := make(chan error, 1)
	go func() { done <- sc.SendMsgQueued(context.Background(), encodedMsg(t, int64(4))) }()
	require.Eventually(t, func() bool { return sc.c.waitingForRoom() == 1 }, 10*time.Second, time.Millisecond)
	two, err := Encode(int64(2))
	require.NoError(t, err)
	n, err := rc.Purge(func(data []byte) bool { return string(data) == string(two) })
	require.NoError(t, err)
	require.NoError(t, <-done)
	assert.Equal(t, 3, n, "1 and 3 stay, 4 was admitted after the purge")
	n, err = rc.Len()
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, want := range []int64{1, 3, 4} {
		v, err := rc.Recv(context.Background())
		require.NoError(t, err)
		assert.Equal(t, want, v)
	}
}
