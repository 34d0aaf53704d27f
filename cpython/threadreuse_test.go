package cpython_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestThreadsOfClosedInterpreters: before CPython 3.14 a closed
// interpreter's OS thread goes back to Go, so interpreters created one
// after another run on a few reused threads (a new thread per own-GIL
// interpreter costs ~0.27 MB more RSS per interpreter there); from 3.14
// each gets a new thread, which ends with it (docs/memory.md).
func TestThreadsOfClosedInterpreters(t *testing.T) {
	const n = 20
	seen := map[int64]bool{}
	for range n {
		in, err := rt.NewInterpreter(cpython.IsolatedConfig())
		require.NoError(t, err)
		id, err := in.Eval(bg, "__import__('_thread').get_native_id()")
		require.NoError(t, err)
		require.NoError(t, in.Close())
		seen[id.(int64)] = true
	}
	v, err := rt.Main().Eval(bg, "__import__('sys').version_info[:2] >= (3, 14)")
	require.NoError(t, err)
	if v.(bool) {
		assert.Len(t, seen, n, "a new OS thread for each interpreter")
	} else {
		assert.Less(t, len(seen), n/2, "distinct OS threads for %d interpreters in a row", n)
	}
}
