package channel

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func newChan(t testing.TB, opts Options) (*Registry, *RecvChannel, *SendChannel) {
	t.Helper()
	reg := NewRegistry()
	rc, sc, err := reg.Create(opts)
	require.NoError(t, err)
	return reg, rc, sc
}

// liveReceivers counts receivers blocked on c.
func (c *channel) liveReceivers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := 0; i < c.recvq.len(); i++ {
		if c.recvq.at(i).w.state.Load() == wWaiting {
			n++
		}
	}
	return n
}

func (c *channel) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queue.len()
}

func (c *channel) waitingForRoom() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendq.len()
}

func (c *channel) bindings() (recv, send int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nrecv, c.nsend
}

// countingFree returns a free func and a pointer to how often it ran.
func countingFree() (func(), *atomic.Int32) {
	n := new(atomic.Int32)
	return func() { n.Add(1) }, n
}
