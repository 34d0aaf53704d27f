package cpython_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestPoolQueuedTasksRenewal: queued callers are served in order by the
// interpreter that frees up, until it reaches MaxTasksPerInterpreter: then
// it is not handed on but renewed, and the rest are served by its
// replacement.
func TestPoolQueuedTasksRenewal(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: 3})
	g := newGate(t)
	held := holdAll(t, p, g) // task 1 of the first interpreter
	const n = 4
	ids := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := p.Eval(bg, "ME")
			assert.NoError(t, err)
			ids[i] = v
		})
		waitUntil(t, fmt.Sprintf("%d callers are queued", i+1), func() bool { return p.Stats().Queued == i+1 })
	}
	g.open(t)
	wg.Wait()
	first := <-held
	require.IsType(t, int64(0), first)
	assert.Equal(t, []any{first, first}, ids[:2], "tasks 2 and 3 ran on the first interpreter")
	assert.NotEqual(t, first, ids[2], "the first interpreter was renewed after 3 tasks")
	assert.Equal(t, ids[2], ids[3], "the replacement serves the rest")
	waitFull(t, p)
	s := p.Stats()
	assert.Equal(t, cpython.ReplaceCounts{MaxTasks: 1}, s.Replacements)
	assert.Equal(t, uint64(n+1), s.Completed)
	assert.Equal(t, 0, s.Queued)
}
