package channel

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// TestCycleCheckStaysWithReachableChannels: handing a channel over by
// sending its end through another channel and dropping one's own
// bindings makes the Registry look for unreachable cycles; it looks only
// at the channels reachable from the one handed over, so the handoff
// neither waits for nor stops unrelated channels (here one whose lock is
// held throughout), and its cost does not grow with the runtime's other
// channels and their queues.
func TestCycleCheckStaysWithReachableChannels(t *testing.T) {
	reg := NewRegistry()
	rBusy, sBusy, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = sBusy.SendNowait("queued elsewhere")
	require.NoError(t, err)
	rCarrier, sCarrier, err := reg.Create(Options{})
	require.NoError(t, err)

	rBusy.c.mu.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rc, sc, err := reg.Create(Options{})
		assert.NoError(t, err)
		_, err = sc.SendNowait("payload")
		assert.NoError(t, err)
		_, err = sCarrier.SendNowait(Tuple{rc, sc})
		assert.NoError(t, err)
		assert.NoError(t, rc.Release())
		assert.NoError(t, sc.Release()) // only queued values hold it now
	}()
	if _, ok := testutil.Receive(t, done, "the handoff, which must not wait for an unrelated channel's lock"); !ok {
		t.FailNow()
	}
	rBusy.c.mu.Unlock()

	v, err := rCarrier.Recv(context.Background())
	require.NoError(t, err)
	ends := v.(Tuple)
	got, err := ends[0].(*RecvChannel).Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "payload", got, "the handed-over channel is alive and keeps its value")
	require.NoError(t, ends[0].(*RecvChannel).Release())
	require.NoError(t, ends[1].(*SendChannel).Release())
	gone(t, reg, ends[0].(*RecvChannel).ID())
}
