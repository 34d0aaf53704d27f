package cpython_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// TestSelectClosedNamesChannel: subinterp.select on a closed channel
// raises ChannelClosedError naming the channel's index in the list and
// its id, whether it was closed before the select or while it waited.
func TestSelectClosedNamesChannel(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
(r1, s1), (r2, s2) = subinterp.create_channel(), subinterp.create_channel()
s2.close()
try:
    subinterp.select([r1, r2])
    raise AssertionError("no error")
except subinterp.ChannelClosedError as e:
    assert str(e) == f"select: channels[1]: channel {r2.id}: closed", str(e)
`)

	// Closed from Go while Python waits in select.
	rc, sc, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer rc.Release()
	defer sc.Release()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- in.Exec(bg, `
import subinterp
r0, _ = subinterp.create_channel()
started.send_nowait(None)
try:
    subinterp.select([r0, r])
    raise AssertionError("no error")
except subinterp.ChannelClosedError as e:
    assert str(e) == want, str(e)
`, cpython.WithGlobals(map[string]any{
			"r":       rc,
			"want":    fmt.Sprintf("select: channels[1]: channel %d: closed", rc.ID()),
			"started": startedEnd(t, started),
		}))
	}()
	<-started
	require.NoError(t, sc.Close())
	require.NoError(t, <-done)
}

// startedEnd returns a send end whose first value closes started.
func startedEnd(t *testing.T, started chan struct{}) *channel.SendChannel {
	t.Helper()
	rc, sc, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Release(); _ = sc.Release() })
	go func() {
		if _, err := rc.Recv(bg); err == nil {
			close(started)
		}
	}()
	return sc
}
