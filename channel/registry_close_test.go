package channel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

var errTestShutdown = errors.New("test runtime shut down")

// TestRegistryCloseWakesEverything: Close ends every blocked operation
// with an error wrapping its cause, and frees what was queued.
func TestRegistryCloseWakesEverything(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	reg := NewRegistry()
	rRecv, _, err := reg.Create(Options{})
	require.NoError(t, err)
	_, sSend, err := reg.Create(Options{})
	require.NoError(t, err)
	_, sFull, err := reg.Create(Options{Capacity: 1})
	require.NoError(t, err)
	sel, _ := makeChans(t, reg, 2)

	free, freed := countingFree()
	buf := NewBuffer([]byte("queued"), free)
	_, err = sSend.SendNowait(buf)
	require.NoError(t, err)
	buf.Release()
	_, err = sFull.SendNowait("fills the queue")
	require.NoError(t, err)

	type result struct {
		op  string
		err error
	}
	results := make(chan result, 4)
	go func() { _, err := rRecv.Recv(context.Background()); results <- result{"recv", err} }()
	go func() { results <- result{"send", sSend.Send(context.Background(), "blocked")} }()
	go func() { results <- result{"send for room", sFull.Send(context.Background(), "no room")} }()
	go func() {
		i, _, err := reg.Select(context.Background(), sel...)
		// Close shuts the channels down in no set order: whichever
		// wakes the select first is the one it reports.
		if assert.Contains(t, []int{0, 1}, i, "a select woken by close says which channel") {
			assert.ErrorContains(t, err, fmt.Sprintf("channels[%d]: channel %d: closed", i, sel[i].ID()))
		}
		results <- result{"select", err}
	}()
	testutil.WaitUntil(t, "every operation to block", func() bool {
		return rRecv.c.liveReceivers() == 1 && sSend.c.queued() == 2 &&
			sFull.c.waitingForRoom() == 1 && sel[0].c.liveReceivers() == 1 && sel[1].c.liveReceivers() == 1
	})

	reg.Close(errTestShutdown)
	for range 4 {
		r := <-results
		assert.ErrorIs(t, r.err, errTestShutdown, r.op)
		assert.ErrorIs(t, r.err, ErrClosed, r.op)
		if r.op == "send" || r.op == "send for room" {
			assert.ErrorIs(t, r.err, ErrNotReceived, r.op)
		}
	}
	assert.Equal(t, int32(1), freed.Load(), "the queued buffer is released")
	assert.Empty(t, reg.List())
}

// TestRegistryCloseFailsLaterOperations: after Close every operation on
// every end and on the Registry fails, wrapping the cause.
func TestRegistryCloseFailsLaterOperations(t *testing.T) {
	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	rc2, sc2, err := reg.Create(Options{})
	require.NoError(t, err)
	require.NoError(t, rc2.Close(), "a channel closed before the registry")

	reg.Close(errTestShutdown)
	reg.Close(errors.New("a second cause")) // no effect

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]func() error{
		"Recv":       func() error { _, err := rc.Recv(context.Background()); return err },
		"RecvNowait": func() error { _, _, err := rc.RecvNowait(); return err },
		"RecvMsg":    func() error { _, err := rc2.RecvMsg(ctx); return err },
		"Send":       func() error { return sc.Send(context.Background(), 1) },
		"SendNowait": func() error { _, err := sc2.SendNowait(1); return err },
		"SendBuffer": func() error { return sc.SendBuffer(context.Background(), []byte("x")) },
		"Select":     func() error { _, _, err := reg.Select(context.Background(), rc, rc2); return err },
		"Bind":       rc.Bind,
		"Release":    sc.Release,
		"Create":     func() error { _, _, err := reg.Create(Options{}); return err },
		"Lookup":     func() error { _, _, err := reg.Lookup(rc.ID()); return err },
		"encode an end": func() error {
			_, err := EncodeMessage([]any{rc})
			return err
		},
	}
	for name, op := range checks {
		err := op()
		require.Error(t, err, name)
		assert.ErrorIs(t, err, errTestShutdown, name)
		assert.NotContains(t, err.Error(), "a second cause", name)
	}
	_, _, err = reg.Lookup(rc.ID())
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, reg.List())
}

// TestRegistryCloseNilCause: a nil cause is ErrClosed.
func TestRegistryCloseNilCause(t *testing.T) {
	reg := NewRegistry()
	reg.Close(nil)
	_, _, err := reg.Create(Options{})
	assert.ErrorIs(t, err, ErrClosed)
}
