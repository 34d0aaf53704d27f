package channel

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// gone checks that channel id left the Registry.
func gone(t *testing.T, reg *Registry, id ID) {
	t.Helper()
	assert.NotContains(t, reg.List(), id)
	_, _, err := reg.Lookup(id)
	assert.ErrorIs(t, err, ErrNotFound, "channel %d is still in the registry", id)
}

// present checks that channel id is still open in the Registry.
func present(t *testing.T, reg *Registry, id ID) {
	t.Helper()
	assert.Contains(t, reg.List(), id)
}

// TestSelfReferencingChannelReclaimed: a channel whose own ends wait in
// its own queue is freed once nothing outside that queue holds it, and
// whatever else was queued is released with it.
func TestSelfReferencingChannelReclaimed(t *testing.T) {
	cases := map[string]func(rc *RecvChannel, sc *SendChannel) []any{
		"recv end":       func(rc *RecvChannel, _ *SendChannel) []any { return []any{rc} },
		"send end":       func(_ *RecvChannel, sc *SendChannel) []any { return []any{sc} },
		"both, one each": func(rc *RecvChannel, sc *SendChannel) []any { return []any{rc, sc} },
		"both in one":    func(rc *RecvChannel, sc *SendChannel) []any { return []any{Tuple{rc, sc, rc}} },
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			reg := NewRegistry()
			rc, sc, err := reg.Create(Options{})
			require.NoError(t, err)
			free, freed := countingFree()
			buf := NewBuffer([]byte("payload"), free)
			_, err = sc.SendNowait([]any{"beside the ends", buf})
			require.NoError(t, err)
			buf.Release()
			for _, v := range values(rc, sc) {
				_, err := sc.SendNowait(v)
				require.NoError(t, err)
			}

			require.NoError(t, rc.Release())
			present(t, reg, rc.ID()) // the send end is still held from outside
			require.NoError(t, sc.Release())
			gone(t, reg, rc.ID())
			assert.Equal(t, int32(1), freed.Load(), "the queued buffer is freed")
		})
	}
}

// TestSelfReferenceHeldFromOutside: the ends queued in the channel's own
// queue stay usable while anything outside holds the channel.
func TestSelfReferenceHeldFromOutside(t *testing.T) {
	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = sc.SendNowait(sc)
	require.NoError(t, err)
	require.NoError(t, sc.Release())
	present(t, reg, rc.ID())

	v, err := rc.Recv(context.Background())
	require.NoError(t, err)
	got := v.(*SendChannel)
	require.Same(t, sc, got)
	_, err = got.SendNowait("still works")
	require.NoError(t, err)
	v, err = rc.Recv(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "still works", v)
	require.NoError(t, got.Release()) // the binding the received value carried
	require.NoError(t, rc.Release())
	gone(t, reg, rc.ID())
}

// TestTwoChannelCycleReclaimed: A's end queued in B and B's end queued in
// A keep each other alive only while one of them is held from outside.
func TestTwoChannelCycleReclaimed(t *testing.T) {
	for _, releaseAFirst := range []bool{true, false} {
		reg := NewRegistry()
		ra, sa, err := reg.Create(Options{})
		require.NoError(t, err)
		rb, sb, err := reg.Create(Options{Capacity: 1})
		require.NoError(t, err)
		_, err = sb.SendNowait(ra)
		require.NoError(t, err)
		_, err = sa.SendNowait(Dict{{Key: "b", Value: rb}})
		require.NoError(t, err)
		// A blocked sender waiting for room in B's full queue: its value
		// (B's send end) counts as queued too.
		sendErr := make(chan error, 1)
		go func() { sendErr <- sb.Send(context.Background(), sb) }()
		testutil.WaitUntil(t, "the sender to wait for room", func() bool { return rb.c.waitingForRoom() == 1 })

		first, second := []*RecvChannel{ra}, []*RecvChannel{rb}
		firstS, secondS := []*SendChannel{sa}, []*SendChannel{sb}
		if !releaseAFirst {
			first, second, firstS, secondS = second, first, secondS, firstS
		}
		require.NoError(t, first[0].Release())
		require.NoError(t, firstS[0].Release())
		present(t, reg, first[0].ID()) // reachable through the other's queue
		present(t, reg, second[0].ID())
		require.NoError(t, second[0].Release())
		require.NoError(t, secondS[0].Release())
		gone(t, reg, ra.ID())
		gone(t, reg, rb.ID())
		err, ok := testutil.Receive(t, sendErr, "the blocked Send to return")
		if !ok {
			t.FailNow()
		}
		assert.ErrorIs(t, err, ErrNotReceived)
		assert.ErrorIs(t, err, ErrClosed)
	}
}

// TestCycleReachableFromHeldChannelStays: a cycle whose ends also wait in
// a channel held from outside stays, and can be received and used.
func TestCycleReachableFromHeldChannelStays(t *testing.T) {
	reg := NewRegistry()
	rHeld, sHeld, err := reg.Create(Options{})
	require.NoError(t, err)
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = sc.SendNowait(rc) // the cycle
	require.NoError(t, err)
	_, err = sHeld.SendNowait(sc) // and a way in from outside
	require.NoError(t, err)
	require.NoError(t, rc.Release())
	require.NoError(t, sc.Release())
	present(t, reg, rc.ID())

	v, err := rHeld.Recv(context.Background())
	require.NoError(t, err)
	s := v.(*SendChannel)
	recvEnd, _, err := reg.Lookup(s.ID())
	require.NoError(t, err)
	v, err = recvEnd.Recv(context.Background())
	require.NoError(t, err)
	r := v.(*RecvChannel)
	assert.Same(t, rc, r)
	require.NoError(t, s.Release())
	require.NoError(t, r.Release())
	gone(t, reg, rc.ID())

	require.NoError(t, rHeld.Release())
	require.NoError(t, sHeld.Release())
	gone(t, reg, rHeld.ID())
}

// releaseEnds releases every channel end in a decoded value.
func releaseEnds(t *testing.T, v any) {
	switch x := v.(type) {
	case *RecvChannel:
		assert.NoError(t, x.Release())
	case *SendChannel:
		assert.NoError(t, x.Release())
	case Tuple:
		for _, e := range x {
			releaseEnds(t, e)
		}
	}
}

// TestCyclesReclaimedUnderConcurrency: goroutines pass channel ends
// through the channels themselves (sending, receiving, forwarding
// received Messages untouched), building and breaking cycles; once every
// binding outside the queues is released, the Registry is empty.
func TestCyclesReclaimedUnderConcurrency(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	const nchans, workers, ops = 6, 4, 400
	reg := NewRegistry()
	rs, ss := makeChans(t, reg, nchans)
	ends := func(i int) []any { return []any{rs[i%nchans], ss[i%nchans]} }
	done := make(chan struct{})
	for w := range workers {
		for i := range nchans {
			require.NoError(t, rs[i].Bind())
			require.NoError(t, ss[i].Bind())
		}
		go func() {
			defer func() { done <- struct{}{} }()
			defer func() {
				for i := range nchans {
					assert.NoError(t, rs[i].Release())
					assert.NoError(t, ss[i].Release())
				}
			}()
			seed := uint64(w)*7919 + 1
			next := func(n int) int { // a small LCG: reproducible, no shared state
				seed = seed*6364136223846793005 + 1442695040888963407
				return int(seed>>33) % n
			}
			for range ops {
				to := ss[next(nchans)]
				switch next(4) {
				case 0: // one end
					_, err := to.SendNowait(ends(next(nchans))[next(2)])
					assert.NoError(t, err)
				case 1: // several ends in one value
					e1, e2 := ends(next(nchans)), ends(next(nchans))
					_, err := to.SendNowait(Tuple{e1[0], e2[1], e1[1]})
					assert.NoError(t, err)
				case 2: // receive and drop what came
					v, ok, err := rs[next(nchans)].RecvNowait()
					assert.NoError(t, err)
					if ok {
						releaseEnds(t, v)
					}
				case 3: // receive and forward the Message as it is
					m, ok, err := rs[next(nchans)].RecvMsgNowait()
					assert.NoError(t, err)
					if ok {
						_, err = to.SendMsgNowait(m)
						assert.NoError(t, err)
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	for i := range nchans {
		require.NoError(t, rs[i].Release())
		require.NoError(t, ss[i].Release())
	}
	assert.Empty(t, reg.List())
	for i := range nchans {
		gone(t, reg, rs[i].ID())
	}
}

// TestForwardedMessageClosesCycle: a received Message is the last holder
// of a channel's ends outside any queue; sending it on into that same
// channel makes the cycle, with no release after it.
func TestForwardedMessageClosesCycle(t *testing.T) {
	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	rCarrier, sCarrier, err := reg.Create(Options{})
	require.NoError(t, err)
	_, err = sCarrier.SendNowait(Tuple{rc, sc})
	require.NoError(t, err)
	m, ok, err := rCarrier.RecvMsgNowait()
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, rc.Release())
	require.NoError(t, sc.Release())
	present(t, reg, rc.ID()) // m holds it

	_, send, err := reg.Lookup(rc.ID())
	require.NoError(t, err)
	_, err = send.SendMsgNowait(m)
	require.NoError(t, err)
	gone(t, reg, rc.ID())

	require.NoError(t, rCarrier.Release())
	require.NoError(t, sCarrier.Release())
	assert.Empty(t, reg.List())
}
