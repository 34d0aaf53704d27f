package channel

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// TestSelectErrorNamesChannel: an error about one of Select's channels
// says which one, by index and id, however Select ran into it.
func TestSelectErrorNamesChannel(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, 3)
	want := func(i int) string { return fmt.Sprintf("select: channels[%d]: channel %d: closed", i, rs[i].ID()) }

	// Closed before Select looks: found by the first pass.
	require.NoError(t, ss[1].Close())
	i, _, err := reg.Select(context.Background(), rs...)
	assert.Equal(t, 1, i)
	assert.ErrorIs(t, err, ErrClosed)
	assert.EqualError(t, err, want(1))

	// Closed while Select waits: found by the wake-up.
	done := make(chan error, 1)
	go func() {
		i, _, err := reg.Select(context.Background(), rs[0], rs[2])
		assert.Equal(t, 1, i)
		done <- err
	}()
	testutil.WaitUntil(t, "the select to wait", func() bool { return rs[2].c.liveReceivers() == 1 && rs[0].c.liveReceivers() == 1 })
	require.NoError(t, ss[2].Close())
	err = <-done
	assert.ErrorIs(t, err, ErrClosed)
	assert.EqualError(t, err, fmt.Sprintf("select: channels[1]: channel %d: closed", rs[2].ID()))

	// An end from no Registry.
	_, _, err = reg.Select(context.Background(), rs[0], &RecvChannel{end{id: 42}})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, "select: channels[1]: channel 42: end not from a Registry")

	// No end at all.
	_, _, err = reg.Select(context.Background(), rs[0], nil)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, "select: channels[1]: channel 0: end not from a Registry")
}
