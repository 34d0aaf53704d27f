package bindings

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/subinterp/subinterp/channel"
)

// TestChannelErrorKind: every channel error maps to the PEP 554 exception
// its sentinel names, an ended call context wins over everything (the wait
// was interrupted), and a timeout says whether the object was withdrawn.
func TestChannelErrorKind(t *testing.T) {
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("caller gave up"))
	wrap := func(err error) error { return fmt.Errorf("channel 7: %w", err) }
	cases := []struct {
		name string
		err  error
		base context.Context
		kind int
		msg  string
	}{
		{"interrupted", wrap(channel.ErrClosed), cancelled, excInterrupted, "interrupted: caller gave up"},
		{"timeout", context.DeadlineExceeded, context.Background(), excTimeout, "timed out"},
		{"timeout withdrawn", errors.Join(channel.ErrNotReceived, context.DeadlineExceeded), nil, excTimeout, "timed out: the object was not received (it was withdrawn)"},
		{"not shareable", wrap(channel.ErrNotShareable), nil, excNotShareable, "channel 7: not shareable"},
		{"too large", wrap(channel.ErrTooLarge), nil, excValue, ""},
		{"not found", wrap(channel.ErrNotFound), nil, excNotFound, "channel 7: not found"},
		{"not empty", wrap(channel.ErrNotEmpty), nil, excNotEmpty, ""},
		{"full", wrap(channel.ErrFull), nil, excFull, ""},
		{"not received", wrap(channel.ErrNotReceived), nil, excNotReceived, ""},
		{"closed", wrap(channel.ErrClosed), nil, excClosed, ""},
		{"anything else", errors.New("odd"), nil, excChannel, "odd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, msg := channelErrorKind(c.err, c.base)
			assert.Equal(t, c.kind, kind)
			if c.msg != "" {
				assert.Equal(t, c.msg, msg)
			} else {
				assert.Equal(t, c.err.Error(), msg, "the Go error's text is the message")
			}
		})
	}
}

// TestBufferRecycling: only large encodings are recycled, and a recycled
// buffer comes back with the capacity it had.
func TestBufferRecycling(t *testing.T) {
	small := getBuf(100)
	assert.Len(t, small, 100)
	putBuf(small) // dropped: below pooledMin

	big := make([]byte, pooledMin)
	putBuf(big)
	got := getBuf(pooledMin / 2)
	assert.Len(t, got, pooledMin/2)
	assert.GreaterOrEqual(t, cap(got), pooledMin/2)

	RecycleBuffer(make([]byte, 0, pooledMin))
	s := ScratchBuffer()
	if s != nil {
		assert.Empty(t, s, "a scratch buffer starts empty")
	}
}
