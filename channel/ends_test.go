package channel

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndsCountTheirOwnBindings: Bind and Release, shared by both ends,
// count the bindings of the end they are called on.
func TestEndsCountTheirOwnBindings(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	require.NoError(t, rc.Bind())
	nr, ns := rc.c.bindings()
	assert.Equal(t, [2]int{2, 1}, [2]int{nr, ns}, "after rc.Bind")
	require.NoError(t, sc.Bind())
	require.NoError(t, sc.Bind())
	nr, ns = rc.c.bindings()
	assert.Equal(t, [2]int{2, 3}, [2]int{nr, ns}, "after sc.Bind twice")
	require.NoError(t, sc.Release())
	nr, ns = rc.c.bindings()
	assert.Equal(t, [2]int{2, 2}, [2]int{nr, ns}, "after sc.Release")
	require.NoError(t, rc.Release())
	nr, ns = rc.c.bindings()
	assert.Equal(t, [2]int{1, 2}, [2]int{nr, ns}, "after rc.Release")
}

// TestZeroEndsAreNotFromARegistry: every method of an end the caller made
// itself, rather than got from a Registry, fails with ErrNotFound (and
// those that cannot fail return zero values) instead of panicking.
func TestZeroEndsAreNotFromARegistry(t *testing.T) {
	ctx := context.Background()
	rc, sc := &RecvChannel{}, &SendChannel{}
	assert.Equal(t, ID(0), rc.ID())
	assert.Equal(t, ID(0), sc.ID())
	assert.Equal(t, "RecvChannel(0)", rc.String())
	assert.Equal(t, "SendChannel(0)", sc.String())
	assert.Equal(t, Options{}, rc.Options())
	assert.Equal(t, Options{}, sc.Options())
	assert.Equal(t, FallbackNone, sc.Fallback())

	calls := map[string]func() error{
		"RecvChannel.Close":    rc.Close,
		"RecvChannel.CloseNow": func() error { return rc.CloseNow(true) },
		"RecvChannel.Bind":     rc.Bind,
		"RecvChannel.Release":  rc.Release,
		"RecvChannel.Recv":     func() error { _, err := rc.Recv(ctx); return err },
		"RecvChannel.RecvNowait": func() error {
			_, _, err := rc.RecvNowait()
			return err
		},
		"RecvChannel.RecvMsg": func() error { _, err := rc.RecvMsg(ctx); return err },
		"RecvChannel.RecvMsgNowait": func() error {
			_, _, err := rc.RecvMsgNowait()
			return err
		},
		"SendChannel.Close":      sc.Close,
		"SendChannel.CloseNow":   func() error { return sc.CloseNow(false) },
		"SendChannel.Bind":       sc.Bind,
		"SendChannel.Release":    sc.Release,
		"SendChannel.Send":       func() error { return sc.Send(ctx, 1) },
		"SendChannel.SendNowait": func() error { _, err := sc.SendNowait(1); return err },
		"SendChannel.SendBuffer": func() error { return sc.SendBuffer(ctx, []byte("x")) },
		"SendChannel.SendBufferNowait": func() error {
			_, err := sc.SendBufferNowait([]byte("x"))
			return err
		},
		"SendChannel.SendMsg": func() error { return sc.SendMsg(ctx, NewMessage([]byte("N"))) },
		"SendChannel.SendMsgNowait": func() error {
			_, err := sc.SendMsgNowait(NewMessage([]byte("N")))
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			assert.ErrorIs(t, err, ErrNotFound)
			assert.EqualError(t, err, "channel 0: end not from a Registry")
		})
	}
}
